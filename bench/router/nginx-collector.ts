// The other half of "nginx driven by slipway": the UDP syslog endpoint nginx sends one JSON line per
// request to, counted per version as slipway would. Prints "ready <port>"; its CPU time is charged to
// the nginx-driven target.
import { createSocket } from "node:dgram";
import { parseNginxLogLine } from "./nginx-driven.js";

const counts = new Map<string, { requests: number; failed: number; retried: number; seconds: number }>();
const udp = createSocket("udp4");
udp.on("message", (message) => {
  const e = parseNginxLogLine(message.toString("latin1"));
  if (!e) return;
  let c = counts.get(e.version);
  if (!c) {
    c = { requests: 0, failed: 0, retried: 0, seconds: 0 };
    counts.set(e.version, c);
  }
  c.requests++;
  if (e.failed) c.failed++;
  if (e.attempts > 1) c.retried++;
  c.seconds += e.seconds;
});
udp.bind(0, "127.0.0.1", () => console.log(`ready ${udp.address().port}`));
process.on("SIGTERM", () => {
  console.error(`nginx log collector: ${JSON.stringify(Object.fromEntries(counts))}`);
  process.exit(0);
});
