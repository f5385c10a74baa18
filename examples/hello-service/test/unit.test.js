const test = require("node:test");
const assert = require("node:assert");
const { createServer } = require("../server.js");

test("createServer returns an http server", () => {
  const server = createServer("1.0.0");
  assert.strictEqual(typeof server.listen, "function");
});
