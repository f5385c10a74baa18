// The core flow of `slipway serve`, on SQLite and on PostgreSQL: signed GitHub webhooks (real example
// payloads adjusted to a real repository) start runs whose jobs, steps, outputs and logs the CLI shows;
// refused deliveries store nothing; filters are evaluated; invalid workflows are recorded as failed runs;
// workflow_dispatch with typed inputs.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect } from "vitest";
import {
  addRepo,
  cleanupAfterAll,
  databases,
  type Harness,
  jobOf,
  listRuns,
  makeRepo,
  pingPayload,
  postgresAvailable,
  pullRequestPayload,
  pushPayload,
  sendWebhook,
  test,
  waitForRun,
} from "./helpers.js";

const pgOk = await postgresAvailable();

cleanupAfterAll();

const ciWorkflow = `name: CI
on:
  push:
    branches: [main]
    paths-ignore: ['docs/**']
  pull_request:
    types: [opened, synchronize, closed]
jobs:
  build:
    runs-on: ubuntu-latest
    outputs:
      greeting: \${{ steps.hello.outputs.greeting }}
    steps:
      - id: hello
        name: Say hello
        run: |
          echo "event=\${{ github.event_name }} ref=\${{ github.ref }} sha=\${{ github.sha }}"
          echo "greeting=hello-from-build" >> "$GITHUB_OUTPUT"
      - name: Second step
        run: echo "second step ran"
  report:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - name: Report
        run: echo "build said \${{ needs.build.outputs.greeting }}"
      - if: github.event_name == 'pull_request'
        run: echo "pr=\${{ github.event.pull_request.number }} action=\${{ github.event.action }} merged=\${{ github.event.pull_request.merged }}"
`;

const dispatchWorkflow = `name: Deploy
on:
  workflow_dispatch:
    inputs:
      count:
        type: number
        required: true
      verbose:
        type: boolean
        default: true
      target:
        type: choice
        options: [staging, production]
        default: staging
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo 'inputs=\${{ toJSON(inputs) }}'
          echo "verbose-is-\${{ inputs.verbose && 'on' || 'off' }}"
`;

const fullName = "acme/app";

