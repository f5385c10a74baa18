// Notifications from `slipway serve`, end to end: signed push webhooks start runs on a real repository;
// finished runs go to a real local receiver as a Slack Block Kit message (a channel of the repository's
// slipway.yaml, its URL a repository secret) and a signed generic webhook (a channel of the server's
// --notify-config). Failed → run.failed, the next green run → run.fixed; rules filter branches out;
// a 500 is retried and shows in `slipway notify deliveries`; a hanging receiver never holds a run up;
// deliveries pending at shutdown go out after a restart; bad configuration stops the start (server) or
// is a warning on the run (repository).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { validateBlockKit, verifyWebhookSignature } from "../../../src/notify/index.js";
import { type ReceivedRequest, type Reply, startReceiver } from "../../../src/notify/testing.js";
import {
  addRepo,
  api,
  cleanupAfterAll,
  type GitRepo,
  type Harness,
  makeRepo,
  pushPayload,
  type Server,
  sendWebhook,
  sleep,
  tempDir,
  test,
  waitFor,
  waitForRun,
} from "./helpers.js";

cleanupAfterAll();

const fullName = "acme/app";

// The test legs fail when the commit message says "broken": one workflow gives red and green runs.
const ciWorkflow = `name: CI
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    strategy:
      fail-fast: false
      matrix:
        node: [18, 20]
    steps:
      - env:
          MSG: \${{ github.event.head_commit.message }}
        run: |
          case "$MSG" in *broken*) echo "broken on node \${{ matrix.node }}"; exit 1;; esac
  lint:
    runs-on: ubuntu-latest
    steps:
      - run: echo lint
`;

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** A receiver whose answers the test changes as it goes, per path. */
async function receiverWith(answers: Record<string, (r: ReceivedRequest) => Reply> = {}) {
  const receiver = await startReceiver((r) => {
    const path = Object.keys(answers).find((p) => r.path.startsWith(p));
    return path ? answers[path](r) : { status: 200, body: "ok" };
  });
  return receiver;
}

const byPath = (receiver: Receiver, prefix: string) =>
  receiver.requests.filter((r) => r.path.startsWith(prefix));

async function setup(
  h: Harness,
  opts: {
    receiver: Receiver;
    serverConfig: string;
    repoConfig?: string;
    env?: Record<string, string>;
    dataDir?: string;
  },
) {
  const dir = tempDir("slipway-notify-e2e-");
  const configFile = join(dir, "notify.yaml");
  writeFileSync(configFile, opts.serverConfig);
  const repo = makeRepo({
    "README.md": "hello\n",
    ".github/workflows/ci.yml": ciWorkflow,
    ...(opts.repoConfig ? { "slipway.yaml": opts.repoConfig } : {}),
  });
  const server = await h.startServer({
    dataDir: opts.dataDir,
    args: ["--notify-config", configFile],
    env: { SLIPWAY_NOTIFY_RETRY_MS: "300", ...opts.env },
  });
  const secret = await addRepo(server, repo, fullName);
  return { repo, server, secret, configFile };
}

/** Commits on `branch` (main by default), sends the signed push webhook, returns the run it started. */
async function push(
  server: Server,
  repo: GitRepo,
  secret: string,
  message: string,
  branch = "main",
): Promise<number> {
  const before = repo.head();
  const after = repo.commit({ "src/change.txt": `${message}\n` }, message);
  const res = await sendWebhook(
    server,
    "push",
    pushPayload(repo, fullName, { ref: `refs/heads/${branch}`, before, after }),
    secret,
  );
  expect(res.status).toBe(202);
  expect(res.body.runs).toHaveLength(1);
  return res.body.runs[0] as number;
}

async function deliveries(h: Harness, server: Server, extra: string[] = []): Promise<any[]> {
  const r = await h.cliOk(server, ["notify", "deliveries", "--json", ...extra]);
  return r.json;
}

async function setSecret(server: Server, name: string, value: string, repo?: string) {
  const r = await api(server, "POST", "/api/v1/secrets", { name, value, ...(repo ? { repo } : {}) });
  expect(r.status).toBe(201);
}

