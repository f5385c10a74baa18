// Deployment environments on the real server: a `production` job waits for a reviewer (a developer's
// approval is refused with the rule, the run's own trigger cannot approve it, a deployer's approval
// runs it), a rejection ends the run `failure` with the reason, environment secrets and vars reach the
// environment's jobs and no other (the attack), a ref the environment does not allow fails the job,
// a wait timer lets a job go by itself, a waiting job survives a restart, and a `concurrency` group
// queues jobs across runs.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect } from "vitest";
import {
  addRepo,
  api,
  cleanupAfterAll,
  databases,
  dispatchRun,
  type Harness,
  jobOf,
  linesOf,
  makeRepo,
  type RunView,
  type Server,
  tempDir,
  test,
  waitFor,
  waitForRun,
} from "./helpers.js";

cleanupAfterAll();

const name = "acme/app";

const deployWorkflow = (dir: string) => `name: Deploy
on: workflow_dispatch
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: printf '%s|%s|%s' "\${{ secrets.PROD_KEY }}" "\${{ secrets.DB_URL }}" "\${{ vars.TARGET }}" > ${dir}/build-\${{ github.run_id }}
  staging:
    runs-on: ubuntu-latest
    environment: staging
    steps:
      - run: printf '%s|%s|%s' "\${{ secrets.PROD_KEY }}" "\${{ secrets.DB_URL }}" "\${{ vars.TARGET }}" > ${dir}/staging-\${{ github.run_id }}
  deploy:
    needs: build
    runs-on: ubuntu-latest
    environment:
      name: production
      url: https://prod.example/run-\${{ github.run_number }}
    steps:
      - run: printf '%s|%s|%s' "\${{ secrets.PROD_KEY }}" "\${{ secrets.DB_URL }}" "\${{ vars.TARGET }}" > ${dir}/deploy-\${{ github.run_id }}
`;

async function token(h: Harness, server: Server, who: string, role: string): Promise<string> {
  return (await h.cliOk(server, ["token", "create", who, "--role", role, "--json"])).json.token as string;
}

async function secret(server: Server, body: Record<string, string>) {
  const r = await api(server, "POST", "/api/v1/secrets", body);
  if (r.status !== 201) throw new Error(`secret ${body.name}: ${r.status} ${JSON.stringify(r.body)}`);
}

const waiting = (v: RunView) =>
  v.run.status === "waiting" &&
  v.attempts[0]?.jobs.some((j) => j.jobKey === "deploy" && j.status === "waiting");

type Gate = {
  environment: string;
  status: string;
  mayApprove: string | null;
  decidedBy: string | null;
  url: string | null;
};
const gates = (v: RunView) => (v as unknown as { environments: Gate[] }).environments;

