import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ForgeKind, type ForgeReceiver, startForgeReceiver } from "../../test/support/forge-receiver.js";
import { testBackends, useStore } from "../../test/support/store.js";
import { freePort } from "../../test/support/ports.js";
import { DeliveryError, Notifier } from "../notify/index.js";
import { MasterKey, resealAll, SecretValue } from "../secrets/index.js";
import type { Release, Repo, Store } from "../store/index.js";
import { forgeDeliverer } from "./deliver.js";
import { ForgeReporter } from "./reporter.js";
import { commentRequest, statusRequest } from "./requests.js";
import { sendForgeRequest } from "./send.js";
import { openForgeToken, sealForgeToken } from "./token.js";

const backends = await testBackends();
const sha = "0123456789abcdef0123456789abcdef01234567";
const token = `tok_${randomBytes(12).toString("hex")}`;

describe.each(backends)("forge reports on %s", (backend) => {
  const fixture = useStore(backend);
  const key = new MasterKey(randomBytes(32), "test");
  let store: Store;
  let notifier: Notifier;
  let reporter: ForgeReporter;
  const receivers: ForgeReceiver[] = [];
  let n = 0;

  beforeAll(() => {
    store = fixture.store;
    notifier = new Notifier({
      store,
      secret: async () => undefined,
      baseDelayMs: 5,
      maxDelayMs: 20,
      timeoutMs: 10_000,
      targets: { forge: forgeDeliverer({ store, masterKey: key }) },
    });
    reporter = new ForgeReporter({ store, notifier, publicUrl: () => "https://ci.example" });
  });
  afterEach(async () => {
    await reporter.drain();
    await notifier.idle();
  });
  afterAll(async () => {
    await notifier.stop();
    for (const r of receivers) await r.close();
  });

  async function receiver(
    kind: ForgeKind,
    failFirst = 0,
    more: { failOn?: RegExp; noPulls?: boolean } = {},
  ): Promise<ForgeReceiver> {
    const r = await startForgeReceiver({ kind, token, failFirst, ...more });
    receivers.push(r);
    return r;
  }

  /** A repository reporting to `r` (a local path: the forge, API and project come from its settings). */
  async function repoFor(r: ForgeReceiver | undefined, o: { withToken?: boolean; prComment?: boolean } = {}) {
    const repo = await store.repos.create({ name: `repo-${++n}`, url: `/srv/git/repo-${n}` });
    await store.forge.update(
      repo,
      {
        provider: r?.kind ?? "github",
        apiUrl: r?.apiUrl ?? "http://127.0.0.1:9",
        project: r?.kind === "gitlab" ? "group/sub/proj" : "owner/proj",
        prComment: o.prComment ?? false,
        ...((o.withToken ?? true) && { token: sealForgeToken(key, repo.name, new SecretValue(token)) }),
      },
      "admin",
    );
    return repo;
  }

  /** Plays a run of workflow `ci` with one job `build` through the reporter, as the CI service emits it. */
  async function playRun(repo: Repo, conclusion: "success" | "failure" = "success") {
    const run = await store.runs.create({
      repoId: repo.id,
      workflowFile: ".github/workflows/ci.yml",
      workflowName: "ci",
      eventName: "push",
      event: {},
      sha,
      ref: "refs/heads/main",
      trigger: "webhook",
    });
    const [job] = await store.jobs.insertMany(run.id, 1, [
      { jobKey: "build", jobId: "build", name: "build" },
    ]);
    reporter.onCiEvent({ type: "run", runId: run.id, status: "queued", conclusion: null });
    reporter.onCiEvent({ type: "job", runId: run.id, jobRowId: job.id, status: "queued" });
    reporter.onCiEvent({ type: "run", runId: run.id, status: "running", conclusion: null });
    reporter.onCiEvent({ type: "job", runId: run.id, jobRowId: job.id, status: "running" });
    reporter.onCiEvent({ type: "job", runId: run.id, jobRowId: job.id, status: conclusion });
    reporter.onCiEvent({ type: "run", runId: run.id, status: "completed", conclusion });
    await reporter.drain();
    await notifier.idle();
    return { run, job };
  }

  it("reports a run and its job to GitHub as commit statuses that GitHub's OpenAPI description accepts", async () => {
    const r = await receiver("github");
    const repo = await repoFor(r);
    const { run, job } = await playRun(repo);
    expect(r.problems()).toEqual([]);
    expect(r.requests.map((x) => x.operation)).toEqual(Array(4).fill("repos/create-commit-status"));
    expect(r.requests.map((x) => x.path)).toEqual(Array(4).fill(`/repos/owner/proj/statuses/${sha}`));
    expect(r.requests.map((x) => x.body)).toEqual([
      expect.objectContaining({
        state: "pending",
        context: "slipway/ci",
        target_url: `https://ci.example/runs/${run.id}`,
      }),
      expect.objectContaining({
        state: "pending",
        context: "slipway/ci/build",
        target_url: `https://ci.example/runs/${run.id}/jobs/${job.id}`,
      }),
      expect.objectContaining({ state: "success", context: "slipway/ci/build" }),
      expect.objectContaining({ state: "success", context: "slipway/ci" }),
    ]);
    expect(r.requests[0].headers.authorization).toBe(`token ${token}`);
  });

  it("reports to Gitea's statuses API with 'Authorization: token'", async () => {
    const r = await receiver("gitea");
    await playRun(await repoFor(r), "failure");
    expect(r.problems()).toEqual([]);
    expect(r.requests.map((x) => [x.path, (x.body as { state: string }).state])).toEqual([
      [`/api/v1/repos/owner/proj/statuses/${sha}`, "pending"],
      [`/api/v1/repos/owner/proj/statuses/${sha}`, "pending"],
      [`/api/v1/repos/owner/proj/statuses/${sha}`, "failure"],
      [`/api/v1/repos/owner/proj/statuses/${sha}`, "failure"],
    ]);
  });

  it("reports to GitLab's commit statuses API with PRIVATE-TOKEN, running included", async () => {
    const r = await receiver("gitlab");
    await playRun(await repoFor(r), "failure");
    expect(r.problems()).toEqual([]);
    expect(r.requests.map((x) => x.path)).toEqual(
      Array(6).fill(`/api/v4/projects/group%2Fsub%2Fproj/statuses/${sha}`),
    );
    expect(
      r.requests.map((x) => x.body as Record<string, string>).map((b) => [b.name, b.state, b.ref]),
    ).toEqual([
      ["slipway/ci", "pending", "main"],
      ["slipway/ci/build", "pending", "main"],
      ["slipway/ci", "running", "main"],
      ["slipway/ci/build", "running", "main"],
      ["slipway/ci/build", "failed", "main"],
      ["slipway/ci", "failed", "main"],
    ]);
  });

  it("retries a forge that answers 5xx, in order, and shows the attempts in the delivery log", async () => {
    const r = await receiver("github", 3);
    const repo = await repoFor(r);
    await playRun(repo);
    expect(r.problems()).toEqual([]);
    expect(r.requests.map((x) => x.status)).toEqual([502, 502, 502, 201, 201, 201, 201]);
    // The first report waited for its retries; the others kept their order behind it.
    expect(r.requests.slice(3).map((x) => (x.body as { state: string }).state)).toEqual([
      "pending",
      "pending",
      "success",
      "success",
    ]);
    const log = await store.notifications.list({ scope: repo.name });
    expect(log.map((d) => [d.channel, d.status, d.attempts]).reverse()).toEqual([
      ["@forge", "delivered", 4],
      ["@forge", "delivered", 1],
      ["@forge", "delivered", 1],
      ["@forge", "delivered", 1],
    ]);
    // The queue's rows (and their errors) hold no token.
    for (const d of log) expect(JSON.stringify(d)).not.toContain(token);
  });

  it("retries a forge that does not answer; not one that refuses the request (4xx); never names the token", async () => {
    const port = await freePort(); // nothing listens there
    const report = { sha, state: "pending" as const, context: "slipway/ci", description: "queued" };
    for (const provider of ["github", "gitea", "gitlab"] as const) {
      const target = { provider, apiUrl: `http://127.0.0.1:${port}`, project: "o/r" };
      const err = await sendForgeRequest(target, new SecretValue(token), statusRequest(target, report), {
        timeoutMs: 5000,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DeliveryError);
      expect((err as DeliveryError).retryable).toBe(true);
      expect((err as Error).message).not.toContain(token);
    }
    const r = await receiver("gitea");
    const target = { provider: "gitea" as const, apiUrl: r.apiUrl, project: "o/r" };
    const refused = await sendForgeRequest(
      target,
      new SecretValue(token),
      statusRequest(target, { ...report, sha: "not-a-commit" }),
      { timeoutMs: 5000 },
    ).catch((e: unknown) => e);
    expect(refused).toMatchObject({
      retryable: false,
      message: expect.stringContaining("Gitea answered HTTP 404"),
    });
  });

  it("a forge that echoes the request's headers in its refusal does not put the token in the error", async () => {
    const echo = createServer((req, res) => {
      res.writeHead(req.url?.includes("/boom/") ? 503 : 422, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: "Validation Failed", headers: req.headers }));
    });
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
    try {
      for (const provider of ["github", "gitea", "gitlab"] as const)
        for (const sha2 of [sha, "boom"]) {
          const target = { provider, apiUrl: base, project: `o/${sha2 === "boom" ? "boom" : "r"}` };
          const err = await sendForgeRequest(
            target,
            new SecretValue(token),
            commentRequest(target, 7, "hello"),
            { timeoutMs: 5000 },
          ).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(DeliveryError);
          // The echo is there (the forge's answer is kept for the log), the token is not.
          expect((err as Error).message).toContain("[REDACTED]");
          expect((err as Error).message).not.toContain(token);
        }
    } finally {
      echo.closeAllConnections();
      await new Promise((r) => echo.close(r));
    }
  });

  it("reports nothing for a repository without a token", async () => {
    const r = await receiver("github");
    const repo = await repoFor(r, { withToken: false });
    await playRun(repo);
    expect(r.requests).toEqual([]);
    expect(await store.notifications.list({ scope: repo.name })).toEqual([]);
  });

  it("a token removed after a report was queued fails it without a request", async () => {
    const r = await receiver("github");
    const repo = await repoFor(r);
    await notifier.stop();
    await playRun(repo);
    await store.forge.update(repo, { token: null }, "admin");
    await notifier.start();
    await notifier.idle();
    expect(r.requests).toEqual([]);
    const log = await store.notifications.list({ scope: repo.name });
    expect(log.map((d) => [d.status, d.lastError])).toEqual(
      Array(4).fill(["failed", `${repo.name} has no forge token any more`]),
    );
  });

  it("a notifier without the forge deliverer (a deploy agent's) leaves forge reports to the server's", async () => {
    const r = await receiver("github");
    const repo = await repoFor(r);
    await notifier.stop();
    await playRun(repo);
    const agents = new Notifier({ store, secret: async () => undefined, baseDelayMs: 5 });
    await agents.start();
    await agents.idle();
    await agents.stop();
    expect((await store.notifications.list({ scope: repo.name })).map((d) => [d.status, d.attempts])).toEqual(
      Array(4).fill(["pending", 0]),
    );
    await notifier.start();
    await notifier.idle();
    expect(r.problems()).toEqual([]);
    expect(r.requests).toHaveLength(4);
  });

  it("stores the token only sealed, bound to its repository", async () => {
    const repo = await repoFor(undefined);
    const rows = await store.db.selectFrom("forge_settings").selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(token);
    expect((await store.forge.get(repo.id))?.hasToken).toBe(true);
    const audit = await store.audit.list({ limit: 1000 });
    expect(JSON.stringify(audit)).not.toContain(token);
  });

  it("rotating the master key re-seals forge tokens with everything else", async () => {
    const repo = await repoFor(undefined);
    const next = new MasterKey(randomBytes(32), "next");
    const counts = await store.transaction((tx) => resealAll(tx, key, next, "admin"));
    expect(counts.forgeTokens).toBe(await store.forge.tokens().then((t) => t.length));
    const sealed = (await store.forge.tokenOf(repo.id))!;
    expect(openForgeToken(next, repo.name, sealed).reveal()).toBe(token);
    expect(() => openForgeToken(key, repo.name, sealed)).toThrow(/another master key/);
    // Bound to its repository: copied onto another one, it does not open.
    expect(() => openForgeToken(next, "other", sealed)).toThrow(/does not authenticate/);
    await store.transaction((tx) => resealAll(tx, next, key, "admin"));
  });

  it("reports a deploy as a GitHub deployment with its statuses, and comments on the pull request", async () => {
    const r = await receiver("github");
    const repo = await repoFor(r, { prComment: true });
    const finished = reporter.deployStarted({
      repo: repo.name,
      sha,
      app: "web",
      env: "production",
      actor: "alice",
    });
    finished({
      release: {
        number: 4,
        version: "v1.4.0",
        status: "succeeded",
        impact: { services: { api: { "v1.4.0": { requests: 120, failed: 0, p50Ms: 3, p99Ms: 9.5 } } } },
      } as unknown as Release,
    });
    await reporter.drain();
    await notifier.idle();
    expect(r.problems()).toEqual([]);
    expect(r.requests.map((x) => x.operation)).toEqual([
      "repos/create-deployment",
      "repos/create-deployment-status",
      "repos/create-deployment-status",
      "repos/list-pull-requests-associated-with-commit",
      "issues/create-comment",
    ]);
    const [create, inProgress, success, , comment] = r.requests;
    expect(create.body).toMatchObject({ ref: sha, environment: "production", required_contexts: [] });
    // Both statuses are of the one deployment created.
    expect(inProgress.path).toBe(success.path);
    expect(inProgress.body).toMatchObject({
      state: "in_progress",
      environment_url: "https://ci.example/apps/web/production",
    });
    expect(success.body).toMatchObject({ state: "success", environment: "production" });
    expect(comment.path).toBe("/repos/owner/proj/issues/7/comments");
    expect((comment.body as { body: string }).body).toContain("| `api` | `v1.4.0` | 120 | 0 | 3 | 9.5 |");
  });

  it("reports a deploy to Gitea as a commit status", async () => {
    const r = await receiver("gitea");
    const repo = await repoFor(r);
    reporter.deployStarted({ repo: repo.name, sha, app: "web", env: "staging", actor: "alice" })({
      error: "the deploy failed",
    });
    await reporter.drain();
    await notifier.idle();
    expect(r.problems()).toEqual([]);
    expect(r.requests.map((x) => x.body as Record<string, string>).map((b) => [b.context, b.state])).toEqual([
      ["slipway/deploy/web/staging", "pending"],
      ["slipway/deploy/web/staging", "failure"],
    ]);
  });

  const deployed = {
    number: 5,
    version: "v2.0.0",
    status: "succeeded",
    impact: { services: { api: { "v2.0.0": { requests: 40, failed: 1, p50Ms: 2, p99Ms: 7 } } } },
  } as unknown as Release;

  async function playDeploy(repo: Repo, outcome: { release?: Release; error?: string }) {
    reporter.deployStarted({ repo: repo.name, sha, app: "web", env: "staging", actor: "alice" })(outcome);
    await reporter.drain();
    await notifier.idle();
  }

  it.each([
    [
      "gitea" as const,
      `/api/v1/repos/owner/proj/commits/${sha}/pull`,
      "/api/v1/repos/owner/proj/issues/7/comments",
    ],
    [
      "gitlab" as const,
      `/api/v4/projects/group%2Fsub%2Fproj/repository/commits/${sha}/merge_requests`,
      "/api/v4/projects/group%2Fsub%2Fproj/merge_requests/7/notes",
    ],
  ])(
    "comments on the %s pull request of a deployed commit, retrying a 5xx, the token in no delivery",
    async (kind, lookup, post) => {
      const r = await receiver(kind, 2, { failOn: /comments$|notes$/ });
      const repo = await repoFor(r, { prComment: true });
      await playDeploy(repo, { release: deployed });
      expect(r.problems()).toEqual([]);
      // Each attempt looks the pull request up again, then comments.
      expect(r.requests.slice(2).map((x) => [x.method, x.path, x.status])).toEqual([
        ["GET", lookup, 200],
        ["POST", post, 502],
        ["GET", lookup, 200],
        ["POST", post, 502],
        ["GET", lookup, 200],
        ["POST", post, 201],
      ]);
      const comments = r.requests.filter((x) => x.method === "POST" && x.path === post);
      const body = (comments[2].body as { body: string }).body;
      expect(body).toContain("`web` `v2.0.0` to `staging`");
      expect(body).toContain("| `api` | `v2.0.0` | 40 | 1 | 2 | 7 |");
      expect(body).toContain("[Release history](https://ci.example/apps/web/staging)");
      const auth =
        kind === "gitea" ? comments[2].headers.authorization : comments[2].headers["private-token"];
      expect(auth).toBe(kind === "gitea" ? `token ${token}` : token);
      const log = await store.notifications.list({ scope: repo.name });
      expect(log.map((d) => [d.eventType, d.status, d.attempts]).reverse()).toEqual([
        ["forge.status", "delivered", 1],
        ["forge.status", "delivered", 1],
        ["forge.comment", "delivered", 3],
      ]);
      for (const d of log) expect(JSON.stringify(d)).not.toContain(token);
    },
  );

  it.each(["gitea", "gitlab"] as const)(
    "%s: no comment unless turned on, none for a failed deploy, none for a commit without a pull request",
    async (kind) => {
      const off = await receiver(kind);
      await playDeploy(await repoFor(off), { release: deployed });
      expect(off.requests.map((x) => x.method)).toEqual(["POST", "POST"]);
      const failed = await receiver(kind);
      await playDeploy(await repoFor(failed, { prComment: true }), {
        error: "the deploy failed",
        release: { ...deployed, status: "failed" } as Release,
      });
      expect(failed.requests.map((x) => x.method)).toEqual(["POST", "POST"]);
      const none = await receiver(kind, 0, { noPulls: true });
      const repo = await repoFor(none, { prComment: true });
      await playDeploy(repo, { release: deployed });
      expect(none.problems()).toEqual([]);
      expect(none.requests.map((x) => x.method)).toEqual(["POST", "POST", "GET"]);
      // Gitea's 404 ("no pull request") is an answer, not a failure.
      expect((await store.notifications.list({ scope: repo.name })).map((d) => d.status)).toEqual(
        Array(3).fill("delivered"),
      );
      for (const r of [off, failed, none]) expect(r.problems()).toEqual([]);
    },
  );

  it("a comment is sent nowhere without a token, even with comments turned on", async () => {
    const r = await receiver("gitlab");
    const repo = await repoFor(r, { withToken: false, prComment: true });
    await playDeploy(repo, { release: deployed });
    expect(r.requests).toEqual([]);
    expect(await store.notifications.list({ scope: repo.name })).toEqual([]);
  });

  it("a Gitea pull request lookup refused (401, not 404) fails the comment at once, naming no token", async () => {
    const r = await receiver("gitea");
    const repo = await repoFor(r, { prComment: true });
    const wrong = `${token}-revoked`;
    await store.forge.update(
      repo,
      { token: sealForgeToken(key, repo.name, new SecretValue(wrong)) },
      "admin",
    );
    await playDeploy(repo, { release: deployed });
    expect(r.requests.map((x) => [x.method, x.status])).toEqual([
      ["POST", 401],
      ["POST", 401],
      ["GET", 401],
    ]);
    const log = await store.notifications.list({ scope: repo.name });
    expect(log.map((d) => [d.eventType, d.status, d.attempts]).reverse()).toEqual([
      ["forge.status", "failed", 1],
      ["forge.status", "failed", 1],
      ["forge.comment", "failed", 1],
    ]);
    expect(log[0].lastError).toContain("Gitea answered HTTP 401");
    for (const d of log) expect(JSON.stringify(d)).not.toContain(wrong);
  });
});
