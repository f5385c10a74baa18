// The service bench/deploy.ts deploys: a small HTTP server that answers with its version, like an app
// that takes a moment to start (STARTUP_DELAY_MS before it listens: loading config, warming caches) and
// stops gracefully on SIGTERM (no new connections, in-flight requests finish, then exit).
// Environment: PORT (slipway gives it), APP_VERSION (v1), STARTUP_DELAY_MS (1500), FAIL_HEALTH=1 makes
// /healthz answer 503 forever (a release that never gets ready), SLIPWAY_INSTANCE (set by slipway).
import http from "node:http";

const say = (line) => console.log(`${new Date().toISOString()} ${line}`);

const port = Number(process.env.PORT);
const version = process.env.APP_VERSION ?? "v1";
const instance = process.env.SLIPWAY_INSTANCE ?? `pid-${process.pid}`;
const startupDelayMs = Number(process.env.STARTUP_DELAY_MS ?? 1500);
const failHealth = process.env.FAIL_HEALTH === "1";
if (!Number.isInteger(port) || port <= 0) {
  console.error("PORT must be set to the port to listen on");
  process.exit(2);
}

let stopping = false;
const server = http.createServer((req, res) => {
  // Once stopping, every response tells the client not to reuse the connection.
  if (stopping) res.setHeader("connection", "close");
  if (req.url === "/healthz") {
    res.writeHead(failHealth ? 503 : 200, { "content-type": "text/plain" });
    res.end(failHealth ? "unhealthy\n" : "ok\n");
    return;
  }
  res.writeHead(200, { "content-type": "text/plain" });
  res.end(`${version} ${instance}\n`);
});
// Longer than the router's or the load generator's idle time, so the app never closes a keep-alive
// connection under a client that is about to reuse it.
server.keepAliveTimeout = 65_000;

setTimeout(() => {
  server.listen(port, "127.0.0.1", () => say(`${version} listening on 127.0.0.1:${port}`));
}, startupDelayMs);

process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  say(`${version}: SIGTERM, finishing in-flight requests`);
  // close() stops accepting and ends idle keep-alive connections; a busy one ends after its response
  // (connection: close above), and whatever is left after 5 s is cut.
  server.close(() => {
    say(`${version}: stopped`);
    process.exit(0);
  });
  server.closeIdleConnections();
  setInterval(() => server.closeIdleConnections(), 50).unref();
  setTimeout(() => {
    say(`${version}: connections still open after 5 s, exiting`);
    process.exit(0);
  }, 5000).unref();
});
