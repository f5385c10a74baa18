// Approving and rejecting a job waiting at a protected environment, from the run page in a real
// Chromium against a real `slipway serve`: the page shows which environment it waits for and who may
// approve; a developer who is not a reviewer sees no buttons and a forged approve is refused 403 with
// the rule; the run's own trigger (an admin, no self-review) may reject but not approve; a deployer's
// click lets the job run to success, live; a rejection from the page ends the run `failure` with the
// reason, which renders inert; an approve without the CSRF token is refused.
import { describe, expect } from "vitest";
import {
  addRepo,
  api,
  cleanupAfterAll,
  dispatchRun,
  jobOf,
  makeRepo,
  type RunView,
  type Server,
  test,
  waitForRun,
} from "../server/helpers.js";
import { type Session, signIn, useBrowser } from "./browser.js";

cleanupAfterAll();
const browser = useBrowser();

const name = "acme/app";
const workflow = `name: Deploy
on: workflow_dispatch
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo built
  deploy:
    needs: build
    runs-on: ubuntu-latest
    environment: production
    steps:
      - run: echo "deployed \${{ github.run_id }}"
`;

async function token(server: Server, who: string, role: string): Promise<string> {
  const r = await api<{ token: string }>(server, "POST", "/api/v1/tokens", { name: who, role });
  expect(r.status).toBe(201);
  return r.body.token;
}

const waiting = (v: RunView) =>
  v.run.status === "waiting" &&
  v.attempts[0]?.jobs.some((j) => j.jobKey === "deploy" && j.status === "waiting");

type GateJson = { environment: string; canApprove: boolean; canReject: boolean; approveRefusal?: string };
async function gatesFor(server: Server, id: number, as: string): Promise<GateJson[]> {
  return (await api<{ environments: GateJson[] }>(server, "GET", `/api/v1/runs/${id}`, undefined, as)).body
    .environments;
}

/** A POST from the page itself with the session's CSRF token (or without it): status and body. */
async function forge(s: Session, path: string, body: unknown, withCsrf = true) {
  return s.page.evaluate(
    async ([p, b, csrf]) => {
      const { csrf: token } = (await (await fetch("/api/v1/session")).json()) as { csrf: string };
      const r = await fetch(p, {
        method: "POST",
        headers: { "content-type": "application/json", ...(csrf ? { "x-csrf-token": token } : {}) },
        body: JSON.stringify(b),
      });
      return { status: r.status, text: await r.text() };
    },
    [path, body, withCsrf] as const,
  );
}

async function openRun(s: Session, server: Server, id: number): Promise<void> {
  await s.page.goto(`${server.url}/runs/${id}`);
  await s.page.waitForSelector("[data-gate=production][data-status=pending]");
}

