// Several processes on one database, and kill -9 in the middle of writes: the guarantees that only hold
// if the database, not this process, is the source of truth.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join, resolve } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { testBackends, useStore } from "../../test/support/store.js";

const backends = await testBackends();
const repoRoot = resolve(import.meta.dirname, "..", "..");

type Child = { proc: ChildProcess; lines: Interface; stderr: () => string };

function startChild(script: string, args: object): Child {
  const proc = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "testdata", script), JSON.stringify(args)],
    {
      cwd: repoRoot,
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  let stderr = "";
  proc.stderr!.on("data", (d) => {
    stderr += d;
  });
  return { proc, lines: createInterface({ input: proc.stdout! }), stderr: () => stderr };
}

describe.each(backends)("durability on %s", (backend) => {
  const ctx = useStore(backend);

  async function queuedJobs(label: string, n: number) {
    const repo = await ctx.store.repos.create({ name: label, url: "/r" });
    const run = await ctx.store.runs.create({
      repoId: repo.id,
      workflowFile: "ci.yml",
      workflowName: "CI",
      eventName: "push",
      event: {},
      sha: "a",
      ref: "refs/heads/main",
      trigger: "webhook",
    });
    const jobs = await ctx.store.jobs.insertMany(
      run.id,
      1,
      Array.from({ length: n }, (_, i) => ({
        jobKey: `j-${i}`,
        jobId: "j",
        name: "j",
        labels: [label],
        status: "queued" as const,
      })),
    );
    return { repo, run, jobs };
  }

  it("lets exactly one of 10 claimers in 5 racing processes claim each of 5 jobs", {
    timeout: 180_000,
  }, async () => {
    // Five processes with two concurrent claims each: the race is between processes (on SQLite, between
    // connections to one file) as well as within them. (Processes are slow to start under tsx.)
    const { jobs } = await queuedJobs("procs", 5);
    const children = Array.from({ length: 5 }, (_, i) =>
      startChild("claimer.ts", {
        url: ctx.database.url,
        dataDir: ctx.database.dataDir,
        label: "procs",
        runnerId: `runner-${i}`,
        claimers: 2,
      }),
    );
    try {
      const results = children.map(
        (c) =>
          new Promise<(number | null)[]>((resolve, reject) => {
            c.lines.on("line", (line) => {
              if (line !== "ready") resolve(JSON.parse(line) as (number | null)[]);
            });
            c.proc.on("exit", (code) => reject(new Error(`claimer exited with ${code}: ${c.stderr()}`)));
          }),
      );
      // Everyone opens the store first; then they all claim at once.
      await Promise.all(children.map((c) => once(c.lines, "line")));
      for (const c of children) c.proc.stdin!.write("go\n");
      const claimed = (await Promise.all(results)).flat();
      expect(claimed).toHaveLength(10);
      expect(claimed.filter((id) => id === null)).toHaveLength(5);
      expect(claimed.filter((id) => id !== null).sort((a, b) => a! - b!)).toEqual(jobs.map((j) => j.id));
      const rows = await ctx.store.jobs.list(jobs[0].runId);
      expect(new Set(rows.map((r) => r.runnerId)).size).toBe(5);
      expect(rows.every((r) => r.status === "running")).toBe(true);
    } finally {
      for (const c of children) c.proc.kill("SIGKILL");
    }
  });

  it("keeps every acknowledged write after kill -9, and fails the job that was in flight", {
    timeout: 180_000,
  }, async () => {
    const { repo } = await queuedJobs("crash", 1);
    const child = startChild("crashing-server.ts", {
      url: ctx.database.url,
      dataDir: ctx.database.dataDir,
      label: "crash",
      repoId: repo.id,
    });
    const acked = { job: 0, logs: [] as number[], runs: [] as number[] };
    let killed = false;
    const exited = once(child.proc, "exit");
    const closed = once(child.lines, "close");
    child.lines.on("line", (line) => {
      const [kind, value] = line.split(" ");
      if (kind === "claimed") acked.job = Number(value);
      else if (kind === "log") acked.logs.push(Number(value));
      else if (kind === "run") acked.runs.push(Number(value));
      if (!killed && acked.logs.length >= 1000) {
        killed = true;
        child.proc.kill("SIGKILL"); // mid-stream: the child is writing as fast as it can
      }
    });
    const [code, signal] = (await exited) as [number | null, string | null];
    await closed; // every line the child printed before it died has been read
    expect(signal, `child exited with ${code}: ${child.stderr()}`).toBe("SIGKILL");

    // "Restart": a new store on the same database.
    const restarted = await ctx.open();
    try {
      if (backend === "sqlite") {
        const check = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(restarted.db);
        expect(check.rows).toEqual([{ integrity_check: "ok" }]);
      }
      const chunks = await restarted.logs.read(acked.job, { limit: 1_000_000 });
      const stored = new Map(chunks.map((c) => [c.seq, c.content]));
      for (const seq of acked.logs) expect(stored.get(seq)).toBe(`line ${seq}\n`);
      // No holes: the writer awaited each append before the next.
      expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i));
      for (const id of acked.runs) expect(await restarted.runs.get(id)).not.toBeNull();
      const numbers = (await restarted.runs.list({ repoId: repo.id, limit: 10_000 })).map((r) => r.number);
      expect(numbers.sort((a, b) => a - b)).toEqual(numbers.map((_, i) => i + 1)); // distinct, no gaps

      const recovered = await restarted.jobs.recoverAfterCrash({ localRunnerIds: ["local"] });
      expect(recovered.map((j) => [j.id, j.status, j.reason])).toEqual([
        [acked.job, "failure", "server restarted while the job was running"],
      ]);
      // Not re-queued: it will not run a second time.
      expect(await restarted.jobs.claim({ runnerId: "local", labels: ["crash"], leaseMs: 1000 })).toBeNull();
    } finally {
      await restarted.close();
    }
  });
});
