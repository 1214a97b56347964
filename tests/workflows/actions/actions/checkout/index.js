// actions/checkout stand-in: main clones the scenario repository at `ref`; post (the real
// action removes the credentials it wrote) has nothing to remove, as main writes none.
const fs = require("fs");
const path = require("path");
const core = require(path.join(process.env.MLSHIP_ACT_HARNESS, "actions", "toolkit.js"));

const PR_REF = /^refs\/pull\/[0-9]+\/(?:head|merge)$/;

// v7's guard (src/unsafe-pr-checkout-helper.ts): from a workflow_run or pull_request_target run,
// refuse to check out a fork PR's repository, PR ref or head commit; the message is upstream's.
function assertSafePrCheckout(repository, ref, commit) {
  const eventName = process.env.GITHUB_EVENT_NAME;
  if (core.getBooleanInput("allow-unsafe-pr-checkout")) return true;
  if (eventName !== "pull_request_target" && eventName !== "workflow_run") return true;
  const payload = JSON.parse(fs.readFileSync(process.env.GITHUB_EVENT_PATH, "utf8"));
  const get = (dotted) => dotted.split(".").reduce((value, key) => (value == null ? undefined : value[key]), payload);
  if (typeof get("repository.id") !== "number") return true;
  let headId; let headName; const shas = [];
  if (eventName === "pull_request_target") {
    headId = get("pull_request.head.repo.id"); headName = get("pull_request.head.repo.full_name");
    shas.push(get("pull_request.head.sha"), get("pull_request.merge_commit_sha"));
  } else {
    const triggeredBy = get("workflow_run.event");
    if (typeof triggeredBy !== "string" || !triggeredBy.startsWith("pull_request")) return true;
    headId = get("workflow_run.head_repository.id"); headName = get("workflow_run.head_repository.full_name");
    shas.push(get("workflow_run.head_commit.id"));
    if (triggeredBy !== "pull_request_target") shas.push(get("workflow_run.head_sha"));
  }
  if (typeof headId !== "number" || headId === get("repository.id")) return true;
  const prShas = shas.filter((sha) => typeof sha === "string" && sha).map((sha) => sha.toLowerCase());
  if ((typeof headName !== "string" || repository.toLowerCase() !== headName.toLowerCase())
    && !PR_REF.test(ref) && !(commit && prShas.includes(commit.toLowerCase()))) return true;
  core.setFailed(`Refusing to check out fork pull request code from a '${eventName}' workflow. `
    + "This workflow runs with the base repository's GITHUB_TOKEN, secrets, default-branch "
    + "cache scope, and runner access. Fetching and executing a fork's code in that trusted "
    + 'context commonly leads to "pwn request" vulnerabilities. To opt in, review the risks '
    + "at https://gh.io/securely-using-pull_request_target and set 'allow-unsafe-pr-checkout: true' "
    + "on the actions/checkout step.");
  return false;
}

const UNSUPPORTED = { "ssh-key": "", "ssh-known-hosts": "", path: "", filter: "",
  "sparse-checkout": "", lfs: "false", submodules: "false" };

function main() {
  for (const [name, neutral] of Object.entries(UNSUPPORTED)) {
    if (core.getInput(name) !== neutral) return core.setFailed(`checkout stand-in: ${name} is not supported offline`);
  }
  const repository = core.getInput("repository");
  if (repository && repository !== process.env.GITHUB_REPOSITORY) {
    return core.setFailed(`checkout stand-in cannot fetch ${repository} offline`);
  }
  const given = core.getInput("ref");
  const isSha = /^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/.test(given);
  if (given && !assertSafePrCheckout(repository, isSha ? "" : given, isSha ? given : "")) return;
  const ref = given || process.env.GITHUB_SHA;
  const workspace = process.env.GITHUB_WORKSPACE;
  // A clone brings branches and tags; other refs (refs/pull/N/head) are fetched by name.
  if (core.run("git", ["clone", "--quiet", "--no-checkout", process.env.MLSHIP_ACT_REPO, workspace]) !== 0
    || (/^refs\/(?!heads\/|tags\/)/.test(ref) && core.run("git", ["-C", workspace, "fetch", "--quiet", "origin", `+${ref}:${ref}`]) !== 0)
    || core.run("git", ["-C", workspace, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--force", ref]) !== 0) {
    return core.setFailed(`checkout stand-in: cannot check out ${ref}`);
  }
  const commit = require("child_process").execFileSync("git", ["-C", workspace, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
  core.setOutput("ref", ref);
  core.setOutput("commit", commit);
  core.saveState("isPost", "true");
  console.log(`checkout stand-in: ${commit} (${ref})`);
}

if (core.getState("isPost")) {
  console.log("checkout stand-in post: no credentials were written, none to remove");
} else {
  main();
}
