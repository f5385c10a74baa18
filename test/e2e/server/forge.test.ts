// Forge feedback from `slipway serve`, end to end: a repository is pointed at a local stand-in for GitHub
// (which checks every request against GitHub's OpenAPI description) with `slipway repo forge`, its token
// set with `slipway repo forge-token --file`; a real run then shows up there as pending, then success
// commit statuses for the run and its job, linking to the dashboard. The token never comes back from the
// API or the CLI. Badges: private until the repository is marked public, and a workflow name carrying
// markup comes out escaped. A deploy through the server becomes a GitHub deployment with its statuses
// and a pull request comment, and the app environment's badge says it is healthy; the badge follows the
// agent's live health as instances turn unhealthy, and says unknown once no agent answers.
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { agentPaths, callAgent } from "../../../src/deploy/index.js";
import { type ForgeReceiver, startForgeReceiver } from "../../support/forge-receiver.js";
import { freePort } from "../../support/ports.js";
import { e2eDir } from "../helpers.js";
import {
  addRepo,
  api,
  cleanupAfterAll,
  dispatchRun,
  makeRepo,
  tempDir,
  test,
  waitFor,
  waitForRun,
  workflowFile,
} from "./helpers.js";

cleanupAfterAll();

const forgeToken = "ghp_e2eForgeToken0123456789abcdefABCDEF";
const xssName = "<img src=x onerror=alert(1)><script>alert(1)";
const publicUrl = "https://slipway.example";

const ci = workflowFile(`
name: ci
on: workflow_dispatch
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo built
`);

const xss = workflowFile(`
name: "${xssName}"
on: workflow_dispatch
jobs:
  x:
    runs-on: ubuntu-latest
    steps:
      - run: echo ok
`);

/** A slipway.yaml deploying the e2e app as one process instance on `port` (app: the repository's name). */
function processSpec(port: number, app?: string): string {
  return [
    "deploy:",
    ...(app ? [`  app: ${app}`] : []),
    "  services:",
    "    api:",
    "      command: node server.mjs",
    "      cwd: ./app",
    "      replicas: 1",
    `      publish: ${port}`,
    "      health:",
    "        http: /healthz",
    "        interval: 100ms",
    "        deadline: 10s",
    "",
  ].join("\n");
}

const appServer = () => readFileSync(join(e2eDir, "deploy", "app", "server.mjs"), "utf8");

/** Points a repository at the stand-in GitHub with `slipway`'s API and sets its token. */
async function pointAtForge(
  server: { url: string; token: string },
  name: string,
  receiver: ForgeReceiver,
  settings: Record<string, unknown> = {},
): Promise<void> {
  const patch = await api(server, "PATCH", `/api/v1/repos/${name}/forge`, {
    provider: "github",
    apiUrl: receiver.apiUrl,
    project: name,
    ...settings,
  });
  expect(patch.status).toBe(200);
  expect((await api(server, "PUT", `/api/v1/repos/${name}/forge/token`, { token: forgeToken })).status).toBe(
    200,
  );
}

/** Stops an app environment's agent and its instances (bounded: a test's end never hangs on it). */
async function stopAgent(dataDir: string, app: string): Promise<void> {
  await Promise.race([
    callAgent(agentPaths(dataDir, app, "production").socketPath, "POST", "/shutdown", {
      stopInstances: true,
    }).catch(() => undefined),
    new Promise((resolve) => setTimeout(resolve, 10_000)),
  ]);
}

