// slipway's router in its own process in front of the backend given as argv[2]. Prints "ready <port>".
// With argv[3] = N (ms): two versions, blue and green, each one instance at that backend, and the
// whole traffic switched from one to the other every N ms (the reconfiguration-under-load run).
import { createRouter } from "../../src/traffic/index.js";

const backend = process.argv[2];
const flipMs = Number(process.argv[3] ?? 0);
const router = await createRouter("node", { listen: { host: "127.0.0.1", port: 0 }, name: "bench" });
if (flipMs > 0) {
  router.configure({
    backends: { blue: [{ id: "blue-1", url: backend }], green: [{ id: "green-1", url: backend }] },
    routes: { weights: { blue: 100, green: 0 } },
  });
  let blue = true;
  setInterval(() => {
    blue = !blue;
    router.setRoutes({ weights: { blue: blue ? 100 : 0, green: blue ? 0 : 100 } });
  }, flipMs);
} else {
  router.configure({ backends: { v1: [{ id: "backend", url: backend }] }, routes: { weights: { v1: 100 } } });
}
console.log(`ready ${router.address.port}`);
process.on("SIGTERM", () => {
  const line = router
    .versions()
    .map((v) => {
      const s = router.stats(v);
      return `${v}: ${s.requests} requests, ${s.failed} failed, ${s.retries} retries`;
    })
    .join("; ");
  console.error(`slipway router${flipMs > 0 ? " (switching)" : ""}: ${line}`);
  process.exit(0);
});
