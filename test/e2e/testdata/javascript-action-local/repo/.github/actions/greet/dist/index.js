const fs = require("fs");
const name = process.env.INPUT_NAME;
const greeting = process.env.INPUT_GREETING;
if (!name) {
  console.log("::error::Input required and not supplied: name");
  process.exit(1);
}
const message = `${greeting}, ${name}!`;
console.log(message);
fs.appendFileSync(process.env.GITHUB_OUTPUT, `message=${message}\n`);
fs.appendFileSync(process.env.GITHUB_STATE, `greeted=${name}\n`);
