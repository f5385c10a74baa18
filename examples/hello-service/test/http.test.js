const test = require("node:test");
const assert = require("node:assert");
const { createServer } = require("../server.js");

test("answers with its version and a health check", async () => {
  const server = createServer("9.9.9");
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  try {
    const body = await (await fetch(`http://127.0.0.1:${port}/`)).json();
    assert.deepStrictEqual(body, { message: "hello", version: "9.9.9" });
    assert.strictEqual(await (await fetch(`http://127.0.0.1:${port}/healthz`)).text(), "ok\n");
  } finally {
    server.close();
  }
});
