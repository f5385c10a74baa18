// The server shows what a local run shows: a workflow run by `slipway serve` (its own runner, and a
// remote `slipway runner`) writes annotations, a step summary and an artifact that a later job
// downloads; `slipway runs show` (human and --json) and `slipway artifacts list|download` give them
// back, secrets masked; each annotation names its step, environment.url uses the steps context, the
// artifact downloads as a zip too, and a later run takes it by run id. Over the cap an upload fails
// its step and leaves nothing.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect } from "vitest";
import {
  addRepo,
  api,
  cleanupAfterAll,
  dispatchRun,
  type Harness,
  jobOf,
  logText,
  makeRepo,
  tempDir,
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
          mkdir -p dist/sub
          echo hello > dist/a.txt
          echo nested > dist/sub/b.txt
      - uses: actions/upload-artifact@v4
        with:
          name: dist
          path: dist
          retention-days: 3
  use:
    needs: build
    runs-on: ubuntu-latest
    environment:
      name: preview
      url: \${{ steps.site.outputs.url }}
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: dist
          path: got
      - run: echo "got $(cat got/a.txt) and $(cat got/sub/b.txt)"
      - name: Skipped
        if: false
        run: echo "::error::never"
      - id: site
        name: Publish
        run: |
          echo "url=https://preview.example/run-\${{ github.run_id }}" >> "$GITHUB_OUTPUT"
          echo "::notice::published"
`;

// A later run that takes the first run's artifact by its run id, as a promotion workflow does.
const promote = `name: Promote
on:
  workflow_dispatch:
    inputs:
      from:
        required: true
jobs:
  promote:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: dist
          path: promoted
          run-id: \${{ inputs.from }}
          github-token: \${{ secrets.GITHUB_TOKEN }}
      - run: echo "promoted $(cat promoted/a.txt) from run \${{ inputs.from }}"
`;

async function runOn(h: Harness, files: Record<string, string>, serverArgs: string[], remote: boolean) {
  const repo = makeRepo(files);
  const server = await h.startServer({ args: remote ? ["--local-runners", "0", ...serverArgs] : serverArgs });
  await addRepo(server, repo, name);
  const set = await api(server, "POST", "/api/v1/secrets", { name: "TOKEN", value: secret, repo: name });
  expect(set.status).toBe(201);
  // Two remote runners: the download may run on another machine than the upload.
  if (remote) for (const n of [1, 2]) h.startRunner(server, { labels: ["ubuntu-latest"], name: `r${n}` });
  const id = await dispatchRun(server, name, Object.keys(files)[0].split("/").pop()!);
  const view = await waitForRun(server, id, { timeoutMs: 90_000 });
  return { server, id, view };
}

describe.concurrent("a server run shows what a local run shows", () => {
  for (const remote of [false, true]) {
    test(`${remote ? "remote runners" : "the server's own runner"}: annotations, summary and artifacts`, async ({
      h,
    }) => {
      const { server, id, view } = await runOn(
        h,
        { ".github/workflows/outputs.yml": workflow, ".github/workflows/promote.yml": promote },
        [],
        remote,
      );
      expect(view.run.conclusion).toBe("success");
      if (remote) expect(jobOf(view, "build").runnerId).not.toMatch(/^local-/);
      const shown = await h.cliOk(server, ["runs", "show", String(id), "--json"]);
      const job = shown.json.attempts[0].jobs.find((j: { jobKey: string }) => j.jobKey === "build");
      // Each with the step that made it: the number is the step's place in the job's steps.
      const step = { stepNumber: 1, stepName: job.steps[0].name };
      expect(step.stepName).toMatch(/^Run echo "::warning/);
      expect(job.annotations).toEqual([
        {
          level: "warning",
          message: "slow path used",
          file: "src/app.js",
          line: 3,
          col: 5,
          title: "Careful",
          ...step,
        },
        { level: "error", message: "token *** leaked", file: "src/app.js", line: 9, ...step },
        { level: "notice", message: "all done", ...step },
      ]);
      // environment.url evaluated when the job ended, with its steps' outputs (a step after the download).
      const use = shown.json.attempts[0].jobs.find((j: { jobKey: string }) => j.jobKey === "use");
      expect(use.environmentUrl).toBe(`https://preview.example/run-${id}`);
      // A later step's annotation: its number is its place among the job's steps, the skipped one counted.
      const publish = use.steps.findIndex((st: { name: string }) => st.name === "Publish");
      expect(use.steps[publish - 1].name).toBe("Skipped");
      expect(use.annotations).toEqual([
        { level: "notice", message: "published", stepNumber: publish + 1, stepName: "Publish" },
      ]);
      expect(shown.json.environments).toEqual([
        expect.objectContaining({ environment: "preview", url: `https://preview.example/run-${id}` }),
      ]);
      expect(job.summary).toBe("## Results\n| tests | 12 |\nsecret is ***\n");
      const human = await h.cliOk(server, ["runs", "show", String(id)]);
      expect(human.stdout).toContain(
        `warning: src/app.js:3:5: Careful: slow path used (step 1: ${step.stepName})`,
      );
      expect(human.stdout).toContain("error: src/app.js:9: token *** leaked");
      expect(human.stdout).toContain("notice: all done");
      expect(human.stdout).toContain("        ## Results\n        | tests | 12 |\n        secret is ***\n");
      const log = await logText(server, id);
      expect(log).toContain("got hello and nested");
      expect(JSON.stringify(shown.json) + human.stdout + log).not.toContain(secret);

      // The artifact, kept by the server: listed with its retention, downloadable alone or all at once.
      const list = await h.cliOk(server, ["artifacts", "list", String(id), "--json"]);
      expect(list.json).toHaveLength(1);
      const a = list.json[0];
      expect(a).toMatchObject({ name: "dist", size: 13, files: 2, url: `/api/v1/runs/${id}/artifacts/dist` });
      expect(a.expiresAt - a.createdAt).toBe(3 * 86_400_000);
      expect((await h.cliOk(server, ["artifacts", "list", String(id)])).stdout).toMatch(/^dist\s+13\s+2\s/m);
      const one = tempDir("slipway-dl-");
      await h.cliOk(server, ["artifacts", "download", String(id), "dist", "-D", one]);
      expect(readFileSync(join(one, "a.txt"), "utf8")).toBe("hello\n");
      expect(readFileSync(join(one, "sub", "b.txt"), "utf8")).toBe("nested\n");
      const all = tempDir("slipway-dl-");
      await h.cliOk(server, ["artifacts", "download", String(id), "-D", all]);
      expect(readFileSync(join(all, "dist", "sub", "b.txt"), "utf8")).toBe("nested\n");
      // As GitHub serves an artifact: a zip, which unzip and Python open whole.
      const zips = tempDir("slipway-dl-");
      const z = await h.cliOk(server, [
        "artifacts",
        "download",
        String(id),
        "--format",
        "zip",
        "-D",
        zips,
        "--json",
      ]);
      expect(z.json).toEqual([{ name: "dist", path: join(zips, "dist.zip"), files: 2 }]);
      execFileSync("unzip", ["-q", join(zips, "dist.zip"), "-d", join(zips, "x")]);
      expect(readFileSync(join(zips, "x", "sub", "b.txt"), "utf8")).toBe("nested\n");
      const get = (path: string, headers: Record<string, string> = {}) =>
        fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.token}`, ...headers } });
      for (const [path, headers] of [
        [`/api/v1/runs/${id}/artifacts/dist/zip`, {}],
        [`/api/v1/runs/${id}/artifacts/dist?format=zip`, {}],
        [`/api/v1/runs/${id}/artifacts/dist`, { accept: "application/zip" }],
      ] as const) {
        const res = await get(path, headers);
        expect(res.status, path).toBe(200);
        expect(res.headers.get("content-type")).toBe("application/zip");
        expect(res.headers.get("content-disposition")).toBe("attachment; filename*=UTF-8''dist.zip");
        expect(
          Buffer.from(await res.arrayBuffer())
            .subarray(0, 4)
            .toString("hex"),
        ).toBe("504b0304");
      }
      expect((await get(`/api/v1/runs/${id}/artifacts/dist`)).headers.get("content-type")).toBe(
        "application/x-tar",
      );
      expect((await get(`/api/v1/runs/${id}/artifacts/dist?format=rar`)).status).toBe(400);
      expect((await get(`/api/v1/runs/${id}/artifacts/nope/zip`)).status).toBe(404);
      expect((await get(`/api/v1/runs/${id}/artifacts/dist/zip`, { authorization: "" })).status).toBe(401);
      const badFormat = await h.cli(server, [
        "artifacts",
        "download",
        String(id),
        "--format",
        "tar",
        "-D",
        zips,
      ]);
      expect(badFormat.code).toBe(2);
      expect(badFormat.stderr).toContain("--format must be dir or zip");

      // A later run downloads this run's artifact by its run id.
      const promoted = await dispatchRun(server, name, "promote.yml", { from: String(id) });
      const pview = await waitForRun(server, promoted, { timeoutMs: 90_000 });
      expect(pview.run.conclusion).toBe("success");
      expect(await logText(server, promoted)).toContain(`promoted hello from run ${id}`);

      const missing = await h.cli(server, ["artifacts", "download", String(id), "nope", "-D", all]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('has no artifact named "nope"');

      // Stored under the server's data dir, private to its user.
      const root = join(server.dataDir, "artifacts");
      expect(statSync(root).mode & 0o777).toBe(0o700);
      const [dir] = readdirSync(root).filter((n) => /^\d+$/.test(n));
      expect(statSync(join(root, dir, "files", "sub")).mode & 0o777).toBe(0o700);
      expect(statSync(join(root, dir, "files", "a.txt")).mode & 0o777).toBe(0o600);
    });
  }

  test("an upload over the run's cap fails its step with the reason and stores nothing", async ({ h }) => {
    const big = `name: Big
on: workflow_dispatch
jobs:
  big:
    runs-on: ubuntu-latest
    steps:
      - run: head -c 3000 /dev/zero > big.bin
      - uses: actions/upload-artifact@v4
        with:
          name: big
          path: big.bin
`;
    for (const remote of [false, true]) {
      const { server, id, view } = await runOn(
        h,
        { ".github/workflows/big.yml": big },
        ["--max-run-artifacts", "2K"],
        remote,
      );
      expect(view.run.conclusion).toBe("failure");
      const log = await logText(server, id);
      expect(log).toContain(
        "artifact 'big' was not stored: the run's artifacts may hold 2048 bytes in all (the server's --max-run-artifacts) and 0 are used",
      );
      expect((await h.cliOk(server, ["artifacts", "list", String(id), "--json"])).json).toEqual([]);
      const root = join(server.dataDir, "artifacts");
      expect(readdirSync(root).filter((n) => n !== ".tmp")).toEqual([]);
      expect(existsSync(join(root, ".tmp")) ? readdirSync(join(root, ".tmp")) : []).toEqual([]);
    }
  });
});