describe("run page: protected environments", { timeout: 240_000 }, () => {
  test("a developer sees no buttons and is refused; a deployer approves and the job runs; a rejection ends the run with the reason", async ({
    h,
  }) => {
    const repo = makeRepo({ ".github/workflows/deploy.yml": workflow });
    const server = await h.startServer();
    await addRepo(server, repo, name);
    const put = await api(server, "PUT", `/api/v1/environments/production?repo=${name}`, {
      reviewers: ["deployer"],
    });
    expect(put.status).toBe(201);
    const bob = await token(server, "bob", "developer");
    const alice = await token(server, "alice", "deployer");
    const id = await dispatchRun(server, name, "deploy.yml");
    await waitForRun(server, id, { until: waiting });

    // The server says who may decide, by the rules approve/reject apply.
    expect(await gatesFor(server, id, bob)).toEqual([
      expect.objectContaining({
        environment: "production",
        canApprove: false,
        canReject: false,
        approveRefusal: "production requires approval by role deployer; you are bob (developer)",
      }),
    ]);
    expect(await gatesFor(server, id, alice)).toEqual([
      expect.objectContaining({ canApprove: true, canReject: true }),
    ]);
    const vic = await token(server, "vic", "viewer");
    expect(await gatesFor(server, id, vic)).toEqual([
      expect.objectContaining({
        canApprove: false,
        canReject: false,
        approveRefusal: "deciding needs the developer role; you are vic (viewer)",
      }),
    ]);
    // The admin started the run: no self-review, so it may reject but not approve.
    expect(await gatesFor(server, id, server.token)).toEqual([
      expect.objectContaining({ canApprove: false, canReject: true }),
    ]);

    // The developer: what it waits for and who may approve, and no buttons.
    const b = await signIn(browser(), server, bob);
    await openRun(b, server, id);
    expect(await b.page.textContent("[data-gate=production] [data-testid=may-approve]")).toBe(
      "role deployer",
    );
    expect(await b.page.textContent("[data-gate=production]")).toContain("jobs: deploy");
    expect(await b.page.locator("[data-action=approve], [data-action=reject]").count()).toBe(0);
    expect(await b.page.textContent("[data-testid=cannot-approve]")).toContain(
      "requires approval by role deployer",
    );
    // Forged from its page with the right CSRF token: refused with the rule, nothing decided.
    const forged = await forge(b, `/api/v1/runs/${id}/approve`, { environment: "production" });
    expect(forged.status).toBe(403);
    expect(forged.text).toContain("production requires approval by role deployer; you are bob (developer)");
    expect((await forge(b, `/api/v1/runs/${id}/reject`, { reason: "x" })).status).toBe(403);
    expect((await api(server, "GET", `/api/v1/runs/${id}`)).body.run.status).toBe("waiting");
    await b.context.close();

    // The admin who triggered it sees Reject and not Approve.
    const ad = await signIn(browser(), server, server.token);
    await openRun(ad, server, id);
    await ad.page.waitForSelector("[data-gate=production] [data-action=reject]");
    expect(await ad.page.locator("[data-action=approve]").count()).toBe(0);
    expect(await ad.page.textContent("[data-testid=cannot-approve]")).toContain("does not allow self-review");
    await ad.context.close();

    // The deployer: without the CSRF token its approve is refused; with a click it goes, live.
    const a = await signIn(browser(), server, alice);
    await openRun(a, server, id);
    expect((await forge(a, `/api/v1/runs/${id}/approve`, {}, false)).status).toBe(403);
    expect((await api(server, "GET", `/api/v1/runs/${id}`)).body.run.status).toBe("waiting");
    await a.page.click("[data-gate=production] [data-action=approve]");
    await a.page.waitForSelector("[data-gate=production][data-status=approved]");
    expect(await a.page.textContent("[data-gate=production] [data-testid=decision]")).toContain(
      "approved by alice",
    );
    await a.page.waitForSelector(".run-head [data-state=success]");
    expect(await a.page.locator("[data-action=approve], [data-action=reject]").count()).toBe(0);
    const done = await waitForRun(server, id, { timeoutMs: 60_000 });
    expect(done.run.conclusion).toBe("success");
    expect(jobOf(done, "deploy").status).toBe("success");

    // Another run, rejected from the page with a hostile reason: failure, the reason shown as text.
    const second = await dispatchRun(server, name, "deploy.yml");
    await waitForRun(server, second, { until: waiting });
    await openRun(a, server, second);
    const reason = `<script>alert('reason')</script> <img src=x onerror=alert(1)> javascript:alert(2) change freeze`;
    await a.page.fill("[data-gate=production] input[name=reason]", reason);
    await a.page.click("[data-gate=production] [data-action=reject]");
    await a.page.waitForSelector(".run-head [data-state=failure]");
    await a.page.waitForSelector("[data-gate=production][data-status=rejected]");
    const failed = await waitForRun(server, second, { timeoutMs: 60_000 });
    expect(failed.run.conclusion).toBe("failure");
    expect(failed.run.reason).toBe(`environment production rejected by alice: ${reason}`);
    expect(jobOf(failed, "deploy").status).toBe("failure");
    expect(await a.page.textContent("[data-gate=production] [data-testid=gate-reason]")).toBe(reason);
    expect(await a.page.textContent(".run .sub .reason")).toContain(reason);
    const active = (await a.page.evaluate(`[...document.querySelectorAll("body *")].flatMap((e) => [
      ...(["SCRIPT", "IMG", "IFRAME", "OBJECT", "EMBED"].includes(e.tagName.toUpperCase()) ? [e.outerHTML] : []),
      ...[...e.attributes].filter((x) => /^on/i.test(x.name)).map((x) => e.tagName + " " + x.name),
      ...(e.tagName === "A" && /^javascript:/i.test(e.getAttribute("href") || "") ? [e.outerHTML] : []),
    ])`)) as string[];
    expect(active).toEqual([]);
    expect(a.dialogs).toEqual([]);
    expect(a.errors).toEqual([]);
    await a.context.close();
  });
});
