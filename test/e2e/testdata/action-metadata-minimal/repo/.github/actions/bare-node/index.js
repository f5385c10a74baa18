const fs = require("node:fs");
console.log(`bare node action got ${process.env.INPUT_WORD}`);
fs.appendFileSync(process.env.GITHUB_OUTPUT, "said=yes\n");
