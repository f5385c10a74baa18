// Hostile text in every place the dashboard shows it — a workflow, job and step name, a commit message
// (from a push webhook), log lines with HTML, ANSI colours around HTML and OSC 8 hyperlinks to
// javascript: — renders inert in Chromium: no dialog opens, no script/img/svg element or on* attribute
// reaches the page, every link is http(s) or the dashboard's own, and the text is shown as text.
import { describe, expect } from "vitest";
import {
  addRepo,
  api,
  cleanupAfterAll,
  makeRepo,
  pushPayload,
  sendWebhook,
  listRuns,
  test,
  waitFor,
  waitForRun,
} from "../server/helpers.js";
import { type Session, signIn, useBrowser } from "./browser.js";

cleanupAfterAll();
const browser = useBrowser();

const workflow = String.raw`name: "<img src=x onerror=alert('workflow')>"
on: push
jobs:
  evil:
    name: "<script>alert('job')</script>"
    runs-on: ubuntu-latest
    steps:
      - name: "<svg onload=alert('step')>"
        run: |
          echo "<script>alert('log')</script>"
          echo "<img src=x onerror=alert('img')>"
          printf '\033[31mred <b onmouseover=alert(1)>bold</b>\033[0m\n'
          printf '\033]8;;javascript:alert(document.domain)\033\\click me\033]8;;\033\\\n'
          printf '\033]8;;https://example.com/ok\033\\safe link\033]8;;\033\\\n'
          printf '<a href="javascript:alert(2)">plain a</a>\n'
          echo "::warning title=<b onclick=alert(8)>t</b>::<img src=x onerror=alert('annotation')>"
          echo '[summary link](javascript:alert(9)) <img src=x onerror=alert(10)> <script>alert(11)</script>' >> "$GITHUB_STEP_SUMMARY"
`;

/** Everything on the page that could run code, and every link target (evaluated in the page). */
const dangersScript = `(() => {
  const all = [...document.querySelectorAll("body *")];
  return {
    active: all
      .filter((e) => ["SCRIPT", "IMG", "SVG", "IFRAME", "OBJECT", "EMBED"].includes(e.tagName.toUpperCase()))
      .filter((e) => !(e.tagName.toUpperCase() === "SVG" && e.classList.contains("edges")))
      .map((e) => e.outerHTML),
    handlers: all.flatMap((e) => [...e.attributes].filter((a) => /^on/i.test(a.name)).map((a) => a.name)),
    hrefs: [...document.querySelectorAll("a[href]")].map((a) => a.href),
    text: document.body.innerText,
  };
})()`;

type Dangers = { active: string[]; handlers: string[]; hrefs: string[]; text: string };

async function dangers(s: Session): Promise<Dangers> {
  return (await s.page.evaluate(dangersScript)) as Dangers;
}

describe("XSS fixtures", { timeout: 240_000 }, () => {
  test("hostile names, commit messages and log lines render as inert text", async ({ h }) => {
    const repo = makeRepo({ "README.md": "x\n" });
    const server = await h.startServer();
    const secret = await addRepo(server, repo, "acme/evil");
    const before = repo.head();
    const after = repo.commit(
      { ".github/workflows/evil.yml": workflow },
      "<script>alert('commit')</script> <img src=x onerror=alert('c')>",
    );
    const sent = await sendWebhook(server, "push", pushPayload(repo, "acme/evil", { before, after }), secret);
    expect(sent.status).toBeLessThan(300);
    const runId = await waitFor("the pushed run", async () => (await listRuns(server))[0]?.id, 60_000);
    await waitForRun(server, runId, { timeoutMs: 60_000 });

    const s = await signIn(browser(), server, server.token);
    // The runs list: the commit message and workflow name as text.
    await s.page.waitForSelector(`tr[data-run="${runId}"]`);
    let d = await dangers(s);
    expect(d.text).toContain("<script>alert('commit')</script>");
    expect(d.text).toContain("<img src=x onerror=alert('workflow')>");
    expect(d.active).toEqual([]);
    expect(d.handlers).toEqual([]);

    // The run page: job and step names, and the log.
    await s.page.goto(`${server.url}/runs/${runId}`);
    await s.page.waitForSelector("[data-testid=log][data-loaded=true] .line:has-text('safe link')");
    d = await dangers(s);
    expect(d.text).toContain("<script>alert('job')</script>");
    expect(d.text).toContain("<svg onload=alert('step')>");
    expect(d.text).toContain("<script>alert('log')</script>");
    expect(d.text).toContain("<img src=x onerror=alert('img')>");
    expect(d.text).toContain('<a href="javascript:alert(2)">plain a</a>');
    expect(d.active).toEqual([]);
    expect(d.handlers).toEqual([]);
    for (const href of d.hrefs) expect(href).toMatch(new RegExp(`^(${server.url}/|https://example\\.com/)`));
    // The OSC 8 link to https: kept as a link; the one to javascript: shown without one.
    expect(d.hrefs).toContain("https://example.com/ok");
    expect(await s.page.locator("[data-testid=log] a:has-text('click me')").count()).toBe(0);
    // ANSI colour applied by class, the HTML inside it escaped.
    expect(await s.page.locator("[data-testid=log] .ansi-red-fg:has-text('red <b')").count()).toBe(1);
    // Annotations and step summaries, where the server keeps them (GET /api/v1/runs/:id with
    // annotations/summary per job): shown, and as inert as the rest (the checks above ran over them).
    const job = (await api(server, "GET", `/api/v1/runs/${runId}`)).body.attempts[0].jobs[0];
    if (job.summary !== undefined) {
      await s.page.waitForSelector(".summary:has-text('summary link')");
      await s.page.waitForSelector(".annotations:has-text(\"<img src=x onerror=alert('annotation')>\")");
      // With the step that made it, whose name is markup too: shown as text.
      await s.page.waitForSelector(
        "[data-testid=annotation-step]:has-text(\"in <svg onload=alert('step')>\")",
      );
      const again = await dangers(s);
      expect(again.active).toEqual([]);
      expect(again.handlers).toEqual([]);
      expect(again.hrefs.some((h) => h.startsWith("javascript:"))).toBe(false);
    }
    // A line link is still a line link.
    expect(d.hrefs.some((h) => /#L\d+$/.test(h))).toBe(true);
    expect(s.dialogs).toEqual([]);
    expect(s.errors).toEqual([]);
    await s.context.close();
  });
});