describe.each(databases)("webhooks and runs ($name)", ({ name, database }) => {
  describe.skipIf(name === "postgres" && !pgOk)(name, { concurrent: true }, () => {
    async function setup(
      h: Harness,
      files: Record<string, string> = { ".github/workflows/ci.yml": ciWorkflow },
    ) {
      const repo = makeRepo({ "README.md": "hello\n", ...files });
      const server = await h.startServer({ database: await database() });
      const secret = await addRepo(server, repo, fullName);
      return { repo, server, secret };
    }

    test("a push webhook starts a run; runs show and logs show its jobs, steps, outputs and lines", async ({
      h,
    }) => {
      const repo = makeRepo({ "README.md": "hello\n", ".github/workflows/ci.yml": ciWorkflow });
      const server = await h.startServer({ database: await database() });
      const secret = await addRepo(server, repo, fullName, { viaCli: h });
      const repos = await h.cliOk(server, ["repo", "list", "--json"]);
      expect(repos.json).toEqual([
        expect.objectContaining({ name: fullName, url: repo.dir, branch: "main" }),
      ]);
      const before = repo.head();
      const after = repo.commit({ "src/main.txt": "v2\n" }, "Change the source");
      const res = await sendWebhook(server, "push", pushPayload(repo, fullName, { before, after }), secret);
      expect(res.status).toBe(202);
      expect(res.body.runs).toHaveLength(1);
      const id = res.body.runs[0] as number;
      await waitForRun(server, id);

      const show = await h.cliOk(server, ["runs", "show", String(id), "--json"]);
      const view = show.json;
      expect(view.run).toMatchObject({
        status: "completed",
        conclusion: "success",
        eventName: "push",
        sha: after,
        ref: "refs/heads/main",
        trigger: "webhook",
        deliveryId: res.deliveryId,
        pullRequest: null,
      });
      expect(view.run.event.payload.after).toBe(after);
      const build = jobOf(view, "build");
      expect(build.status).toBe("success");
      expect(build.outputs).toEqual({ greeting: "hello-from-build" });
      expect(build.steps.map((s: any) => [s.name, s.conclusion])).toEqual([
        ["Say hello", "success"],
        ["Second step", "success"],
      ]);
      expect(build.steps.every((s: any) => typeof s.startedAt === "number")).toBe(true);
      const report = jobOf(view, "report");
      expect(report.status).toBe("success");
      expect(report.steps.map((s: any) => s.conclusion)).toEqual(["success", "skipped"]);

      const human = await h.cliOk(server, ["runs", "show", String(id)]);
      expect(human.stdout).toContain(`event push refs/heads/main ${after}`);
      expect(human.stdout).toMatch(/build\s+success/);
      expect(human.stdout).toContain("Say hello");

      const logs = await h.cliOk(server, ["logs", String(id)]);
      expect(logs.stdout).toContain(`[build] event=push ref=refs/heads/main sha=${after}`);
      expect(logs.stdout).toContain("[build] second step ran");
      expect(logs.stdout).toContain("[report] build said hello-from-build");
      const one = await h.cliOk(server, ["logs", String(id), "--job", "report"]);
      expect(one.stdout).toContain("build said");
      expect(one.stdout).not.toContain("[build]");

      const list = await h.cliOk(server, ["runs", "list", "--repo", fullName, "--json"]);
      expect(list.json.map((r: any) => r.id)).toEqual([id]);
    });

    test("pull_request opened, synchronize and closed (merged) record the PR and its head", async ({ h }) => {
      const { repo, server, secret } = await setup(h);
      const baseSha = repo.head();
      repo.git("checkout", "-q", "-b", "feature");
      const head1 = repo.commit({ "src/feature.txt": "one\n" }, "Start the feature");
      const pr = { number: 42, title: "Add the feature", author: "octo-dev", headRef: "feature", baseSha };

      const opened = await sendWebhook(
        server,
        "pull_request",
        pullRequestPayload(repo, fullName, { ...pr, action: "opened", headSha: head1 }),
        secret,
      );
      expect(opened.status).toBe(202);
      const openedRun = await waitForRun(server, opened.body.runs[0]);
      expect(openedRun.run).toMatchObject({
        conclusion: "success",
        eventName: "pull_request",
        sha: head1,
        ref: "refs/pull/42/merge",
        pullRequest: {
          number: 42,
          title: "Add the feature",
          author: "octo-dev",
          url: `https://example.test/${fullName}/pull/42`,
        },
      });
      const shown = await h.cliOk(server, ["runs", "show", String(openedRun.run.id)]);
      expect(shown.stdout).toContain("PR #42 Add the feature by octo-dev");

      const head2 = repo.commit({ "src/feature.txt": "two\n" }, "Continue the feature");
      const sync = await sendWebhook(
        server,
        "pull_request",
        pullRequestPayload(repo, fullName, { ...pr, action: "synchronize", headSha: head2, before: head1 }),
        secret,
      );
      expect(sync.status).toBe(202);
      const syncRun = await waitForRun(server, sync.body.runs[0]);
      expect(syncRun.run).toMatchObject({ conclusion: "success", sha: head2 });
      expect(syncRun.run.pullRequest?.number).toBe(42);

      const closed = await sendWebhook(
        server,
        "pull_request",
        pullRequestPayload(repo, fullName, { ...pr, action: "closed", headSha: head2, merged: true }),
        secret,
      );
      expect(closed.status).toBe(202);
      const closedRun = await waitForRun(server, closed.body.runs[0]);
      expect(closedRun.run.conclusion).toBe("success");
      const logs = await h.cliOk(server, ["logs", String(closedRun.run.id), "--job", "report"]);
      expect(logs.stdout).toContain("pr=42 action=closed merged=true");
    });

    test("a ping is answered and starts nothing", async ({ h }) => {
      const { repo, server, secret } = await setup(h);
      const res = await sendWebhook(server, "ping", pingPayload(repo, fullName), secret);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ ok: true, ping: true });
      expect(await listRuns(server)).toEqual([]);
    });

    test("a bad signature is refused with 401 and nothing is stored", async ({ h }) => {
      const { repo, server, secret } = await setup(h);
      const before = repo.head();
      const after = repo.commit({ "a.txt": "a\n" });
      const payload = pushPayload(repo, fullName, { before, after });
      const bad = await sendWebhook(server, "push", payload, "not-the-secret");
      expect(bad.status).toBe(401);
      const missing = await sendWebhook(server, "push", payload, secret, { signature: "" });
      expect(missing.status).toBe(401);
      expect(await listRuns(server)).toEqual([]);
      // The refused delivery id was not recorded: the genuine delivery with that id starts a run.
      const good = await sendWebhook(server, "push", payload, secret, { deliveryId: bad.deliveryId });
      expect(good.status).toBe(202);
      expect(good.body.duplicate).toBeUndefined();
      expect(good.body.runs).toHaveLength(1);
    });

    test("a body over 25 MB is refused with 413", async ({ h }) => {
      const { repo, server, secret } = await setup(h);
      const payload = pingPayload(repo, fullName);
      payload.padding = "x".repeat(26 * 1024 * 1024);
      const res = await sendWebhook(server, "ping", payload, secret);
      expect(res.status).toBe(413);
      expect(await listRuns(server)).toEqual([]);
    });

    test("malformed JSON is refused with 400", async ({ h }) => {
      const { server, secret } = await setup(h);
      const res = await sendWebhook(server, "push", null, secret, { rawBody: '{"ref": "refs/heads/main",' });
      expect(res.status).toBe(400);
      expect(String(res.body.error)).toMatch(/JSON/);
    });

    // Answered as a bad signature is (401, same body): a 404 would tell which repositories exist.
    test("a delivery for an unknown repository is refused as unverifiable (401)", async ({ h }) => {
      const { server, secret } = await setup(h);
      const other = makeRepo({ "x.txt": "x\n" });
      const payload = pushPayload(other, "somebody/else", { before: "0".repeat(40), after: other.head() });
      const res = await sendWebhook(server, "push", payload, secret);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: "signature verification failed" });
      expect(await listRuns(server)).toEqual([]);
    });

    test("a redelivery of the same delivery id starts no second run", async ({ h }) => {
      const { repo, server, secret } = await setup(h);
      const before = repo.head();
      const after = repo.commit({ "b.txt": "b\n" });
      const payload = pushPayload(repo, fullName, { before, after });
      const first = await sendWebhook(server, "push", payload, secret);
      expect(first.status).toBe(202);
      const again = await sendWebhook(server, "push", payload, secret, { deliveryId: first.deliveryId });
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ duplicate: true, deliveryId: first.deliveryId });
      await waitForRun(server, first.body.runs[0]);
      expect((await listRuns(server)).map((r) => r.id)).toEqual(first.body.runs);
    });

    test("concurrent deliveries each start a run; a delivery answered with an error can be redelivered", async ({
      h,
    }) => {
      const { repo, server, secret } = await setup(h);
      // A slow disk: each ref update of the server's mirror takes a moment, so deliveries overlap in it.
      const hook = join(server.dataDir, "mirrors", "1.git", "hooks", "reference-transaction");
      writeFileSync(hook, '#!/bin/sh\ncat >/dev/null\n[ "$1" = prepared ] && sleep 0.2\nexit 0\n', {
        mode: 0o755,
      });
      const shas = [repo.head()];
      for (let i = 0; i < 8; i++) shas.push(repo.commit({ [`src/file-${i}.txt`]: `${i}\n` }, `Commit ${i}`));
      const payloads = shas
        .slice(1)
        .map((after, i) => pushPayload(repo, fullName, { before: shas[i], after }));
      const sending = payloads.map((p) => sendWebhook(server, "push", p, secret));
      const first = await Promise.all(sending);
      // What a forge does with a delivery that got an error: it redelivers it, with the same id.
      const retried = await Promise.all(
        first.map((r, i) =>
          r.status === 202
            ? r
            : sendWebhook(server, "push", payloads[i], secret, { deliveryId: r.deliveryId }),
        ),
      );
      expect(retried.map((r) => [r.status, r.body.runs?.length])).toEqual(payloads.map(() => [202, 1]));
      expect(first.map((r) => (r.status === 202 ? 202 : `${r.status} ${r.body.error}`))).toEqual(
        payloads.map(() => 202),
      );
      const runs = await listRuns(server);
      expect(runs.map((r) => r.sha).sort()).toEqual(shas.slice(1).sort());
    });

    test("branch and path filters are evaluated", async ({ h }) => {
      const { repo, server, secret } = await setup(h);
      const base = repo.head();
      const docsOnly = repo.commit({ "docs/guide.md": "# Guide\n" }, "Docs only");
      const res = await sendWebhook(
        server,
        "push",
        pushPayload(repo, fullName, { before: base, after: docsOnly }),
        secret,
      );
      expect(res.status).toBe(202);
      expect(res.body.runs).toEqual([]);

      repo.git("checkout", "-q", "-b", "other");
      const onOther = repo.commit({ "src/x.txt": "x\n" }, "On another branch");
      const res2 = await sendWebhook(
        server,
        "push",
        pushPayload(repo, fullName, { ref: "refs/heads/other", before: docsOnly, after: onOther }),
        secret,
      );
      expect(res2.status).toBe(202);
      expect(res2.body.runs).toEqual([]);
      expect(await listRuns(server)).toEqual([]);

      // A push to main that touches code as well as docs does run.
      repo.git("checkout", "-q", "main");
      const mixed = repo.commit({ "docs/more.md": "more\n", "src/y.txt": "y\n" }, "Code and docs");
      const res3 = await sendWebhook(
        server,
        "push",
        pushPayload(repo, fullName, { before: docsOnly, after: mixed }),
        secret,
      );
      expect(res3.body.runs).toHaveLength(1);
      expect((await waitForRun(server, res3.body.runs[0])).run.conclusion).toBe("success");
    });

    test("an invalid workflow is recorded as a failed run with file:line:col", async ({ h }) => {
      const { repo, server, secret } = await setup(h, {
        ".github/workflows/ci.yml": ciWorkflow,
        ".github/workflows/bad.yml": `name: Bad
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    timeout: 10
    steps:
      - run: echo never
`,
      });
      const before = repo.head();
      const after = repo.commit({ "src/z.txt": "z\n" });
      const res = await sendWebhook(server, "push", pushPayload(repo, fullName, { before, after }), secret);
      expect(res.status).toBe(202);
      expect(res.body.runs).toHaveLength(2);
      const views = await Promise.all(res.body.runs.map((id: number) => waitForRun(server, id)));
      const bad = views.find((v) => String(v.run.workflowFile).endsWith("bad.yml"))!;
      const good = views.find((v) => String(v.run.workflowFile).endsWith("ci.yml"))!;
      expect(bad.run).toMatchObject({ status: "completed", conclusion: "failure" });
      expect(bad.run.reason).toMatch(/\.github\/workflows\/bad\.yml:6:5: .*timeout/);
      expect(good.run.conclusion).toBe("success");
      const shown = await h.cliOk(server, ["runs", "show", String(bad.run.id)]);
      expect(shown.stdout).toMatch(/reason: \.github\/workflows\/bad\.yml:6:5/);
    });

    test("dispatch passes typed inputs; a workflow without workflow_dispatch is a clear error (exit 2)", async ({
      h,
    }) => {
      const { server } = await setup(h, {
        ".github/workflows/ci.yml": ciWorkflow,
        ".github/workflows/deploy.yml": dispatchWorkflow,
      });
      const r = await h.cliOk(server, [
        "dispatch",
        fullName,
        "deploy.yml",
        "--input",
        "count=3",
        "--input",
        "verbose=false",
        "--json",
      ]);
      expect(r.json).toHaveLength(1);
      const view = await waitForRun(server, r.json[0].id);
      expect(view.run).toMatchObject({
        conclusion: "success",
        eventName: "workflow_dispatch",
        trigger: "dispatch",
      });
      const logs = await h.cliOk(server, ["logs", String(view.run.id)]);
      // toJSON(inputs) shows the types: a number and a boolean, not the strings given on the command line.
      expect(logs.stdout).toMatch(/"count": 3\b/);
      expect(logs.stdout).toMatch(/"verbose": false\b/);
      expect(logs.stdout).toContain('"target": "staging"');
      expect(logs.stdout).toContain("verbose-is-off");

      const none = await h.cli(server, ["dispatch", fullName, "ci.yml"]);
      expect(none.code).toBe(2);
      expect(none.stderr).toMatch(/ci\.yml has no workflow_dispatch trigger/);
      const badInput = await h.cli(server, ["dispatch", fullName, "deploy.yml", "--input", "count=many"]);
      expect(badInput.code).toBe(2);
      expect(badInput.stderr).toMatch(/count/);
      expect((await listRuns(server)).length).toBe(1);
    });
  });
});
