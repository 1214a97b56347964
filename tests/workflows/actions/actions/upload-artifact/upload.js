// actions/upload-artifact stand-in: hands the inputs to the shared artifact store.
const path = require("path");
const core = require(path.join(process.env.MLSHIP_ACT_HARNESS, "actions", "toolkit.js"));

if (!core.getBooleanInput("archive")) {
  core.setFailed("upload-artifact stand-in: archive: false is not supported offline");
} else {
  process.exitCode = core.run("python3", [path.join(process.env.MLSHIP_ACT_HARNESS, "artifact_store.py")], {
    ARTIFACT_OP: "upload",
    ARTIFACT_NAME: core.getInput("name"),
    ARTIFACT_PATH: core.getInput("path"),
    ARTIFACT_IF_NO_FILES: core.getInput("if-no-files-found"),
    ARTIFACT_OVERWRITE: String(core.getBooleanInput("overwrite")),
    ARTIFACT_HIDDEN: String(core.getBooleanInput("include-hidden-files")),
  });
}
