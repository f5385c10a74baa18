// The dashboard in a real Chromium against a real `slipway serve` (SQLite): sign in with a token, watch a
// run go from queued to success with its log streaming in, re-run one failed job and see the others
// reused, and a viewer who is shown no buttons and whose forged requests are refused.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect } from "vitest";
import {
  addRepo,
  api,
  cleanupAfterAll,
  dispatchRun,
  makeRepo,
  tempDir,
  test,
  waitForRun,
  workflowFile,
} from "../server/helpers.js";
import { signIn, useBrowser } from "./browser.js";

cleanupAfterAll();
const browser = useBrowser();

async function token(server: { url: string; token: string }, name: string, role: string): Promise<string> {
  const r = await api<{ token: string }>(server, "POST", "/api/v1/tokens", { name, role });
  expect(r.status).toBe(201);
  return r.body.token;
}

describe("dashboard", { concurrent: true, timeout: 240_000 }, () => {
  test("signs in, and watches a run go from queued to success with its log streaming", async ({ h }) => {
    const gate = join(tempDir("slipway-gate-"), "open");
    const repo = makeRepo({
      ".github/workflows/live.yml": `name: Live
on: workflow_dispatch
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - name: wait for the gate
        run: |
          echo "before the gate"
          while [ ! -f ${gate} ]; do sleep 0.1; done
          for i in $(seq 1 40); do echo "after the gate $i"; done
`,
    });
    // No runner of its own: the run stays queued until the test starts one.
    const server = await h.startServer({ args: ["--local-runners", "0"] });
    await addRepo(server, repo, "acme/live");
    const s = await signIn(browser(), server, server.token);
    expect(await s.page.textContent("[data-testid=me]")).toContain("admin");
    const id = await dispatchRun(server, "acme/live", "live.yml");
    // The runs list, loaded before the run existed, shows it without a reload (the status stream).
    await s.page.waitForSelector(`tr[data-run="${id}"]`);
    await s.page.click(`tr[data-run="${id}"] a`);
    await s.page.waitForURL(new RegExp(`/runs/${id}$`));
    // Its job waits in the queue for a runner.
    await s.page.waitForSelector("[data-job=build] [data-state=queued]");
    h.startRunner(server, { labels: ["ubuntu-latest"] });
    // Running, the first line arrives while the step still waits at the gate.
    await s.page.waitForSelector("[data-job=build] [data-state=running]");
    await s.page.waitForSelector("[data-testid=log] .line:has-text('before the gate')");
    expect((await api(server, "GET", `/api/v1/runs/${id}`)).body.run.status).toBe("running");
    writeFileSync(gate, "");
    await s.page.waitForSelector("[data-testid=log] .line:has-text('after the gate 40')");
    await s.page.waitForSelector(".run-head [data-state=success]");
    await s.page.waitForSelector("[data-job=build] [data-state=success]");
    // A line link: #L<n> scrolls to and marks that line.
    const n = await s.page.getAttribute("[data-testid=log] .line:has-text('after the gate 3')", "data-line");
    await s.page.click(`[data-testid=log] .line[data-line="${n}"] a.ln`);
    await s.page.waitForSelector(`[data-testid=log] .line.target[data-line="${n}"]`);
    expect(new URL(s.page.url()).hash).toBe(`#L${n}`);
    expect(s.errors).toEqual([]);
    await s.context.close();
  });

  test("re-runs one failed job from its page; the other jobs are reused", async ({ h }) => {
    const dir = tempDir("slipway-fix-");
    const repo = makeRepo({
      ".github/workflows/ci.yml": workflowFile(`name: CI
on: workflow_dispatch
jobs:
  setup:
    runs-on: ubuntu-latest
    steps:
      - run: echo setup
  flaky:
    needs: setup
    runs-on: ubuntu-latest
    steps:
      - run: test -f ${dir}/fixed && echo "fixed now"
  lint:
    runs-on: ubuntu-latest
    steps:
      - run: echo lint
`),
    });
    const server = await h.startServer();
    await addRepo(server, repo, "acme/ci");
    const id = await dispatchRun(server, "acme/ci", "ci.yml");
    await waitForRun(server, id, { timeoutMs: 60_000 });
    const s = await signIn(browser(), server, server.token);
    await s.page.goto(`${server.url}/runs/${id}`);
    await s.page.waitForSelector(".run-head [data-state=failure]");
    // The failed job is the one shown; its edge from `setup` is drawn.
    await s.page.waitForSelector(".job-title:has-text('flaky')");
    expect(await s.page.locator(".graph polyline").count()).toBe(1);
    writeFileSync(join(dir, "fixed"), "");
    await s.page.click("[data-action=rerun-job]");
    await s.page.waitForSelector(".run-head [data-state=success]");
    const view = (await api(server, "GET", `/api/v1/runs/${id}`)).body;
    expect(view.run.attempt).toBe(2);
    const second = view.attempts[1].jobs as { jobKey: string; reusedFrom: number | null }[];
    expect(second.find((j) => j.jobKey === "flaky")?.reusedFrom).toBeNull();
    expect(second.find((j) => j.jobKey === "setup")?.reusedFrom).not.toBeNull();
    expect(second.find((j) => j.jobKey === "lint")?.reusedFrom).not.toBeNull();
    // The page says so: the others are marked reused, the re-run job is not.
    await s.page.waitForSelector("[data-leg=setup] .reused");
    await s.page.waitForSelector("[data-leg=lint] .reused");
    expect(await s.page.locator("[data-leg=flaky] .reused").count()).toBe(0);
    // Re-run all: a third attempt in which every job runs again, none reused.
    await s.page.click("[data-action=rerun-all]");
    const third = await waitForRun(server, id, {
      timeoutMs: 60_000,
      until: (v) => v.run.attempt === 3 && v.run.status === "completed",
    });
    expect(third.run.conclusion).toBe("success");
    expect(third.attempts[2].jobs.map((j) => j.reusedFrom)).toEqual([null, null, null]);
    expect(s.errors).toEqual([]);
    await s.context.close();
  });

  test("a viewer sees no buttons, and its forged or CSRF-less requests are refused", async ({ h }) => {
    const repo = makeRepo({
      ".github/workflows/ci.yml": workflowFile(`name: CI
on: workflow_dispatch
jobs:
  fail:
    runs-on: ubuntu-latest
    steps:
      - run: exit 1
`),
    });
    const server = await h.startServer();
    await addRepo(server, repo, "acme/ro");
    const id = await dispatchRun(server, "acme/ro", "ci.yml");
    await waitForRun(server, id, { timeoutMs: 60_000 });
    const viewer = await token(server, "watcher", "viewer");
    const developer = await token(server, "dev", "developer");

    const v = await signIn(browser(), server, viewer);
    await v.page.goto(`${server.url}/runs/${id}`);
    await v.page.waitForSelector(".run-head [data-state=failure]");
    await v.page.waitForSelector("[data-testid=log][data-loaded=true]");
    expect(await v.page.locator("[data-action]").count()).toBe(0);
    // Forged from the page itself (right Origin, right CSRF token): the role check refuses it.
    const forged = await v.page.evaluate(async (runId) => {
      const s = (await (await fetch("/api/v1/session")).json()) as { csrf: string };
      const r = await fetch(`/api/v1/runs/${runId}/rerun`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": s.csrf },
        body: JSON.stringify({ failed: true }),
      });
      return r.status;
    }, id);
    expect(forged).toBe(403);
    await v.context.close();

    // A developer may re-run, but not with the cookie alone: no CSRF token, refused.
    const d = await signIn(browser(), server, developer);
    await d.page.goto(`${server.url}/runs/${id}`);
    await d.page.waitForSelector("[data-action=rerun-failed]");
    const bare = await d.page.evaluate(async (runId) => {
      const r = await fetch(`/api/v1/runs/${runId}/rerun`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ failed: true }),
      });
      return r.status;
    }, id);
    expect(bare).toBe(403);
    expect((await api(server, "GET", `/api/v1/runs/${id}`)).body.run.attempt).toBe(1);
    // Signing out ends the session on the server: the old cookie no longer reads anything.
    const cookies = await d.context.cookies();
    const session = cookies.find((c) => c.name === "slipway_session")!;
    expect(session.httpOnly).toBe(true);
    expect(session.sameSite).toBe("Strict");
    await d.page.click("text=Sign out");
    await d.page.waitForURL(/\/login/);
    const after = await fetch(`${server.url}/api/v1/runs`, {
      headers: { cookie: `slipway_session=${session.value}` },
    });
    expect(after.status).toBe(401);
    await d.context.close();
  });
});
