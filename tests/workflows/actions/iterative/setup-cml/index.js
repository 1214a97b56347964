// iterative/setup-cml stand-in: installs the recording `cml` (tests/workflows/cml_standin.py).
const fs = require("fs");
const path = require("path");
const core = require(path.join(process.env.MLSHIP_ACT_HARNESS, "actions", "toolkit.js"));

function main() {
  const version = core.getInput("version");
  // v2.0.1 asks GitHub for the release tagged `version`, adding a missing `v`.
  if (version !== "latest" && !/^v?\d+\.\d+\.\d+$/.test(version)) {
    return core.setFailed(`setup-cml stand-in: no CML release is tagged ${version}`);
  }
  if (core.getBooleanInput("vega")) console.log("setup-cml stand-in: the real action would npm-install Vega's tools");
  const bin = path.join(process.env.RUNNER_TEMP, "cml-bin");
  fs.mkdirSync(bin, { recursive: true });
  fs.copyFileSync(path.join(process.env.MLSHIP_ACT_HARNESS, "cml_standin.py"), path.join(bin, "cml"));
  fs.chmodSync(path.join(bin, "cml"), 0o755);
  core.addPath(bin);
  console.log(`setup-cml stand-in: cml ${version.startsWith("v") || version === "latest" ? version : `v${version}`}`);
}

main();
