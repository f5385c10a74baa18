// Deploy output is masked like a run's log (issue 10, finding 3). A repository's pre-deploy hook prints
// its secret (plain and base64) and its exec health check prints it too, through a real `slipway serve`
// and the deploy agent it starts: no clear secret (nor its base64 or URL form) reaches the NDJSON stream
// the agent sends, the release row and its events in the database (SQLite and PostgreSQL), the agent's
// log and status, a webhook notification received by a local HTTP receiver, or GET /api/v1/releases
// read with a viewer token — while "***" shows that the output itself arrived.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sql } from "kysely";
import { describe, expect } from "vitest";
import { agentPaths, callAgent } from "../../../src/deploy/index.js";
import { startReceiver } from "../../../src/notify/testing.js";
import { openStore } from "../../../src/store/index.js";
import { freePort } from "../../support/ports.js";
import { e2eDir } from "../helpers.js";
import {
  addRepo,
  api,
  cleanupAfterAll,
  createDatabase,
  makeRepo,
  type Server,
  test,
  waitFor,
} from "../server/helpers.js";

cleanupAfterAll();

const appJs = readFileSync(join(e2eDir, "deploy", "app", "server.mjs"), "utf8");
const secret = "Bill1ng-T0ken/with+odd=chars&more";
const forms = [
  secret,
  Buffer.from(secret).toString("base64"),
  encodeURIComponent(secret),
  // A part long enough to be a leak on its own.
  "Bill1ng-T0ken",
];

function slipwayYaml(port: number, hookUrl: string) {
  return `deploy:
  app: billing
  services:
    api:
      command: node server.mjs
      cwd: ./app
      replicas: 1
      publish: ${port}
      secrets: [BILLING_TOKEN, { name: BILLING_FILE, file: billing.key }]
      hooks:
        pre_deploy: sh -c 'echo "migrating with $BILLING_TOKEN"; printf %s "$BILLING_TOKEN" | base64; cat billing.key 2>/dev/null; echo'
      health:
        exec: sh -c 'echo "health sees $BILLING_TOKEN"; exit 1'
        interval: 100ms
        deadline: 2s
      drain_timeout: 1s
notify:
  channels:
    hook: { webhook: { url: "${hookUrl}" } }
  rules:
    - { on: [deploy.started, deploy.failed, deploy.rolled_back, deploy.succeeded], channels: [hook] }
`;
}

function expectNoSecret(what: string, text: string) {
  for (const f of forms) expect(text.includes(f), `${what} holds ${JSON.stringify(f)}:\n${text}`).toBe(false);
}

async function token(server: Server, name: string, role: string): Promise<string> {
  const r = await api<{ token: string }>(server, "POST", "/api/v1/tokens", { name, role });
  expect(r.status).toBe(201);
  return r.body.token;
}

describe.each(["sqlite", "postgres"] as const)("deploy output is masked (%s)", (backend) => {
  test("hook and health output with a secret: stream, release row, events, agent, webhook and API", async ({
    h,
  }) => {
    const database = backend === "postgres" ? await createDatabase() : undefined;
    const server = await h.startServer({ database });
    const receiver = await startReceiver();
    const port = await freePort();
    try {
      const repo = makeRepo({
        "slipway.yaml": slipwayYaml(port, `${receiver.url}/hook`),
        "app/server.mjs": appJs,
      });
      await addRepo(server, repo, "acme/billing");
      for (const [name, value] of [
        ["BILLING_TOKEN", secret],
        ["BILLING_FILE", `file:${secret}`],
      ])
        expect((await api(server, "POST", "/api/v1/secrets", { name, value, repo: "billing" })).status).toBe(
          201,
        );
      const deployer = await token(server, "ci-bot", "deployer");
      const viewer = await token(server, "watcher", "viewer");

      // The deploy: the hook passes (its output is an event), the health check fails (its output is the
      // release's error and an event), the release is rolled back and notified.
      const res = await fetch(`${server.url}/api/v1/repos/acme/billing/deploys`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${deployer}` },
        body: JSON.stringify({}),
      });
      const stream = await res.text();
      expect(res.status, stream).toBe(200);
      const last = JSON.parse(stream.trimEnd().split("\n").at(-1)!);
      expect(last.release?.status ?? last.error?.release?.status, stream).toBe("failed");
      expectNoSecret("the agent's stream", stream);
      // The output did arrive, masked: the hook's line and the health check's.
      expect(stream).toContain("migrating with ***");
      expect(stream).toContain("health sees ***");

      // The API, read with a viewer token.
      const list = await api(server, "GET", "/api/v1/releases?app=billing", undefined, viewer);
      expect(list.status).toBe(200);
      expectNoSecret("GET /api/v1/releases", JSON.stringify(list.body));
      expect(list.body.releases[0].error).toContain("health sees ***");
      const one = await api(server, "GET", "/api/v1/releases/billing/production/1", undefined, viewer);
      expectNoSecret("GET /api/v1/releases/billing/production/1", JSON.stringify(one.body));
      expect(JSON.stringify(one.body.events)).toContain("migrating with ***");

      // The webhook receiver: deploy.failed carries the reason, masked.
      await waitFor("the deploy.failed webhook", () =>
        receiver.requests.some((q) => q.text.includes("deploy.failed")),
      );
      const received = receiver.requests.map((q) => q.text).join("\n");
      expectNoSecret("the webhook deliveries", received);
      expect(received).toContain("health sees ***");

      // The database itself: release rows, events and stored notification bodies.
      const store = await openStore({ dataDir: server.dataDir, url: database });
      try {
        for (const table of ["releases", "release_events", "notification_deliveries"]) {
          const rows = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(
            store.db,
          );
          expect(rows.rows.length, table).toBeGreaterThan(0);
          expectNoSecret(`the ${table} table`, JSON.stringify(rows.rows));
        }
      } finally {
        await store.close();
      }

      // An instance that prints the secret and exits: its log tail is the release's error, masked.
      repo.commit({
        "slipway.yaml": slipwayYaml(port, `${receiver.url}/hook`)
          .replace("command: node server.mjs", `command: sh -c 'echo "booting with $BILLING_TOKEN"; exit 3'`)
          .replace(/ {6}hooks:\n.*\n/, "")
          .replace(/exec: .*\n/, "http: /healthz\n"),
      });
      const crashed = await fetch(`${server.url}/api/v1/repos/acme/billing/deploys`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${deployer}` },
        body: JSON.stringify({}),
      });
      const crashStream = await crashed.text();
      expect(crashStream).toContain("booting with ***");
      expectNoSecret("the second deploy's stream", crashStream);
      const again = await api(server, "GET", "/api/v1/releases?app=billing", undefined, viewer);
      expect(again.body.releases[0].error).toContain("booting with ***");
      expectNoSecret("GET /api/v1/releases after a crash", JSON.stringify(again.body));

      // The agent's own log and its status (last probe output).
      const paths = agentPaths(server.dataDir, "billing", "production");
      expectNoSecret("the agent's log", readFileSync(paths.logFile, "utf8"));
      const status = await callAgent(paths.socketPath, "GET", "/status");
      expect(status?.status).toBe(200);
      expectNoSecret("the agent's status", JSON.stringify(status?.body));
    } finally {
      await callAgent(agentPaths(server.dataDir, "billing", "production").socketPath, "POST", "/shutdown", {
        stopInstances: true,
      }).catch(() => undefined);
      await receiver.close();
    }
  });
});
