// Remote actions on the server: `slipway serve --actions-url` is where its runs fetch from; a remote
// runner with no setting of its own fetches a leg's actions itself from the URL the server passes (never
// the server's token), into its own cache; a runner's own SLIPWAY_ACTIONS_URL wins over the server's;
// a remote reusable workflow is fetched by the server, which runs the graph. With --actions-offline and
// an empty cache the job fails before its steps, naming the action.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { type GitServer, publishRepo, startDumbHttp, startSmartHttp } from "../support/git-server.js";
import {
  addRepo,
  cleanupAfterAll,
  dispatchRun,
  logText,
  makeRepo,
  test,
  waitForRun,
} from "./server/helpers.js";

cleanupAfterAll();

let root: string;
let smart: GitServer;
let dumb: GitServer;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "slipway-e2e-actions-server-"));
  const repos = join(root, "repos");
  await publishRepo(repos, "acme/hello", [
    {
      files: {
        "action.yml":
          'runs:\n  using: composite\n  steps:\n    - run: echo "hello from a fetched action"\n      shell: bash\n',
      },
      tags: ["v1"],
    },
  ]);
  await publishRepo(repos, "acme/wf", [
    {
      files: {
        ".github/workflows/reuse.yml": `on: workflow_call
jobs:
  inner:
    runs-on: [self-hosted, e2e-actions]
    steps:
      - uses: acme/hello@v1
      - run: echo "inner job of a remote workflow"
`,
      },
      tags: ["v1"],
    },
  ]);
  smart = await startSmartHttp(repos);
  dumb = await startDumbHttp(repos);
}, 60_000);

afterAll(async () => {
  await smart?.stop();
  await dumb?.stop();
  rmSync(root, { recursive: true, force: true });
});

const workflow = `name: Fetch
on: workflow_dispatch
jobs:
  direct:
    runs-on: [self-hosted, e2e-actions]
    steps:
      - uses: acme/hello@v1
  called:
    uses: acme/wf/.github/workflows/reuse.yml@v1
`;

describe("remote actions on the server", () => {
  test("a remote runner fetches from the URL the server passes; the server fetches the remote workflow", async ({
    h,
  }) => {
    const repo = makeRepo({ ".github/workflows/fetch.yml": workflow });
    const server = await h.startServer({
      args: ["--local-runners", "0", "--actions-url", smart.url],
      env: { SLIPWAY_ACTIONS_TOKEN: "server-only-token" },
    });
    await addRepo(server, repo, "acme/app");
    h.startRunner(server, { labels: ["self-hosted", "e2e-actions"] });
    const id = await dispatchRun(server, "acme/app", "fetch.yml");
    const v = await waitForRun(server, id, { timeoutMs: 120_000 });
    const log = await logText(server, id);
    expect(v.run.conclusion, log).toBe("success");
    expect(log).toContain("hello from a fetched action");
    expect(log).toContain("inner job of a remote workflow");
    // The runner fetched acme/hello once (both jobs) and the server fetched acme/wf.
    expect(smart.fetches.get("acme/hello")).toBe(1);
    expect(smart.fetches.get("acme/wf")).toBe(1);
    // The server's token reached git for the server's own fetch, never the runner's requests.
    const hello = smart.requests.filter((r) => r.path.startsWith("/acme/hello/"));
    expect(hello.length).toBeGreaterThan(0);
    expect(hello.every((r) => r.authorization === undefined)).toBe(true);
    expect(smart.requests.some((r) => r.path.startsWith("/acme/wf/") && r.authorization)).toBe(true);
  });

  test("a runner's own actions URL wins over the server's", async ({ h }) => {
    const repo = makeRepo({
      ".github/workflows/fetch.yml": `on: workflow_dispatch
jobs:
  direct:
    runs-on: [self-hosted, e2e-own]
    steps:
      - uses: acme/hello@v1
`,
    });
    const server = await h.startServer({
      args: ["--local-runners", "0", "--actions-url", "http://127.0.0.1:9"],
    });
    await addRepo(server, repo, "acme/own");
    h.startRunner(server, { labels: ["self-hosted", "e2e-own"], env: { SLIPWAY_ACTIONS_URL: dumb.url } });
    const id = await dispatchRun(server, "acme/own", "fetch.yml");
    const v = await waitForRun(server, id, { timeoutMs: 120_000 });
    const log = await logText(server, id);
    expect(v.run.conclusion, log).toBe("success");
    expect(dumb.requests.some((r) => r.path.startsWith("/acme/hello/"))).toBe(true);
  });

  test("offline with an empty cache, the job fails before its steps naming the action", async ({ h }) => {
    const repo = makeRepo({
      ".github/workflows/fetch.yml": `on: workflow_dispatch
jobs:
  direct:
    runs-on: ubuntu-latest
    steps:
      - run: echo "SHOULD NOT RUN"
      - uses: acme/hello@v1
`,
    });
    const server = await h.startServer({ args: ["--actions-url", smart.url, "--actions-offline"] });
    await addRepo(server, repo, "acme/offline");
    const id = await dispatchRun(server, "acme/offline", "fetch.yml");
    const v = await waitForRun(server, id, { timeoutMs: 120_000 });
    const log = await logText(server, id);
    expect(v.run.conclusion).toBe("failure");
    expect(log).toContain("action acme/hello@v1 is not in the action cache and slipway is offline");
    expect(log).not.toMatch(/^[^\n]*SHOULD NOT RUN$/m);
  });
});
