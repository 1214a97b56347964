// The few @actions/core calls the JavaScript stand-ins need, done as the runner defines them:
// inputs arrive as INPUT_<NAME> variables, and outputs, state, env and PATH additions are lines
// appended to the files GITHUB_OUTPUT, GITHUB_STATE, GITHUB_ENV and GITHUB_PATH name. Each
// stand-in loads this file from MLSHIP_ACT_HARNESS (act copies an action's directory alone).
const fs = require("fs");
const { spawnSync } = require("child_process");

function getInput(name) {
  return (process.env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] || "").trim();
}

function getBooleanInput(name) {
  const value = getInput(name);
  if (["true", "True", "TRUE"].includes(value)) return true;
  if (["false", "False", "FALSE"].includes(value)) return false;
  throw new TypeError(`Input does not meet YAML 1.2 "Core Schema" specification: ${name}`);
}

const append = (variable, line) => fs.appendFileSync(process.env[variable], `${line}\n`);
const setOutput = (name, value) => append("GITHUB_OUTPUT", `${name}=${value}`);
const saveState = (name, value) => append("GITHUB_STATE", `${name}=${value}`);
const getState = (name) => process.env[`STATE_${name}`] || "";
const exportVariable = (name, value) => append("GITHUB_ENV", `${name}=${value}`);
const addPath = (dir) => append("GITHUB_PATH", dir);

function setFailed(message) {
  console.log(`::error::${message}`);
  process.exitCode = 1;
}

// Run a command with the step's environment plus `env`; its output is the step's output.
function run(command, args, env = {}) {
  const result = spawnSync(command, args, { stdio: "inherit", env: { ...process.env, ...env } });
  if (result.error) throw result.error;
  return result.status;
}

module.exports = {
  getInput, getBooleanInput, setOutput, saveState, getState, exportVariable, addPath, setFailed, run,
};
