// actions/setup-python stand-in, post step (runs only when the job succeeded, like the real one).
const path = require("path");
const core = require(path.join(process.env.MLSHIP_ACT_HARNESS, "actions", "toolkit.js"));

const cache = core.getInput("cache");
if (cache) {
  console.log(`setup-python stand-in post: GitHub would save the ${cache} cache for ${core.getInput("cache-dependency-path") || "its default files"}`);
}
