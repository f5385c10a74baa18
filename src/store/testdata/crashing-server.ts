// A stand-in for a server that is killed with kill -9: it claims a job as the embedded runner "local",
// then forever appends log chunks and creates runs, printing an acknowledgement after each write has
// resolved. The test kills it and checks that every acknowledged write survived.
import { openStore } from "../index.js";

const { url, dataDir, label, repoId } = JSON.parse(process.argv[2]) as {
  url?: string;
  dataDir: string;
  label: string;
  repoId: number;
};
const store = await openStore({ url, dataDir });
const job = await store.jobs.claim({ runnerId: "local", labels: [label], leaseMs: 600_000 });
if (!job) throw new Error("nothing to claim");
process.stdout.write(`claimed ${job.id}\n`);
for (let seq = 0; ; seq++) {
  await store.logs.append(job.id, seq, `line ${seq}\n`);
  process.stdout.write(`log ${seq}\n`);
  if (seq % 10 === 0) {
    const run = await store.runs.create({
      repoId,
      workflowFile: "ci.yml",
      workflowName: "CI",
      eventName: "push",
      event: {},
      sha: String(seq),
      ref: "refs/heads/main",
      trigger: "poll",
    });
    process.stdout.write(`run ${run.id}\n`);
  }
}
