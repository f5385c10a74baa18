// The audit log as an operator reads it: `slipway audit` lists who added a repository, rotated its
// webhook secret, created and revoked tokens, registered and disabled runners and rebound an app
// environment to a repository (its secrets follow), filtered by repository
// and action; never a token or a webhook secret. Only admins read it. `repo rotate-secret` asks first
// (refuses without --yes when no one can answer), then prints the new secret once; from then on the old
// secret is refused and the new one verifies.
import { describe, expect } from "vitest";
import {
  addRepo,
  api,
  cleanupAfterAll,
  makeRepo,
  pingPayload,
  sendWebhook,
  test,
  workflowFile,
} from "./helpers.js";

cleanupAfterAll();

type Entry = {
  id: number;
  actor: string;
  action: string;
  subject: string;
  repo: string | null;
  env: string | null;
  detail: any;
};

describe("the audit log", { concurrent: true }, () => {
  test("records admins' changes with who made them, filters them, and shows admins only", async ({ h }) => {
    const server = await h.startServer();
    const repo = makeRepo({ ".github/workflows/ci.yml": workflowFile("on: push\njobs: {}\n") });
    const secret = await addRepo(server, repo, "acme/shop", { viaCli: h });

    const refused = await h.cli(server, ["repo", "rotate-secret", "acme/shop"]);
    expect(refused.code, "no terminal: refuses without --yes").toBe(2);
    expect(refused.stderr).toMatch(/Rotate acme\/shop's webhook secret.*pass --yes to confirm/);
    expect((await sendWebhook(server, "ping", pingPayload(repo, "acme/shop"), secret)).status).toBe(200);

    const rotated = await h.cliOk(server, ["repo", "rotate-secret", "acme/shop", "--yes", "--json"]);
    const fresh = rotated.json.webhookSecret as string;
    expect(fresh).toMatch(/^\S{32,}$/);
    expect(fresh).not.toBe(secret);
    expect((await sendWebhook(server, "ping", pingPayload(repo, "acme/shop"), secret)).status).toBe(401);
    expect((await sendWebhook(server, "ping", pingPayload(repo, "acme/shop"), fresh)).status).toBe(200);

    const bot = await h.cliOk(server, ["token", "create", "deploy-bot", "--role", "developer", "--json"]);
    await h.cliOk(server, ["token", "revoke", String(bot.json.id), "--yes"]);
    const viewer = await h.cliOk(server, ["token", "create", "dash", "--role", "viewer", "--json"]);
    const runner = await api(server, "POST", "/api/v1/runners", { name: "gpu-1", labels: ["gpu"] });
    expect(runner.status).toBe(201);
    expect((await api(server, "POST", "/api/v1/runners/gpu-1/disable")).status).toBe(200);
    const rebind = await api(server, "PUT", "/api/v1/deploy/billing/production/owner", { repo: "acme/shop" });
    expect(rebind.status, JSON.stringify(rebind.body)).toBe(200);

    const all = (await h.cliOk(server, ["audit", "--json"])).json.audit as Entry[];
    expect(all.map((e) => `${e.action} ${e.subject}`)).toEqual([
      "deploy.rebind billing/production",
      "runner.disable gpu-1",
      "runner.register gpu-1",
      "token.create dash",
      "token.revoke deploy-bot",
      "token.create deploy-bot",
      "repo.webhook-secret.rotate acme/shop",
      "repo.add acme/shop",
    ]);
    // The admin token the server made at its first start is the actor.
    expect(new Set(all.map((e) => e.actor)).size).toBe(1);
    expect(all.find((e) => e.action === "token.create")?.detail).toMatchObject({ role: "viewer" });
    expect(all.find((e) => e.action === "runner.register")?.detail).toMatchObject({ labels: ["gpu"] });
    const text = JSON.stringify(all);
    for (const value of [secret, fresh, bot.json.token, viewer.json.token, runner.body.token])
      expect(text).not.toContain(value);

    const forRepo = (await h.cliOk(server, ["audit", "--repo", "acme/shop", "--json"])).json.audit as Entry[];
    expect(forRepo.map((e) => e.action)).toEqual(["deploy.rebind", "repo.webhook-secret.rotate", "repo.add"]);
    expect(forRepo[0]).toMatchObject({ env: "production", detail: { from: null, to: "acme/shop" } });
    const tokens = (await h.cliOk(server, ["audit", "--action", "token.", "--json"])).json.audit as Entry[];
    expect(tokens.map((e) => e.action)).toEqual(["token.create", "token.revoke", "token.create"]);

    // Paging back: two at a time, then from where the first page ended.
    const page = await h.cliOk(server, ["audit", "-L", "2", "--json"]);
    expect(page.json.audit.map((e: Entry) => e.action)).toEqual(["deploy.rebind", "runner.disable"]);
    const rest = await h.cliOk(server, ["audit", "--before", String(page.json.next), "-L", "2", "--json"]);
    expect(rest.json.audit.map((e: Entry) => e.action)).toEqual(["runner.register", "token.create"]);

    const human = await h.cliOk(server, ["audit", "--repo", "acme/shop"]);
    expect(human.stdout).toMatch(/^ID\s+AT\s+ACTOR\s+ACTION\s+SUBJECT\s+WHERE\s+DETAIL\n/);
    expect(human.stdout).toMatch(/repo\.add\s+acme\/shop\s+acme\/shop\s+url=\S+ branch=main/);

    // Viewers and developers cannot read it.
    expect((await api(server, "GET", "/api/v1/audit", undefined, viewer.json.token)).status).toBe(403);
  });

  test("bad filters are refused with the parameter named, and nothing else is listed", async ({ h }) => {
    const server = await h.startServer();
    const bad = await h.cli(server, ["audit", "--action", "secret%"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/'action' must be an action such as secret\.set/);
    const limit = await h.cli(server, ["audit", "-L", "0"]);
    expect(limit.code).toBe(2);
    expect(limit.stderr).toMatch(/'limit' must be a whole number from 1 to 1000, got '0'/);
    const before = await h.cli(server, ["audit", "--before", "x"]);
    expect(before.code).toBe(2);
    expect(before.stderr).toMatch(/'before' must be a whole number/);
    const rotate = await h.cli(server, ["repo", "rotate-secret", "no/such", "--yes"]);
    expect(rotate.code).toBe(2);
    expect(rotate.stderr).toMatch(/no repository named 'no\/such'/);
    expect((await h.cliOk(server, ["audit", "--json"])).json.audit).toEqual([]);
  });
});
