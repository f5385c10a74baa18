// slipway's HAProxy router (createHaproxyRouter: a haproxy process driven through its runtime API, a
// log line per request back to this process) in front of the backend given as argv[2]. Prints
// "ready <port>". With argv[3] = N (ms): two versions, blue and green, each one instance at that
// backend, and the whole traffic switched from one to the other every N ms with setRoutes().
import { createHaproxyRouter } from "../../src/traffic/index.js";

const backend = process.argv[2];
const flipMs = Number(process.argv[3] ?? 0);
const router = await createHaproxyRouter({
  listen: { host: "127.0.0.1", port: 0 },
  name: "bench",
  threads: 1,
});
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
await router.settled();
console.log(`ready ${router.address.port}`);
process.on("SIGTERM", () => {
  const line = router
    .versions()
    .map((v) => {
      const s = router.stats(v);
      return `${v}: ${s.requests} requests, ${s.failed} failed, ${s.retries} retries, p99 ${s.window.latency.p99} ms`;
    })
    .join("; ");
  console.error(`slipway HAProxy router${flipMs > 0 ? " (switching)" : ""}: ${line}`);
  void router.close({ timeoutMs: 1000 }).then(() => process.exit(0));
});