describe.each(databases)("environments ($name)", ({ database }) => {
  test("a production job waits; a developer's approval is refused with the rule, a deployer's runs it; a rejection fails the run with the reason", async ({
    h,
  }) => {
    const dir = tempDir("slipway-env-out-");
    const repo = makeRepo({ ".github/workflows/deploy.yml": deployWorkflow(dir) });
    const server = await h.startServer({ database: await database() });
    await addRepo(server, repo, name);
    const bob = await token(h, server, "bob", "developer");
    const alice = await token(h, server, "alice", "deployer");
    await secret(server, { name: "PROD_KEY", value: "prod-key-1", repo: name, env: "production" });
    await secret(server, { name: "DB_URL", value: "repo-db", repo: name });
    await secret(server, { name: "DB_URL", value: "prod-db", env: "production" });
    await h.cliOk(server, [
      "environment",
      "set",
      name,
      "production",
      "--reviewer",
      "deployer",
      "--branch",
      "main",
      "--var",
      "TARGET=prod",
    ]);
    await h.cliOk(server, ["environment", "set", name, "staging", "--var", "TARGET=stage"]);
    const shown = await h.cliOk(server, ["environment", "show", name, "production"]);
    expect(shown.stdout).toContain("reviewers    deployer");
    expect(shown.stdout).toContain("deploys from branches main");

    const id = await dispatchRun(server, name, "deploy.yml");
    const held = await waitForRun(server, id, { until: waiting });
    expect(jobOf(held, "deploy").reason).toBe(
      "waiting for environment production: approval by role deployer (slipway approve)",
    );
    const show = await h.cliOk(server, ["runs", "show", String(id)]);
    expect(show.stdout).toContain(`run ${id} (#1) Deploy: waiting`);
    expect(show.stdout).toContain("environment production (attempt 1): waiting; may approve: role deployer");
    const json = (await h.cliOk(server, ["runs", "show", String(id), "--json"])).json;
    expect(json.environments).toContainEqual(
      expect.objectContaining({ environment: "production", status: "pending", mayApprove: "role deployer" }),
    );

    // The developer is refused with the rule; so is the admin who triggered the run (no self-review).
    const denied = await h.cli(server, ["approve", String(id)], { token: bob });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain("production requires approval by role deployer; you are bob (developer)");
    const viaApi = await api(
      server,
      "POST",
      `/api/v1/runs/${id}/approve`,
      { environment: "production" },
      bob,
    );
    expect(viaApi.status).toBe(403);
    const self = await api(server, "POST", `/api/v1/runs/${id}/approve`, {});
    expect(self.status).toBe(403);
    expect(JSON.stringify(self.body)).toContain("does not allow self-review");
    expect((await waitForRun(server, id, { until: waiting })).run.status).toBe("waiting");

    await h.cliOk(server, ["approve", String(id), "--env", "production"], { token: alice });
    const done = await waitForRun(server, id, { timeoutMs: 60_000 });
    expect(done.run.conclusion).toBe("success");
    expect(jobOf(done, "deploy").status).toBe("success");
    expect(gates(done).find((g) => g.environment === "production")).toMatchObject({
      status: "approved",
      decidedBy: "alice",
      url: "https://prod.example/run-1",
    });
    expect(gates(done).find((g) => g.environment === "staging")).toMatchObject({ status: "approved" });
    expect((done as unknown as { approvals: unknown[] }).approvals).toEqual([
      expect.objectContaining({ action: "environment.approve", actor: "alice", environment: "production" }),
    ]);
    // Each job saw what its environment gives, and no other environment's secrets or vars.
    expect(readFileSync(join(dir, `deploy-${id}`), "utf8")).toBe("prod-key-1|prod-db|prod");
    expect(readFileSync(join(dir, `build-${id}`), "utf8")).toBe("|repo-db|");
    expect(readFileSync(join(dir, `staging-${id}`), "utf8")).toBe("|repo-db|stage");

    // A rejection: the job fails with the reviewer's reason, and so does the run.
    const second = await dispatchRun(server, name, "deploy.yml");
    await waitForRun(server, second, { until: waiting });
    const rejected = await h.cliOk(server, ["reject", String(second), "--reason", "change freeze"], {
      token: alice,
    });
    expect(rejected.stdout).toContain("rejected by alice: change freeze");
    const failed = await waitForRun(server, second, { timeoutMs: 60_000 });
    expect(failed.run.conclusion).toBe("failure");
    expect(failed.run.reason).toBe("environment production rejected by alice: change freeze");
    expect(jobOf(failed, "deploy")).toMatchObject({
      status: "failure",
      reason: "environment production: rejected by alice: change freeze",
    });
    expect(linesOf(join(dir, `deploy-${second}`))).toEqual([]);
  });
});

