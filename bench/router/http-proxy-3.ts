// The library baseline: http-proxy-3 (the maintained fork of node-http-proxy) with a keep-alive agent
// and X-Forwarded headers, nothing else. Prints "ready <port>" once listening.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createProxyServer } from "http-proxy-3";

const target = new URL(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, scheduling: "lifo", maxFreeSockets: 1024 });
const proxy = createProxyServer({ xfwd: true });
proxy.on("error", (_err, _req, res) => {
  if ("writeHead" in res && !res.headersSent) res.writeHead(502);
  res.end();
});
const server = http.createServer((req, res) => proxy.web(req, res, { target, agent }));
server.listen(0, "127.0.0.1", () => console.log(`ready ${(server.address() as AddressInfo).port}`));
process.on("SIGTERM", () => process.exit(0));
