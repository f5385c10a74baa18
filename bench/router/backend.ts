// The service behind every proxy in the router benchmark: a plain Node HTTP server, one process,
// answering a small fixed body with keep-alive (Node's defaults). Prints "ready <port>" once listening.
import http from "node:http";
import type { AddressInfo } from "node:net";

const body = Buffer.from("hello from the backend\n");
const server = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
  res.end(body);
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  console.log(`ready ${(server.address() as AddressInfo).port}`);
});
process.on("SIGTERM", () => process.exit(0));
