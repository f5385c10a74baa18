// A small HTTP service for the deploy tests: answers with its version and instance, has a health
// endpoint that can be made slow or failing through the environment, and can be told to crash.
import { appendFileSync, readFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";

const port = Number(process.env.PORT);
const version = process.env.APP_VERSION ?? "v1";
const readyAfter = Number(process.env.READY_AFTER_MS ?? 0);
const started = Date.now();
const volume = process.env.SLIPWAY_VOLUME_DATA;
if (volume) appendFileSync(join(volume, "boots.log"), `${version}\n`);
if (process.env.EXIT_AT_START) process.exit(Number(process.env.EXIT_AT_START));

const server = http.createServer((req, res) => {
  if (req.url === "/healthz") {
    const ok = process.env.FAIL_HEALTH !== "1" && Date.now() - started >= readyAfter;
    res.writeHead(ok ? 200 : 503);
    return res.end(ok ? "ok" : "not ready");
  }
  if (req.url === "/crash") {
    res.end("bye");
    setTimeout(() => process.exit(3), 10);
    return;
  }
  if (process.env.ERROR_RATE && Math.random() < Number(process.env.ERROR_RATE)) {
    res.writeHead(500);
    return res.end(`${version} failed on purpose`);
  }
  if (req.url === "/boots") return res.end(volume ? readFileSync(join(volume, "boots.log"), "utf8") : "");
  if (req.url === "/flavor") {
    try {
      return res.end(readFileSync("flavor.txt", "utf8"));
    } catch {
      return res.end("(none)");
    }
  }
  if (req.url?.startsWith("/log?")) {
    // Writes N numbered lines to stdout (the logs tests follow them across rotations).
    const q = new URL(req.url, "http://x").searchParams;
    const n = Number(q.get("n") ?? 1);
    for (let i = 1; i <= n; i++) console.log(`${q.get("tag") ?? "say"} ${i}`);
    return res.end(`logged ${n}`);
  }
  if (req.url === "/secret") return res.end(process.env.DB_PASSWORD ?? "(none)");
  res.writeHead(200, { "content-type": "text/plain" });
  res.end(`${version} ${process.env.SLIPWAY_INSTANCE}\n`);
});
server.keepAliveTimeout = 30_000;
server.listen(port, "127.0.0.1", () => console.log(`${version} listening on ${port}`));
process.on("SIGTERM", () => {
  console.log("SIGTERM: closing");
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
});
