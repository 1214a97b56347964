// actions/download-artifact stand-in: fetches one named artifact from the shared store.
const path = require("path");
const core = require(path.join(process.env.MLSHIP_ACT_HARNESS, "actions", "toolkit.js"));

function main() {
  if (!core.getInput("name")) return core.setFailed("download-artifact stand-in: give a name (downloading all is not supported)");
  for (const name of ["artifact-ids", "pattern"]) {
    if (core.getInput(name)) return core.setFailed(`download-artifact stand-in: ${name} is not supported offline`);
  }
  if (core.getBooleanInput("skip-decompress")) return core.setFailed("download-artifact stand-in: skip-decompress is not supported");
  const repository = core.getInput("repository");
  if (repository !== process.env.GITHUB_REPOSITORY) return core.setFailed(`download-artifact stand-in: cannot reach ${repository} offline`);
  const destination = path.resolve(process.env.GITHUB_WORKSPACE, core.getInput("path") || ".");
  process.exitCode = core.run("python3", [path.join(process.env.MLSHIP_ACT_HARNESS, "artifact_store.py")], {
    ARTIFACT_OP: "download",
    ARTIFACT_NAME: core.getInput("name"),
    ARTIFACT_PATH: destination,
    ARTIFACT_RUN_ID: core.getInput("run-id"),
    ARTIFACT_TOKEN_GIVEN: String(Boolean(core.getInput("github-token"))),
  });
  if (!process.exitCode) core.setOutput("download-path", destination);
}

main();
