// actions/checkout stand-in: main clones the scenario repository at `ref`; post (the real
// action removes the credentials it wrote) has nothing to remove, as main writes none.
const path = require("path");
const core = require(path.join(process.env.MLSHIP_ACT_HARNESS, "actions", "toolkit.js"));

const UNSUPPORTED = { "ssh-key": "", "ssh-known-hosts": "", path: "", filter: "",
  "sparse-checkout": "", lfs: "false", submodules: "false", "allow-unsafe-pr-checkout": "false" };

function main() {
  for (const [name, neutral] of Object.entries(UNSUPPORTED)) {
    if (core.getInput(name) !== neutral) return core.setFailed(`checkout stand-in: ${name} is not supported offline`);
  }
  const repository = core.getInput("repository");
  if (repository && repository !== process.env.GITHUB_REPOSITORY) {
    return core.setFailed(`checkout stand-in cannot fetch ${repository} offline`);
  }
  const ref = core.getInput("ref") || process.env.GITHUB_SHA;
  const workspace = process.env.GITHUB_WORKSPACE;
  if (core.run("git", ["clone", "--quiet", "--no-checkout", process.env.MLSHIP_ACT_REPO, workspace]) !== 0
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
