// actions/setup-python stand-in, main step: the prepared virtualenv becomes the job's Python.
const path = require("path");
const { execFileSync } = require("child_process");
const core = require(path.join(process.env.MLSHIP_ACT_HARNESS, "actions", "toolkit.js"));

function main() {
  for (const name of ["python-version-file", "pip-version"]) {
    if (core.getInput(name)) return core.setFailed(`setup-python stand-in: ${name} is not supported offline`);
  }
  if (core.getBooleanInput("freethreaded")) return core.setFailed("setup-python stand-in: no free-threaded Python offline");
  const venv = process.env.MLSHIP_ACT_VENV;
  const python = path.join(venv, "bin", "python");
  const version = execFileSync(python, ["-c", "import platform; print(platform.python_version())"], { encoding: "utf8" }).trim();
  const wanted = core.getInput("python-version");
  if (wanted && !`${version}.`.startsWith(`${wanted}.`)) {
    return core.setFailed(`setup-python stand-in: the prepared interpreter is ${version}, not ${wanted}`);
  }
  core.exportVariable("VENV", venv);
  core.exportVariable("PYTHONPATH", path.join(process.env.GITHUB_WORKSPACE, "src"));
  core.addPath(path.join(venv, "bin"));
  core.setOutput("python-version", version);
  core.setOutput("python-path", python);
  core.setOutput("cache-hit", "false");
  console.log(`setup-python stand-in: Python ${version} from ${venv}`);
}

main();
