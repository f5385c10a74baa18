// What a job run by the server (its own runner) or by `slipway runner` can see of the machine: the
// server's master key, its database URL with the password, the runner's token and cloud credentials are
// in their environments; a step that dumps `env` and /proc/self/environ must find none of them, and
// must find a variable the operator passed with --pass-env / SLIPWAY_PASS_ENV.
import { afterAll, describe, expect } from "vitest";
import {
  addRepo,
  cleanupAfterAll,
  createDatabase,
  dispatchRun,
  dropDatabases,
  jobOf,
  logText,
  makeRepo,
  postgresAvailable,
  tempDir,
  test,
  waitForRun,
  workflowFile,
} from "../server/helpers.js";

cleanupAfterAll();
afterAll(async () => {
  await dropDatabases();
});

const workflow = workflowFile(`
on: workflow_dispatch
jobs:
  dump:
    runs-on: [self-hosted]
    steps:
      - run: |
          echo "--- env"
          env
          echo "--- /proc/self/environ"
          cat /proc/self/environ | tr '\\0' '\\n'
          echo "DUMP-DONE"
`);

/** In the server's or runner's environment; no job may see these. */
const secrets = {
  SLIPWAY_MASTER_KEY: "cd".repeat(32),
  AWS_SECRET_ACCESS_KEY: "aws-secret-server-77e1",
  SOME_OTHER_VAR: "not-passed-server-19aa",
};

function expectClean(log: string, passed: string, extra: Record<string, string> = {}): void {
  expect(log).toContain("DUMP-DONE");
  expect(log).toContain("GITHUB_ACTIONS=true");
  expect(log.split(`PASSED_VAR=${passed}`).length - 1).toBeGreaterThanOrEqual(2);
  for (const [name, value] of Object.entries({ ...secrets, ...extra })) {
    expect(log).not.toContain(value);
    expect(log).not.toContain(`${name}=`);
  }
  expect(log).not.toMatch(/\bSLIPWAY_[A-Z_]*=/);
}

describe("the environment of a job run by the server", () => {
  test("the server's own runner: none of the server's variables, the passed one", async ({ h }) => {
    // A database URL with a password in it (trust authentication ignores it), as operators write them.
    const usePg = await postgresAvailable();
    const database = usePg ? (await createDatabase()).replace("postgres@", "postgres:db-pw-5c0f31@") : "";
    const dbEnv: Record<string, string> = usePg ? { SLIPWAY_DATABASE: database } : {};
    const server = await h.startServer({
      args: ["--pass-env", "PASSED_VAR"],
      env: { ...secrets, ...dbEnv, PASSED_VAR: "passed-server-0b2d" },
    });
    const repo = makeRepo({ ".github/workflows/dump.yml": workflow });
    await addRepo(server, repo, "acme/dump");
    const id = await dispatchRun(server, "acme/dump", "dump.yml");
    const view = await waitForRun(server, id);
    expect(jobOf(view, "dump").status, JSON.stringify(view)).toBe("success");
    const log = await logText(server, id);
    expectClean(log, "passed-server-0b2d", usePg ? { SLIPWAY_DATABASE: "db-pw-5c0f31" } : {});
  });

  test("a remote `slipway runner`: none of the runner's variables, the passed one", async ({ h }) => {
    const server = await h.startServer({ args: ["--local-runners", "0"] });
    const repo = makeRepo({ ".github/workflows/dump.yml": workflow });
    await addRepo(server, repo, "acme/remote-dump");
    // `slipway runner --pass-env PASSED_VAR`, its environment holding what an operator's shell might.
    h.spawn(
      [
        "runner",
        "--server",
        server.url,
        "--token",
        server.token,
        "--labels",
        "self-hosted",
        "--data-dir",
        tempDir("slipway-runner-"),
        "--pass-env",
        "PASSED_VAR",
      ],
      h.env({ ...secrets, SLIPWAY_RUNNER_TOKEN_HINT: "slwr_hint-8f8f", PASSED_VAR: "passed-runner-4c4c" }),
    );
    const id = await dispatchRun(server, "acme/remote-dump", "dump.yml");
    const view = await waitForRun(server, id, { timeoutMs: 60_000 });
    expect(jobOf(view, "dump").status, JSON.stringify(view)).toBe("success");
    const log = await logText(server, id);
    expectClean(log, "passed-runner-4c4c", { SLIPWAY_RUNNER_TOKEN_HINT: "slwr_hint-8f8f" });
    // The runner's token reached it in argv/registration, never the job: no slwr_ token in the log.
    expect(log).not.toMatch(/slwr_[A-Za-z0-9_-]{8,}/);
  });
});
