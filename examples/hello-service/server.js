// A tiny HTTP service: the example slipway builds, tests and (later) deploys.
const http = require("node:http");

function createServer(version = process.env.APP_VERSION || "dev") {
  return http.createServer((req, res) => {
    if (req.url === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok\n");
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ message: "hello", version }));
  });
}

module.exports = { createServer };

if (require.main === module) {
  const port = Number(process.env.PORT || 8080);
  createServer().listen(port, "127.0.0.1", () => console.log(`hello-service listening on 127.0.0.1:${port}`));
}
