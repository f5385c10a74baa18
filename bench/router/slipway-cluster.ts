// An experiment, not a supported mode: slipway's router in N cluster workers sharing one port
// (each worker its own router and counters). Prints "ready <port>" once every worker listens.
import cluster from "node:cluster";
import { createRouter } from "../../src/traffic/index.js";

const workers = Number(process.argv[3] ?? 2);
if (cluster.isPrimary) {
  let ready = 0;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on("message", (_w, msg: { port: number }) => {
    if (++ready === workers) console.log(`ready ${msg.port}`);
  });
  process.on("SIGTERM", () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    process.exit(0);
  });
} else {
  const port = Number(process.env.ROUTER_PORT ?? 0);
  const router = await createRouter("node", { listen: { host: "127.0.0.1", port }, name: "bench" });
  router.configure({
    backends: { v1: [{ id: "backend", url: process.argv[2] }] },
    routes: { weights: { v1: 100 } },
  });
  process.send?.({ port: router.address.port });
}
