// The web front end: renders the shop page from the api, which it reaches through slipway's router
// (API_URL), so an api release never breaks it.
import { readFileSync } from "node:fs";
import http from "node:http";
import { renderPage } from "./render.js";

const version = (() => {
  try {
    return readFileSync(new URL("../VERSION", import.meta.url), "utf8").trim();
  } catch {
    return process.env.APP_VERSION ?? "dev";
  }
})();
const apiUrl = process.env.API_URL ?? "http://127.0.0.1:3001";
const instance = process.env.SLIPWAY_INSTANCE ?? `pid-${process.pid}`;

async function page() {
  const res = await fetch(`${apiUrl}/products`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`api answered ${res.status}`);
  const body = await res.json();
  return renderPage({ webVersion: version, apiVersion: body.version, products: body.products });
}

const server = http.createServer((req, res) => {
  const headers = { "x-app-version": version, "x-instance": instance };
  if (req.url === "/healthz") {
    res.writeHead(200, { ...headers, "content-type": "text/plain" });
    return res.end("ok\n");
  }
  if (req.url !== "/") {
    res.writeHead(404, { ...headers, "content-type": "text/plain" });
    return res.end("not found\n");
  }
  page().then(
    (html) => {
      res.writeHead(200, { ...headers, "content-type": "text/html; charset=utf-8" });
      res.end(html);
    },
    (err) => {
      res.writeHead(502, { ...headers, "content-type": "text/plain" });
      res.end(`the api is unavailable: ${err.message}\n`);
    },
  );
});
server.keepAliveTimeout = 30_000;
const port = Number(process.env.PORT ?? 3000);
server.listen(port, "127.0.0.1", () => console.log(`web ${version} listening on 127.0.0.1:${port} (api: ${apiUrl})`));

process.on("SIGTERM", () => {
  console.log("web: SIGTERM, closing");
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 2000).unref();
});