describe("forge feedback from the server", () => {
  test("a run reports pending then success statuses to GitHub; badges are private until the repository is public", async ({
    h,
  }) => {
    let receiver: ForgeReceiver | undefined;
    try {
      receiver = await startForgeReceiver({ kind: "github", token: forgeToken });
      const repo = makeRepo({
        ".github/workflows/ci.yml": ci,
        ".github/workflows/xss.yml": xss,
      });
      const server = await h.startServer({
        args: ["--public-url", publicUrl],
        env: { SLIPWAY_NOTIFY_RETRY_MS: "200" },
      });
      await addRepo(server, repo, "acme/app");

      const set = await h.cliOk(server, [
        "repo",
        "forge",
        "acme/app",
        "--provider",
        "github",
        "--api-url",
        receiver.apiUrl,
        "--project",
        "acme/app",
        "--json",
      ]);
      expect(set.json).toMatchObject({
        hasToken: false,
        target: { provider: "github", project: "acme/app" },
      });

      const tokenFile = join(tempDir("slipway-forge-token-"), "token");
      writeFileSync(tokenFile, `${forgeToken}\n`);
      chmodSync(tokenFile, 0o644);
      // A token file others can read is refused, as ssh refuses such a key: nothing is stored.
      const loose = await h.cli(server, ["repo", "forge-token", "acme/app", "--file", tokenFile]);
      expect(loose.code).toBe(2);
      expect(loose.stderr).toContain("chmod 600");
      chmodSync(tokenFile, 0o600);
      const stored = await h.cliOk(server, [
        "repo",
        "forge-token",
        "acme/app",
        "--file",
        tokenFile,
        "--json",
      ]);
      expect(stored.json).toMatchObject({ hasToken: true, token: "[REDACTED]" });
      expect(stored.stdout).not.toContain(forgeToken);
      const shown = await api(server, "GET", "/api/v1/repos/acme/app/forge");
      expect(shown.status).toBe(200);
      expect(JSON.stringify(shown.body)).not.toContain(forgeToken);

      const id = await dispatchRun(server, "acme/app", "ci.yml");
      const view = await waitForRun(server, id);
      expect(view.run.conclusion).toBe("success");
      const jobId = view.attempts[0].jobs[0].id;
      const r = receiver;
      await waitFor("the run's success status", () =>
        r.requests.some(
          (x) =>
            (x.body as { context?: string; state?: string })?.context === "slipway/ci" &&
            (x.body as { state?: string }).state === "success",
        ),
      );
      expect(r.problems()).toEqual([]);
      const statuses = r.requests.map(
        (x) => x.body as { context: string; state: string; target_url: string },
      );
      const of = (context: string) => statuses.filter((s) => s.context === context).map((s) => s.state);
      expect(of("slipway/ci")).toEqual(["pending", "success"]);
      expect(of("slipway/ci/build")).toEqual(["pending", "success"]);
      expect(statuses.find((s) => s.context === "slipway/ci")?.target_url).toBe(`${publicUrl}/runs/${id}`);
      expect(statuses.find((s) => s.context === "slipway/ci/build")?.target_url).toBe(
        `${publicUrl}/runs/${id}/jobs/${jobId}`,
      );
      expect(r.requests.every((x) => x.path === `/repos/acme/app/statuses/${view.run.sha}`)).toBe(true);
      // The reports are in the delivery log, delivered.
      const log = await h.cliOk(server, ["notify", "deliveries", "--json"]);
      expect(log.json.filter((d: { channel: string }) => d.channel === "@forge").length).toBe(
        r.requests.length,
      );
      expect(server.stderr()).not.toContain(forgeToken);

      // Badges: a token is needed until the repository is public; without one, 404 as for none.
      const badgeUrl = `${server.url}/badges/acme/app/ci.svg?branch=main`;
      expect((await fetch(badgeUrl)).status).toBe(404);
      const authed = await fetch(badgeUrl, { headers: { authorization: `Bearer ${server.token}` } });
      expect(authed.status).toBe(200);
      expect(authed.headers.get("content-type")).toContain("image/svg+xml");
      expect(await authed.text()).toContain(">passing</text>");
      expect((await fetch(`${server.url}/badges/apps/web/production.svg`)).status).toBe(404);

      await h.cliOk(server, ["repo", "forge", "acme/app", "--public"]);
      const open = await fetch(badgeUrl);
      expect(open.status).toBe(200);
      expect(await open.text()).toContain(">passing</text>");

      // A workflow name with markup: the badge escapes it.
      const xssRun = await dispatchRun(server, "acme/app", "xss.yml");
      await waitForRun(server, xssRun);
      const evil = await fetch(`${server.url}/badges/acme/app/${encodeURIComponent(xssName)}.svg`);
      expect(evil.status).toBe(200);
      const svg = await evil.text();
      expect(svg).toContain(">passing</text>");
      expect(svg).toContain("&lt;script&gt;alert(1)");
      expect(svg).not.toMatch(/<script|<img/i);
    } finally {
      await receiver?.close();
    }
  });

  test("a deploy through the server is a GitHub deployment with statuses and a PR comment", async ({ h }) => {
    let receiver: ForgeReceiver | undefined;
    const server = await h.startServer({ args: ["--public-url", publicUrl] });
    try {
      receiver = await startForgeReceiver({ kind: "github", token: forgeToken });
      const port = await freePort();
      const repo = makeRepo({ "app/server.mjs": appServer(), "slipway.yaml": processSpec(port) });
      await addRepo(server, repo, "acme/shop");
      await pointAtForge(server, "acme/shop", receiver, { prComment: true });

      const res = await fetch(`${server.url}/api/v1/repos/acme/shop/deploys`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${server.token}` },
        body: JSON.stringify({ version: "v1.0.0" }),
      });
      expect(res.status).toBe(200);
      const last = JSON.parse((await res.text()).trim().split("\n").at(-1)!);
      expect(last.release).toMatchObject({ status: "succeeded", version: "v1.0.0" });

      const r = receiver;
      await waitFor("the pull request comment", () =>
        r.requests.some((x) => x.operation === "issues/create-comment"),
      );
      expect(r.problems()).toEqual([]);
      expect(r.requests.map((x) => x.operation)).toEqual([
        "repos/create-deployment",
        "repos/create-deployment-status",
        "repos/create-deployment-status",
        "repos/list-pull-requests-associated-with-commit",
        "issues/create-comment",
      ]);
      expect(r.requests[0].body).toMatchObject({ ref: repo.head(), environment: "production" });
      expect(r.requests.slice(1, 3).map((x) => (x.body as { state: string }).state)).toEqual([
        "in_progress",
        "success",
      ]);
      expect(r.requests[2].body).toMatchObject({ environment_url: `${publicUrl}/apps/shop/production` });
      expect((r.requests[4].body as { body: string }).body).toContain("`v1.0.0`");

      const badge = await fetch(`${server.url}/badges/apps/shop/production.svg`, {
        headers: { authorization: `Bearer ${server.token}` },
      });
      expect(await badge.text()).toContain(">healthy v1.0.0</text>");
    } finally {
      await receiver?.close();
      await stopAgent(server.dataDir, "shop");
    }
  });

  test("a run's slipway/deploy step is reported too; another step's look-alike outputs are not", async ({
    h,
  }) => {
    let receiver: ForgeReceiver | undefined;
    const server = await h.startServer({ args: ["--public-url", publicUrl] });
    try {
      receiver = await startForgeReceiver({ kind: "github", token: forgeToken });
      const port = await freePort();
      const repo = makeRepo({
        "app/server.mjs": appServer(),
        "slipway.yaml": processSpec(port, "depot"),
        ".github/workflows/deploy.yml": [
          "name: deploy",
          "on: workflow_dispatch",
          "jobs:",
          "  ship:",
          "    runs-on: ubuntu-latest",
          "    steps:",
          "      - uses: actions/checkout@v4",
          "      - id: deploy",
          "        uses: slipway/deploy@v1",
          "        with:",
          "          version: v2.0.0",
          // A step that claims the same release in its outputs: its words, not a deploy.
          "      - id: pretend",
          "        run: |",
          '          echo "app=depot" >> "$GITHUB_OUTPUT"',
          '          echo "env=production" >> "$GITHUB_OUTPUT"',
          '          echo "release=1" >> "$GITHUB_OUTPUT"',
          "",
        ].join("\n"),
      });
      await addRepo(server, repo, "acme/depot");
      await pointAtForge(server, "acme/depot", receiver);

      const id = await dispatchRun(server, "acme/depot", "deploy.yml");
      const done = await waitForRun(server, id);
      expect(done.run.conclusion, JSON.stringify(done)).toBe("success");
      // The release is the server's: the step deployed with the server's store.
      const releases = await api<{ releases: { app: string; number: number; trigger: string }[] }>(
        server,
        "GET",
        "/api/v1/releases?app=depot",
      );
      expect(releases.body.releases).toEqual([
        expect.objectContaining({ app: "depot", number: 1, trigger: "workflow" }),
      ]);

      const r = receiver;
      await waitFor("the deployment's final status", () =>
        r.requests.some(
          (x) =>
            x.operation === "repos/create-deployment-status" &&
            (x.body as { state?: string }).state === "success",
        ),
      );
      expect(r.problems()).toEqual([]);
      const deployments = r.requests.filter((x) => x.operation === "repos/create-deployment");
      // One deployment: the deploy step's, not a second one for the look-alike outputs.
      expect(deployments).toHaveLength(1);
      expect(deployments[0].body).toMatchObject({ ref: repo.head(), environment: "production" });
      expect(
        r.requests
          .filter((x) => x.operation === "repos/create-deployment-status")
          .map((x) => (x.body as { state: string }).state),
      ).toEqual(["in_progress", "success"]);
    } finally {
      await receiver?.close();
      await stopAgent(server.dataDir, "depot");
    }
  });

  test("the app badge follows the agent's live health: healthy, degraded, down, then unknown", async ({
    h,
  }) => {
    const server = await h.startServer({ args: ["--public-url", publicUrl] });
    const port = await freePort();
    // Each instance turns its own health check failing on GET /sick (through the router: one of them).
    const app = [
      'import http from "node:http";',
      "let sick = false;",
      "http.createServer((req, res) => {",
      '  if (req.url === "/healthz") { res.writeHead(sick ? 503 : 200); return res.end(); }',
      '  if (req.url === "/sick") sick = true;',
      '  res.end(sick ? "sick" : "ok");',
      '}).listen(Number(process.env.PORT), "127.0.0.1");',
      'process.on("SIGTERM", () => process.exit(0));',
      "",
    ].join("\n");
    try {
      const repo = makeRepo({
        "app/server.mjs": app,
        "slipway.yaml": [
          "deploy:",
          "  services:",
          "    api:",
          "      command: node server.mjs",
          "      cwd: ./app",
          "      replicas: 2",
          `      publish: ${port}`,
          '      restart: "no"',
          "      health:",
          "        http: /healthz",
          "        interval: 100ms",
          "        unhealthy_threshold: 2",
          "        deadline: 10s",
          "",
        ].join("\n"),
      });
      await addRepo(server, repo, "acme/health");
      const badgeUrl = `${server.url}/badges/apps/health/production.svg`;
      const badge = async () => {
        const res = await fetch(badgeUrl);
        return { status: res.status, text: await res.text(), cache: res.headers.get("cache-control") };
      };
      const message = async () => /<text[^>]*>([^<]*)<\/text><\/g><\/svg>$/.exec((await badge()).text)?.[1];

      const res = await fetch(`${server.url}/api/v1/repos/acme/health/deploys`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${server.token}` },
        body: JSON.stringify({ version: "v2.0.0" }),
      });
      const last = JSON.parse((await res.text()).trim().split("\n").at(-1)!);
      expect(last.release).toMatchObject({ status: "succeeded", version: "v2.0.0" });

      // Private: 404 without a token, as for an app that does not exist.
      const hidden = await badge();
      expect(hidden.status).toBe(404);
      expect(hidden.text).toBe(
        await (await fetch(`${server.url}/badges/apps/nothing/production.svg`)).text(),
      );
      expect((await api(server, "PATCH", "/api/v1/repos/acme/health/forge", { public: true })).status).toBe(
        200,
      );

      const healthy = await badge();
      expect(healthy.status).toBe(200);
      expect(healthy.cache).toContain("no-cache");
      expect(await message()).toBe("healthy v2.0.0");
      // Counts only: no instance id, address or port leaves through the badge.
      const status = await api(server, "GET", "/api/v1/deploy/health/production/status");
      const instances = status.body.services[0].instances as { id: string; address: string }[];
      expect(instances).toHaveLength(2);
      for (const i of instances) {
        expect(healthy.text).not.toContain(i.id);
        expect(healthy.text).not.toContain(i.address);
      }
      expect(healthy.text).not.toContain("127.0.0.1");

      await fetch(`http://127.0.0.1:${port}/sick`);
      await waitFor("the badge to say degraded", async () => (await message()) === "degraded 1/2");
      // The other one, once the router sends /sick to it (the sick one leaves the routes).
      await waitFor("the badge to say down", async () => {
        await fetch(`http://127.0.0.1:${port}/sick`).catch(() => undefined);
        return (await message()) === "down";
      });
      expect((await badge()).text).toContain('fill="#e05d44"');

      // No agent answers any more: the last release, marked unknown.
      await callAgent(agentPaths(server.dataDir, "health", "production").socketPath, "POST", "/shutdown", {
        stopInstances: true,
      });
      await waitFor("the badge to say unknown", async () => (await message()) === "unknown, last v2.0.0");
    } finally {
      await Promise.race([
        callAgent(agentPaths(server.dataDir, "health", "production").socketPath, "POST", "/shutdown", {
          stopInstances: true,
        }).catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, 10_000)),
      ]);
    }
  });
});
