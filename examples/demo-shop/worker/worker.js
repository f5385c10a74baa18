// The worker: no port, no traffic; every few seconds it checks the catalogue through the api's router
// URL and logs what it saw (a stand-in for a queue consumer). slipway restarts it if it dies.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const apiUrl = process.env.API_URL ?? "http://127.0.0.1:3001";
const everyMs = Number(process.env.CHECK_EVERY_MS ?? 2000);

export function summarize(body) {
  const onSale = body.products.filter((p) => p.salePrice < p.price).length;
  return `api ${body.version}: ${body.products.length} products, ${onSale} on sale`;
}

async function check() {
  try {
    const res = await fetch(`${apiUrl}/products`, { signal: AbortSignal.timeout(5000) });
    console.log(res.ok ? summarize(await res.json()) : `api answered ${res.status}`);
  } catch (err) {
    console.log(`api unreachable: ${err.message}`);
  }
}

// Imported by its test, it only exports; run as a program, it works.
if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const timer = setInterval(check, everyMs);
  void check();
  process.on("SIGTERM", () => {
    clearInterval(timer);
    console.log("worker: SIGTERM, done");
    process.exit(0);
  });
}