describe("notifications of server runs", { concurrent: true }, () => {
  test("a failed run sends one Slack message and one signed webhook; the next green run sends run.fixed; other branches nothing", async ({
    h,
  }) => {
    const receiver = await receiverWith();
    try {
      const { repo, server, secret } = await setup(h, {
        receiver,
        serverConfig: [
          "channels:",
          `  audit: { webhook: { url: "${receiver.url}/hook", secret_name: AUDIT_KEY } }`,
          "rules:",
          "  - { on: [run.failed, run.fixed], channels: [audit], branch: main }",
          "",
        ].join("\n"),
        repoConfig: [
          "build: {}",
          "notify:",
          "  channels:",
          "    team: { slack: { webhook_url_secret: TEAM_SLACK } }",
          "  rules:",
          "    - on: [run.failed, run.fixed]",
          "      channels: [team]",
          "      branch: [main]",
          "",
        ].join("\n"),
      });
      await setSecret(server, "AUDIT_KEY", "audit-signing-key");
      // A repository secret: the repository's own channel sees it; the server's would not.
      await setSecret(server, "TEAM_SLACK", `${receiver.url}/slack/T000/B000/XXXX`, fullName);

      const red = await push(server, repo, secret, "A broken change");
      const redView = await waitForRun(server, red);
      expect(redView.run.conclusion).toBe("failure");
      expect(redView.run.reason).toBeNull();
      await receiver.waitFor(2);

      const [slack] = byPath(receiver, "/slack/T000/B000/XXXX");
      const message = JSON.parse(slack.text);
      expect(validateBlockKit(message)).toEqual([]);
      expect(message.text).toBe("CI #1 failed · acme/app on main (2 failed jobs)");
      const slackText = JSON.stringify(message.blocks);
      expect(slackText).toContain("*test (node 18, 20)* ✗✗");
      expect(slackText).toContain("*lint*");
      expect(slackText).toContain(`${server.url}/api/v1/runs/${red}`);
      expect(slackText).toContain("A broken change");

      const [hook] = byPath(receiver, "/hook");
      expect(
        verifyWebhookSignature({
          body: hook.body,
          secret: "audit-signing-key",
          signature: hook.headers["x-slipway-signature-256"] as string,
          timestamp: hook.headers["x-slipway-timestamp"] as string,
        }),
      ).toEqual({ ok: true });
      expect(hook.headers["x-slipway-event"]).toBe("run.failed");
      const payload = JSON.parse(hook.text);
      expect(payload).toMatchObject({
        schema: "slipway.notification.v1",
        type: "run.failed",
        types: ["run.completed", "run.failed"],
        repository: fullName,
        run: {
          workflow: "CI",
          number: 1,
          attempt: 1,
          url: `${server.url}/api/v1/runs/${red}`,
          trigger: "push",
          branch: "main",
          sha: redView.run.sha,
          commit_message: "A broken change",
          conclusion: "failure",
          previous_conclusion: null,
        },
      });
      expect(
        payload.run.jobs.map((j: any) => [j.name, j.matrix, j.status, typeof j.duration_ms]).sort(),
      ).toEqual([
        ["lint", null, "success", "number"],
        ["test", { node: 18 }, "failure", "number"],
        ["test", { node: 20 }, "failure", "number"],
      ]);

      const green = await push(server, repo, secret, "Fix it");
      expect((await waitForRun(server, green)).run.conclusion).toBe("success");
      await receiver.waitFor(4);
      const fixedHook = JSON.parse(byPath(receiver, "/hook")[1].text);
      expect(fixedHook).toMatchObject({
        type: "run.fixed",
        run: { conclusion: "success", previous_conclusion: "failure", commit_message: "Fix it" },
      });
      expect(JSON.parse(byPath(receiver, "/slack/")[1].text).text).toBe("CI #2 fixed · acme/app on main");

      // Green again: nothing (the rules want failures and fixes). Red on another branch: nothing.
      const again = await push(server, repo, secret, "More work");
      repo.git("checkout", "-q", "-b", "feature");
      const feature = await push(server, repo, secret, "broken on a branch", "feature");
      await waitForRun(server, again);
      expect((await waitForRun(server, feature)).run.conclusion).toBe("failure");
      // Events are recorded just after a run completes; give a wrongly matched one the time to show.
      await sleep(1000);
      const log = await waitFor("every delivery done", async () => {
        const list = await deliveries(h, server);
        return list.every((d) => d.status === "delivered") ? list : undefined;
      });
      expect(log.map((d) => [d.scope ?? "server", d.channel, d.eventType, d.eventId]).sort()).toEqual(
        [
          ["acme/app", "team", "run.failed", `run-${red}-1`],
          ["acme/app", "team", "run.fixed", `run-${green}-1`],
          ["server", "audit", "run.failed", `run-${red}-1`],
          ["server", "audit", "run.fixed", `run-${green}-1`],
        ].sort(),
      );
      expect(receiver.requests).toHaveLength(4);

      // `notify test --repo` reaches the repository's channel, its URL a secret of that repository.
      const test = await h.cliOk(server, ["notify", "test", "team", "--repo", fullName, "--json"]);
      expect(test.json).toMatchObject({
        channel: "team",
        scope: fullName,
        eventType: "test",
        status: "delivered",
      });
      expect(receiver.requests.at(-1)?.path).toBe("/slack/T000/B000/XXXX");
      const unknown = await h.cli(server, ["notify", "test", "team"]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toBe("slipway: no channel 'team' in notify.channels (channels: audit)\n");
    } finally {
      await receiver.close();
    }
  });

  test("a receiver answering 500 is retried, delivered, and shown in `slipway notify deliveries`", async ({
    h,
  }) => {
    let calls = 0;
    const receiver = await receiverWith({
      "/flaky": () => (++calls === 1 ? { status: 500, body: "try later" } : { status: 200 }),
    });
    try {
      const { repo, server, secret } = await setup(h, {
        receiver,
        serverConfig: `channels:\n  flaky: { webhook: { url: "${receiver.url}/flaky" } }\nrules:\n  - { on: [run.completed], channels: [flaky] }\n`,
      });
      const id = await push(server, repo, secret, "Works");
      await waitForRun(server, id);
      const [first, second] = await receiver.waitFor(2);
      // The same event both times, the second after the backoff.
      expect(second.headers["x-slipway-delivery"]).toBe(first.headers["x-slipway-delivery"]);
      expect(second.at - first.at).toBeGreaterThanOrEqual(200);
      const [d] = await waitFor("the delivery delivered", async () => {
        const list = await deliveries(h, server, ["--channel", "flaky"]);
        return list[0]?.status === "delivered" ? list : undefined;
      });
      expect(d).toMatchObject({ channel: "flaky", eventType: "run.completed", attempts: 2, lastError: null });
      const table = await h.cliOk(server, ["notify", "deliveries"]);
      expect(table.stdout).toMatch(/^ID +CREATED +CHANNEL +EVENT +STATUS +ATTEMPTS +LAST ERROR\n/);
      expect(table.stdout).toMatch(/flaky +run\.completed +delivered +2\n/);
      const failedOnly = await deliveries(h, server, ["--status", "failed"]);
      expect(failedOnly).toEqual([]);
      // Any role reads the log; the server's channels can be tested from the CLI too.
      const viewer = await api<{ token: string }>(server, "POST", "/api/v1/tokens", {
        name: "v",
        role: "viewer",
      });
      const asViewer = await h.cliOk(server, ["notify", "deliveries", "--json"], {
        token: viewer.body.token,
      });
      expect(asViewer.json).toHaveLength(1);
      const test = await h.cliOk(server, ["notify", "test", "flaky", "--json"]);
      expect(test.json).toMatchObject({ channel: "flaky", eventType: "test", status: "delivered" });
    } finally {
      await receiver.close();
    }
  });

  test("runs finish on time while the receiver hangs", async ({ h }) => {
    const receiver = await receiverWith({ "/hang": () => ({ hang: true }) });
    try {
      const { repo, server, secret } = await setup(h, {
        receiver,
        serverConfig: `channels:\n  slow: { webhook: { url: "${receiver.url}/hang" } }\nrules:\n  - { on: [run.completed], channels: [slow] }\n`,
        env: { SLIPWAY_NOTIFY_TIMEOUT_MS: "60000" },
      });
      const first = await push(server, repo, secret, "First");
      await waitForRun(server, first);
      const [hanging] = await receiver.waitFor(1);
      // While that request hangs (for a minute), the next run starts, runs and finishes as usual.
      const second = await push(server, repo, secret, "Second");
      const view = await waitForRun(server, second, { timeoutMs: 30_000 });
      expect(view.run.conclusion).toBe("success");
      expect(Date.now() - hanging.at).toBeLessThan(45_000);
      const list = await deliveries(h, server);
      expect(list.map((d) => [d.eventId, d.status])).toEqual([
        [`run-${second}-1`, "pending"],
        [`run-${first}-1`, "pending"],
      ]);
      // One channel's deliveries keep their order: the second waits behind the first.
      expect(receiver.requests).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });

  test("deliveries pending at shutdown go out after a restart", async ({ h }) => {
    let down = true;
    const receiver = await receiverWith({
      "/later": () => (down ? { status: 503, body: "down" } : { status: 200 }),
    });
    try {
      const serverConfig = `channels:\n  later: { webhook: { url: "${receiver.url}/later" } }\nrules:\n  - { on: [run.completed], channels: [later] }\n`;
      const dataDir = join(tempDir("slipway-notify-restart-"), "data");
      const env = { SLIPWAY_NOTIFY_RETRY_MS: "3000" };
      const { repo, server, secret } = await setup(h, { receiver, serverConfig, dataDir, env });
      const id = await push(server, repo, secret, "Before the restart");
      await waitForRun(server, id);
      await receiver.waitFor(1);
      server.kill("SIGTERM");
      const exit = await server.exited;
      expect(exit.code).toBe(0);
      const stoppedAt = Date.now();
      down = false;
      const configFile = join(tempDir("slipway-notify-restart-cfg-"), "notify.yaml");
      writeFileSync(configFile, serverConfig);
      const again = await h.startServer({ dataDir, args: ["--notify-config", configFile], env });
      const [, retried] = await receiver.waitFor(2, 20_000);
      expect(retried.at).toBeGreaterThan(stoppedAt);
      const [d] = await waitFor("delivered after the restart", async () => {
        const list = await deliveries(h, again);
        return list[0]?.status === "delivered" ? list : undefined;
      });
      expect(d).toMatchObject({ eventId: `run-${id}-1`, attempts: 2 });
    } finally {
      await receiver.close();
    }
  });

  test("a bad notify: in the repository is a warning on the run; a bad --notify-config stops the start", async ({
    h,
  }) => {
    const receiver = await receiverWith();
    try {
      const { repo, server, secret } = await setup(h, {
        receiver,
        serverConfig: `channels:\n  ops: { webhook: { url: "${receiver.url}/ops" } }\nrules:\n  - { on: [run.completed], channels: [ops] }\n`,
        repoConfig: "notify:\n  channels: {}\n  rules:\n    - { on: [run.failed], channels: [ghost] }\n",
      });
      const id = await push(server, repo, secret, "Fine");
      const view = await waitForRun(server, id);
      expect(view.run.conclusion).toBe("success");
      expect(view.run.reason).toMatch(
        /^warning: slipway\.yaml at [0-9a-f]{7} has an invalid notify: section; the repository's notifications are not sent:\nslipway\.yaml:4:\d+: notify\.rules\[0\]\.channels\[0\]: unknown channel 'ghost'/,
      );
      // The server's own rules still apply.
      const [ops] = await receiver.waitFor(1);
      expect(JSON.parse(ops.text).run.conclusion).toBe("success");
      const test = await h.cli(server, ["notify", "test", "ghost", "--repo", fullName]);
      expect(test.code).toBe(2);
      expect(test.stderr).toMatch(/^slipway: slipway\.yaml at [0-9a-f]{7} has an invalid notify: section/);

      const bad = join(tempDir("slipway-notify-bad-"), "notify.yaml");
      writeFileSync(
        bad,
        `channels:\n  ops: { webhook: { url: "not a url" } }\nrules:\n  - { on: [run.done], channels: [ops] }\n`,
      );
      const failed = await h.startServer({ args: ["--notify-config", bad] }).catch((e: Error) => e);
      expect(failed).toBeInstanceOf(Error);
      const message = (failed as Error).message;
      expect(message).toMatch(/server exited \(2\) before listening/);
      expect(message).toMatch(
        /notify\.yaml:2:\d+: channels\.ops\.webhook\.url: expected an http:\/\/ or https:\/\/ URL/,
      );
      expect(message).toMatch(/notify\.yaml:4:\d+: rules\[0\]\.on\[0\]: /);
      expect(message).not.toMatch(/\n\s+at /);
      const missing = await h
        .startServer({ env: { SLIPWAY_NOTIFY_CONFIG: "/nonexistent/notify.yaml" } })
        .catch((e: Error) => e);
      expect((missing as Error).message).toMatch(
        /cannot read the notification configuration \/nonexistent\/notify\.yaml: no such file/,
      );
    } finally {
      await receiver.close();
    }
  });
});
