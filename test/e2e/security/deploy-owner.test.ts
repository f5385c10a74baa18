// An app environment belongs to the repository that first deployed it (issue 10, finding 8): a deploy
// of app `billing` from another repository — its own slipway.yaml naming `billing`, or the API's `app`
// field — is refused with a clear error through a real `slipway serve`, before anything is extracted,
// recorded or started: its pre-deploy hook, which would write billing's secret to a file, never runs.
// Only an admin can rebind the app to another repository.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { agentPaths, callAgent } from "../../../src/deploy/index.js";
import { freePort } from "../../support/ports.js";
import { e2eDir } from "../helpers.js";
import { addRepo, api, cleanupAfterAll, makeRepo, type Server, tempDir, test } from "../server/helpers.js";

cleanupAfterAll();

const appJs = readFileSync(join(e2eDir, "deploy", "app", "server.mjs"), "utf8");
const secret = "billing-only-0a9f3c";

function yaml(port: number, opts: { app?: string; leakTo?: string }) {
  return `deploy:
${opts.app ? `  app: ${opts.app}\n` : ""}  services:
    api:
      command: node server.mjs
      cwd: ./app
      replicas: 1
      publish: ${port}
      secrets: [BILLING_TOKEN]
${opts.leakTo ? `      hooks:\n        pre_deploy: sh -c 'printf %s "$BILLING_TOKEN" > ${opts.leakTo}'\n` : ""}      health: { http: /healthz, interval: 100ms, deadline: 10s }
      drain_timeout: 1s
`;
}

async function deploy(server: Server, token: string, repo: string, body: unknown = {}) {
  const res = await fetch(`${server.url}/api/v1/repos/${repo}/deploys`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

describe("deploys are bound to the repository that owns the app", () => {
  test("another repository deploying as app billing is refused; nothing runs; an admin rebinds", async ({
    h,
  }) => {
    const server = await h.startServer();
    const leak = join(tempDir("slipway-leak-"), "stolen");
    const billing = makeRepo({
      "slipway.yaml": yaml(await freePort(), { app: "billing" }),
      "app/server.mjs": appJs,
    });
    const shop = makeRepo({
      "slipway.yaml": yaml(await freePort(), { app: "billing", leakTo: leak }),
      "app/server.mjs": appJs,
    });
    const plain = makeRepo({
      "slipway.yaml": yaml(await freePort(), { leakTo: leak }),
      "app/server.mjs": appJs,
    });
    await addRepo(server, billing, "acme/billing");
    await addRepo(server, shop, "evil/shop");
    await addRepo(server, plain, "evil/plain");
    expect(
      (
        await api(server, "POST", "/api/v1/secrets", {
          name: "BILLING_TOKEN",
          value: secret,
          repo: "billing",
        })
      ).status,
    ).toBe(201);
    const deployer = (await api(server, "POST", "/api/v1/tokens", { name: "ci", role: "deployer" })).body
      .token as string;
    try {
      // The owner's first deploy claims billing/production.
      const first = await deploy(server, deployer, "acme/billing");
      expect(first.status, first.text).toBe(200);
      expect(JSON.parse(first.text.trimEnd().split("\n").at(-1)!).release?.status, first.text).toBe(
        "succeeded",
      );
      expect((await api(server, "GET", "/api/v1/deploy/billing/production/owner")).body.owner).toMatchObject({
        app: "billing",
        env: "production",
        repo: "acme/billing",
      });

      // evil/shop's slipway.yaml says app: billing → 403, with who owns it.
      const stolen = await deploy(server, deployer, "evil/shop");
      expect(stolen.status, stolen.text).toBe(403);
      expect(JSON.parse(stolen.text).error).toMatch(
        /billing\/production belongs to repository acme\/billing; evil\/shop cannot deploy it/,
      );
      // The API's `app` field is no way around it.
      const viaBody = await deploy(server, deployer, "evil/plain", { app: "billing" });
      expect(viaBody.status, viaBody.text).toBe(403);
      // Nothing ran (the hook would have written the secret), nothing was recorded, nothing extracted.
      expect(existsSync(leak)).toBe(false);
      const releases = await api(server, "GET", "/api/v1/releases?app=billing");
      expect(releases.body.releases.map((r: { number: number }) => r.number)).toEqual([1]);
      expect(existsSync(join(server.dataDir, "deploy-checkouts", "evil"))).toBe(false);

      // Rebinding is an admin's decision.
      const asDeployer = await api(
        server,
        "PUT",
        "/api/v1/deploy/billing/production/owner",
        { repo: "evil/shop" },
        deployer,
      );
      expect(asDeployer.status).toBe(403);
      const rebound = await api(server, "PUT", "/api/v1/deploy/billing/production/owner", {
        repo: "evil/plain",
      });
      expect(rebound.status, JSON.stringify(rebound.body)).toBe(200);
      expect(rebound.body.owner.repo).toBe("evil/plain");
      // Now the former owner is the one refused.
      expect((await deploy(server, deployer, "acme/billing")).status).toBe(403);
      // The CLI shows and moves it too (admin token).
      const shown = await h.cliOk(server, ["deploy", "owner", "--server", "--app", "billing", "--json"]);
      expect(shown.json).toMatchObject({ app: "billing", env: "production", repo: "evil/plain" });
      const moved = await h.cliOk(server, [
        "deploy",
        "owner",
        "--server",
        "--app",
        "billing",
        "--bind",
        "acme/billing",
      ]);
      expect(moved.stdout).toBe("billing/production: acme/billing\n");
      expect((await deploy(server, deployer, "evil/plain", { app: "billing" })).status).toBe(403);
    } finally {
      await callAgent(agentPaths(server.dataDir, "billing", "production").socketPath, "POST", "/shutdown", {
        stopInstances: true,
      }).catch(() => undefined);
    }
  });
});
