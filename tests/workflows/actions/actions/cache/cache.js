// actions/cache stand-in: restore.js (main step) and save.js (post step) call into this file, as
// do the sub-actions actions/cache/restore (restore-only.js) and actions/cache/save (save.js).
const fs = require("fs");
const path = require("path");

const store = process.env.MLSHIP_ACT_CACHE;
const lines = (value) => (value || "").split("\n").map((s) => s.trim()).filter(Boolean);
const key = process.env.INPUT_KEY;
const paths = lines(process.env.INPUT_PATH);
const restoreKeys = lines(process.env["INPUT_RESTORE-KEYS"]);

function log(entry) {
  fs.mkdirSync(store, { recursive: true });
  fs.appendFileSync(path.join(store, "log.jsonl"), JSON.stringify(entry) + "\n");
}

function entries() {
  if (!fs.existsSync(store)) return [];
  return fs
    .readdirSync(store)
    .filter((name) => fs.existsSync(path.join(store, name, "meta.json")))
    .map((name) => ({ dir: path.join(store, name), ...JSON.parse(fs.readFileSync(path.join(store, name, "meta.json"))) }))
    .sort((a, b) => b.saved - a.saved);
}

function restore({ only = false } = {}) {
  const all = entries();
  let entry = all.find((e) => e.key === key);
  const exact = Boolean(entry);
  for (const prefix of restoreKeys) {
    if (entry) break;
    entry = all.find((e) => e.key.startsWith(prefix));
  }
  if (!entry && process.env["INPUT_FAIL-ON-CACHE-MISS"] === "true") {
    log({ op: "restore", key, matched: null, exact });
    console.log(`::error::Failed to restore cache entry. Exiting as fail-on-cache-miss is set. Input key: ${key}`);
    process.exitCode = 1;
    return;
  }
  if (entry && process.env["INPUT_LOOKUP-ONLY"] !== "true") {
    paths.forEach((p, i) => {
      const source = path.join(entry.dir, String(i));
      if (fs.existsSync(source)) fs.cpSync(source, p, { recursive: true });
    });
  }
  fs.appendFileSync(process.env.GITHUB_OUTPUT, `cache-hit=${exact}\n`);
  if (only) {
    // actions/cache/restore's own outputs (its post-less run leaves saving to actions/cache/save).
    const matched = entry ? entry.key : "";
    fs.appendFileSync(process.env.GITHUB_OUTPUT, `cache-primary-key=${key}\ncache-matched-key=${matched}\n`);
  }
  // Like the real action, the post step saves under the key computed now, not a re-evaluated one.
  fs.appendFileSync(process.env.GITHUB_STATE, `key=${key}\n`);
  log({ op: "restore", key, matched: entry ? entry.key : null, exact });
  console.log(entry ? `Cache restored from key: ${entry.key}` : `Cache not found for key: ${key}`);
}

function save() {
  const key = process.env.STATE_key || process.env.INPUT_KEY;
  if (entries().some((e) => e.key === key)) {
    console.log(`Cache hit occurred on the primary key ${key}, not saving cache.`);
    return;
  }
  const dir = path.join(store, key.replace(/[^A-Za-z0-9._-]/g, "_"));
  fs.rmSync(dir, { recursive: true, force: true });
  paths.forEach((p, i) => {
    if (fs.existsSync(p)) fs.cpSync(p, path.join(dir, String(i)), { recursive: true });
  });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "meta.json"), JSON.stringify({ key, saved: Date.now() }));
  log({ op: "save", key });
  console.log(`Cache saved with key: ${key}`);
}

module.exports = { restore, save };
