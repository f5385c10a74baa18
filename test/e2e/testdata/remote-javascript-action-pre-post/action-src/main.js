const fs = require("fs");
const path = require("path");
const version = process.env.INPUT_VERSION;
const dir = path.join(process.env.RUNNER_TEMP, "toolchain", version);
fs.mkdirSync(dir, { recursive: true });
console.log(`main: installing toolchain ${version} (cache=${process.env.INPUT_CACHE}) from ${process.env.GITHUB_ACTION_REPOSITORY}`);
fs.appendFileSync(process.env.GITHUB_OUTPUT, `path=${dir}\n`);
fs.appendFileSync(process.env.GITHUB_STATE, `installed=${version}\n`);
fs.appendFileSync(process.env.GITHUB_PATH, `${dir}\n`);
