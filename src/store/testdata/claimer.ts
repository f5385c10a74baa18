// One of several processes racing to claim jobs: opens the store, says "ready", waits for "go" on
// stdin, makes `claimers` concurrent claims and prints what each got.
import { createInterface } from "node:readline";
import { openStore } from "../index.js";

const { url, dataDir, label, runnerId, claimers } = JSON.parse(process.argv[2]) as {
  url?: string;
  dataDir: string;
  label: string;
  runnerId: string;
  claimers: number;
};
const store = await openStore({ url, dataDir });
process.stdout.write("ready\n");
const lines = createInterface({ input: process.stdin });
for await (const line of lines) if (line === "go") break;
lines.close();
const jobs = await Promise.all(
  Array.from({ length: claimers }, (_, i) =>
    store.jobs.claim({ runnerId: `${runnerId}.${i}`, labels: [label], leaseMs: 60_000 }),
  ),
);
process.stdout.write(`${JSON.stringify(jobs.map((j) => j?.id ?? null))}\n`);
await store.close();
