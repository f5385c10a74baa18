// kill -9 of the server in the middle of a run, then a restart on the same data dir (and database):
// every job ends in a definite state with a reason, what was acknowledged is kept, nothing runs twice,
// and the run completes. On SQLite and on PostgreSQL.
import { join } from "node:path";
import { describe, expect } from "vitest";
import {
  addRepo,
  cleanupAfterAll,
  dispatchRun,
  databases,
  getRun,
  linesOf,
  logText,
  makeRepo,
  postgresAvailable,
  tempDir,
  test,
  waitFor,
  waitForRun,
} from "./helpers.js";

const pgOk = await postgresAvailable();

cleanupAfterAll();

const name = "acme/app";

describe.concurrent.each(databases)("server killed with -9 ($name)", ({ name: db, database }) => {
  test.skipIf(db === "postgres" && !pgOk)(
    "restarts with every job in a definite state, logs kept, nothing run twice, the run completed",
    async ({ h }) => {
      const dir = tempDir("slipway-scratch-");
      const job = (id: string) => `  ${id}:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "${id}" >> ${dir}/${id}-count
          echo "${id} is sleeping"
          sleep 5
          echo "${id} woke up"
`;
      const repo = makeRepo({
        ".github/workflows/crash.yml": `name: Crash
on: workflow_dispatch
jobs:
${job("first")}${job("second")}  summary:
    needs: [first, second]
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "summary" >> ${dir}/summary-count
          echo "first=\${{ needs.first.result }} second=\${{ needs.second.result }}"
`,
      });
      const url = await database();
      const args = ["--local-runners", "1"];
      const server = await h.startServer({ database: url, args });
      await addRepo(server, repo, name);
      const id = await dispatchRun(server, name, "crash.yml");

      // One job sleeps on the server's single local runner, the other is queued behind it.
      const inFlight = await waitFor(
        "one job sleeping, the other queued",
        async () => {
          const v = await getRun(server, id);
          const jobs = v.attempts[0]?.jobs ?? [];
          const running = jobs.find((j) => j.status === "running");
          const queued = jobs.find((j) => j.status === "queued");
          const log = await logText(server, id);
          return running && queued && log.includes(`${running.jobKey} is sleeping`)
            ? running.jobKey
            : undefined;
        },
        30_000,
        100,
      );
      const queuedKey = inFlight === "first" ? "second" : "first";
      const logBefore = await logText(server, id);
      expect(logBefore).toContain(`${inFlight} is sleeping`);

      server.kill("SIGKILL");
      await server.exited;

      const restarted = await h.startServer({ dataDir: server.dataDir, database: url, args });
      const v = await waitForRun(restarted, id, { timeoutMs: 60_000 });
      const jobs = Object.fromEntries(v.attempts[0].jobs.map((j) => [j.jobKey, j]));
      expect(Object.keys(jobs).sort()).toEqual(["first", "second", "summary"]);
      for (const j of Object.values(jobs))
        expect(["success", "failure", "cancelled", "skipped"]).toContain(j.status);
      expect(jobs[inFlight]).toMatchObject({
        status: "failure",
        reason: "server restarted while the job was running",
      });
      expect(jobs[queuedKey].status).toBe("success");
      expect(jobs.summary.status).toBe("success");
      expect(v.run).toMatchObject({ status: "completed", conclusion: "failure" });

      // Nothing acknowledged was lost; nothing ran twice.
      const logAfter = await logText(restarted, id);
      expect(logAfter).toContain(`${inFlight} is sleeping`);
      expect(logAfter).toContain(`${queuedKey} woke up`);
      const results = inFlight === "first" ? "first=failure second=success" : "first=success second=failure";
      expect(logAfter).toContain(results);
      expect(linesOf(join(dir, `${inFlight}-count`))).toHaveLength(1);
      expect(linesOf(join(dir, `${queuedKey}-count`))).toHaveLength(1);
      expect(linesOf(join(dir, "summary-count"))).toHaveLength(1);
      const shown = await h.cliOk(restarted, ["runs", "show", String(id)]);
      expect(shown.stdout).toContain("server restarted while the job was running");
    },
  );
});
