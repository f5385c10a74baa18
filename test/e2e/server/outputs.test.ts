// The server shows what a local run shows: a workflow run by `slipway serve` (its own runner, and a
// remote `slipway runner`) writes annotations, a step summary and an artifact; `slipway runs show`
// (human and --json) and `slipway artifacts list|download` give them back, secrets masked.
import { describe, expect } from "vitest";
import {
  addRepo,
  api,
  cleanupAfterAll,
  dispatchRun,
  type Harness,
  jobOf,
  makeRepo,
  test,
  waitForRun,
} from "./helpers.js";

cleanupAfterAll();

const name = "acme/app";
const secret = "hunter2-very-secret";

const workflow = `name: Outputs
on: workflow_dispatch
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "::warning file=src/app.js,line=3,col=5,title=Careful::slow path used"
          echo "::error file=src/app.js,line=9::token \${{ secrets.TOKEN }} leaked"
          echo "::notice::all done"
          echo "## Results" >> "$GITHUB_STEP_SUMMARY"
          echo "| tests | 12 |" >> "$GITHUB_STEP_SUMMARY"
          echo "secret is \${{ secrets.TOKEN }}" >> "$GITHUB_STEP_SUMMARY"
`;

async function runOn(h: Harness, serverArgs: string[], remote: boolean) {
  const repo = makeRepo({ ".github/workflows/outputs.yml": workflow });
  const server = await h.startServer({ args: serverArgs });
  await addRepo(server, repo, name);
  const set = await api(server, "POST", "/api/v1/secrets", { name: "TOKEN", value: secret, repo: name });
  expect(set.status).toBe(201);
  if (remote) h.startRunner(server, { labels: ["ubuntu-latest"] });
  const id = await dispatchRun(server, name, "outputs.yml");
  const view = await waitForRun(server, id, { timeoutMs: 60_000 });
  return { server, id, view };
}

describe.concurrent("server runs keep annotations and step summaries", () => {
  for (const remote of [false, true]) {
    test(`${remote ? "a remote runner" : "the server's own runner"}: runs show --json and the human view`, async ({
      h,
    }) => {
      const { server, id, view } = await runOn(h, remote ? ["--local-runners", "0"] : [], remote);
      expect(view.run.conclusion).toBe("success");
      if (remote) expect(jobOf(view, "build").runnerId).not.toMatch(/^local-/);
      const shown = await h.cliOk(server, ["runs", "show", String(id), "--json"]);
      const job = shown.json.attempts[0].jobs[0];
      expect(job.annotations).toEqual([
        {
          level: "warning",
          message: "slow path used",
          file: "src/app.js",
          line: 3,
          col: 5,
          title: "Careful",
        },
        { level: "error", message: "token *** leaked", file: "src/app.js", line: 9 },
        { level: "notice", message: "all done" },
      ]);
      expect(job.summary).toBe("## Results\n| tests | 12 |\nsecret is ***\n");
      const human = await h.cliOk(server, ["runs", "show", String(id)]);
      expect(human.stdout).toContain("warning: src/app.js:3:5: Careful: slow path used");
      expect(human.stdout).toContain("error: src/app.js:9: token *** leaked");
      expect(human.stdout).toContain("notice: all done");
      expect(human.stdout).toContain("        ## Results\n        | tests | 12 |\n        secret is ***\n");
      expect(JSON.stringify(shown.json) + human.stdout).not.toContain(secret);
    });
  }
});
