// The api: products as JSON. PORT comes from slipway (process runtime) or the container's port.
import { readFileSync } from "node:fs";
import http from "node:http";
import { listProducts, loadProducts } from "./catalog.js";

// The release's version: VERSION beside the service (written when a release is staged), else APP_VERSION.
const version = (() => {
  try {
    return readFileSync(new URL("../VERSION", import.meta.url), "utf8").trim();
  } catch {
    return process.env.APP_VERSION ?? "dev";
  }
})();
const products = listProducts(loadProducts());
const instance = process.env.SLIPWAY_INSTANCE ?? `pid-${process.pid}`;

const server = http.createServer((req, res) => {
  const headers = { "x-app-version": version, "x-instance": instance };
  if (req.url === "/healthz") {
    res.writeHead(200, { ...headers, "content-type": "text/plain" });
    return res.end("ok\n");
  }
  if (req.url === "/products") {
    res.writeHead(200, { ...headers, "content-type": "application/json" });
    return res.end(JSON.stringify({ version, products }));
  }
  if (req.url === "/") {
    res.writeHead(200, { ...headers, "content-type": "application/json" });
    return res.end(JSON.stringify({ service: "api", version, instance }));
  }
  res.writeHead(404, { ...headers, "content-type": "text/plain" });
  res.end("not found\n");
});
server.keepAliveTimeout = 30_000;
const port = Number(process.env.PORT ?? 3001);
server.listen(port, "127.0.0.1", () => console.log(`api ${version} listening on 127.0.0.1:${port}`));

// Finish what is in flight, then go: slipway has already taken traffic away from this instance.
process.on("SIGTERM", () => {
  console.log("api: SIGTERM, closing");
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 2000).unref();
});