describe.concurrent("environment rules (sqlite)", () => {
  test("a branch the environment does not allow fails the job; a wait timer lets a job go; a waiting job survives a graceful restart", async ({
    h,
  }) => {
    const dir = tempDir("slipway-env-out-");
    const repo = makeRepo({ ".github/workflows/deploy.yml": deployWorkflow(dir) });
    repo.git("branch", "feature");
    const dataDir = join(tempDir("slipway-server-"), "data");
    let server = await h.startServer({ dataDir });
    await addRepo(server, repo, name);
    const alice = await token(h, server, "alice", "viewer");
    const carol = await token(h, server, "carol", "developer");
    await h.cliOk(server, [
      "environment",
      "set",
      name,
      "production",
      "--reviewer",
      "carol",
      "--branch",
      "main",
    ]);
    await h.cliOk(server, ["environment", "set", name, "staging", "--wait-timer", "2s"]);
    // Bad input is refused with what is wrong and changes nothing; only an admin changes rules.
    const bad = await h.cli(server, ["environment", "set", name, "production", "--wait-timer", "soon"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--wait-timer "soon": use seconds or 30s, 5m, 2h, 1d');
    const badBody = await api(
      server,
      "PUT",
      `/api/v1/environments/production?repo=${encodeURIComponent(name)}`,
      {
        reviewers: ["a b"],
        branches: "main",
      },
    );
    expect(badBody.status).toBe(400);
    expect(JSON.stringify(badBody.body)).toMatch(/invalid environment rules: reviewers\.0: .*branches: /);
    const notAdmin = await h.cli(server, ["environment", "set", name, "production"], { token: carol });
    expect(notAdmin.code).toBe(1);
    expect(notAdmin.stderr).toContain("this needs the admin role; the token has developer");
    expect((await h.cliOk(server, ["environment", "show", name, "production", "--json"])).json).toMatchObject(
      {
        reviewers: ["carol"],
        branches: ["main"],
        tags: [],
      },
    );

    const r = await api<{ runs: { id: number }[] }>(
      server,
      "POST",
      `/api/v1/repos/${encodeURIComponent(name)}/dispatch`,
      { workflow: "deploy.yml", ref: "feature" },
    );
    const onFeature = await waitForRun(server, r.body.runs[0].id, { timeoutMs: 60_000 });
    expect(onFeature.run.conclusion).toBe("failure");
    expect(jobOf(onFeature, "deploy")).toMatchObject({
      status: "failure",
      reason: "refs/heads/feature may not deploy to environment production (allowed: branches main)",
    });
    // The timer held staging, then let it go by itself.
    expect(jobOf(onFeature, "staging").status).toBe("success");
    expect(gates(onFeature).find((g) => g.environment === "staging")).toMatchObject({
      status: "approved",
      decidedBy: "wait timer",
    });

    const id = await dispatchRun(server, name, "deploy.yml");
    await waitForRun(server, id, { until: waiting });
    // A graceful stop leaves the waiting job as it is (not cancelled), as a crash does.
    server.kill("SIGTERM");
    expect((await server.exited).code).toBe(0);
    server = await h.startServer({ dataDir });
    const after = await waitForRun(server, id, { until: waiting });
    expect(jobOf(after, "deploy").reason).toContain("approval by token carol");
    // A token named as reviewer needs the developer role to reach the endpoint at all.
    expect((await api(server, "POST", `/api/v1/runs/${id}/approve`, {}, alice)).status).toBe(403);
    await h.cliOk(server, ["approve", String(id)], { token: carol });
    const done = await waitForRun(server, id, { timeoutMs: 60_000 });
    expect(done.run.conclusion).toBe("success");
    expect(readFileSync(join(dir, `deploy-${id}`), "utf8")).toBe("||");
  });

  test("a concurrency group queues the jobs of two runs one after the other", async ({ h }) => {
    const dir = tempDir("slipway-env-out-");
    const repo = makeRepo({
      ".github/workflows/ship.yml": `name: Ship
on: workflow_dispatch
jobs:
  ship:
    runs-on: ubuntu-latest
    environment: production
    concurrency: { group: production }
    steps:
      - run: |
          echo "start \${{ github.run_id }}" >> ${dir}/log
          while [ ! -f ${dir}/go ]; do sleep 0.1; done
          echo "end \${{ github.run_id }}" >> ${dir}/log
`,
    });
    const server = await h.startServer();
    await addRepo(server, repo, name);
    const first = await dispatchRun(server, name, "ship.yml");
    await waitFor(
      "the first run's job to start",
      () => linesOf(join(dir, "log")).length === 1 || undefined,
      30_000,
    );
    const second = await dispatchRun(server, name, "ship.yml");
    await waitForRun(server, second, { until: (v) => v.run.status === "running" });
    writeFileSync(join(dir, "go"), "");
    expect((await waitForRun(server, first, { timeoutMs: 60_000 })).run.conclusion).toBe("success");
    expect((await waitForRun(server, second, { timeoutMs: 60_000 })).run.conclusion).toBe("success");
    expect(linesOf(join(dir, "log"))).toEqual([
      `start ${first}`,
      `end ${first}`,
      `start ${second}`,
      `end ${second}`,
    ]);
  });
});

describe.concurrent("concurrency groups are per repository", () => {
  test("two repositories' `production` groups do not hold each other: their jobs meet", async ({ h }) => {
    const dir = tempDir("slipway-env-out-");
    // Each job waits for the other to have started: with one group for both repositories neither
    // would (the second would wait for the first, which waits for it) and both would fail.
    const ship = (me: string, other: string) => ({
      ".github/workflows/ship.yml": `name: Ship
on: workflow_dispatch
jobs:
  ship:
    runs-on: ubuntu-latest
    concurrency: { group: production }
    steps:
      - run: |
          touch ${dir}/${me}
          for i in $(seq 600); do [ -f ${dir}/${other} ] && exit 0; sleep 0.1; done
          echo "${other} never started"; exit 1
`,
    });
    const server = await h.startServer();
    await addRepo(server, makeRepo(ship("a", "b")), "acme/a");
    await addRepo(server, makeRepo(ship("b", "a")), "acme/b");
    const a = await dispatchRun(server, "acme/a", "ship.yml");
    const b = await dispatchRun(server, "acme/b", "ship.yml");
    expect((await waitForRun(server, a, { timeoutMs: 90_000 })).run.conclusion).toBe("success");
    expect((await waitForRun(server, b, { timeoutMs: 90_000 })).run.conclusion).toBe("success");
  });
});

describe("environments in a local run", () => {
  test("`slipway run` runs them unprotected, says so once, and gives --secret-file to every job", async ({
    h,
  }) => {
    const dir = tempDir("slipway-env-out-");
    const repo = makeRepo({ ".github/workflows/deploy.yml": deployWorkflow(dir) });
    const secrets = join(tempDir("slipway-env-secrets-"), "secrets.env");
    writeFileSync(secrets, "PROD_KEY=local-key\n", { mode: 0o600 });
    const r = await h.cli(null, [
      "run",
      "workflow_dispatch",
      "-C",
      repo.dir,
      "--secret-file",
      secrets,
      "--var",
      "TARGET=t",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.match(/environments are unprotected/g)).toHaveLength(1);
    expect(r.stderr).toContain("for jobs staging, deploy;");
    const [deploy] = readdirSync(dir).filter((f) => f.startsWith("deploy-"));
    expect(readFileSync(join(dir, deploy), "utf8")).toBe("local-key||t");
  });
});
