// Remote actions fetched on demand by `slipway run`, from real git servers on loopback holding real action
// repositories: a checkout-like JavaScript action with its node_modules committed, a setup-node-like
// composite action (which itself uses a remote action in a subdirectory of another repository), a Docker
// action built FROM slipway/busybox, and a remote reusable workflow. The run works with no manual step,
// again from the cache, and with --offline once the server is gone; what cannot be fetched fails before
// any job starts, naming the action, the server and why; --dryrun lists everything missing up front.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isolatedGitEnv } from "../support/git.js";
import {
  type GitServer,
  publishRepo,
  startDumbHttp,
  startGitDaemon,
  startSmartHttp,
} from "../support/git-server.js";
import { type CliResult, runCli } from "./helpers.js";

let root: string;
let repos: string;
let repo: string;
let smart: GitServer;

const checkoutAction = {
  "action.yml": `name: checkout-like
inputs:
  path:
    default: checked-out.txt
outputs:
  marker:
    description: the file written
runs:
  using: node20
  main: index.js
`,
  "index.js": `const fs = require("node:fs");
const path = require("node:path");
const { shout } = require("shout");
const file = path.join(process.env.GITHUB_WORKSPACE, process.env["INPUT_PATH"]);
fs.writeFileSync(file, shout(process.env.GITHUB_REPOSITORY) + "\\n");
fs.appendFileSync(process.env.GITHUB_OUTPUT, "marker=" + file + "\\n");
`,
  "node_modules/shout/package.json": `{ "name": "shout", "version": "1.0.0", "main": "index.js" }\n`,
  "node_modules/shout/index.js": `exports.shout = (s) => "CHECKED OUT " + String(s).toUpperCase();\n`,
};

const setupNodeAction = {
  "action.yml": `name: setup-node-like
inputs:
  node-version:
    default: "20"
outputs:
  node-version:
    value: \${{ steps.tool.outputs.version }}
runs:
  using: composite
  steps:
    - id: tool
      shell: bash
      run: |
        mkdir -p "$RUNNER_TEMP/tool-bin"
        printf '#!/bin/sh\\necho "fake node v%s"\\n' "\${{ inputs.node-version }}" > "$RUNNER_TEMP/tool-bin/fakenode"
        chmod +x "$RUNNER_TEMP/tool-bin/fakenode"
        echo "$RUNNER_TEMP/tool-bin" >> "$GITHUB_PATH"
        echo "version=\${{ inputs.node-version }}" >> "$GITHUB_OUTPUT"
    - uses: acme/toolkit/log@v1
      with:
        message: node \${{ inputs.node-version }} is set up
`,
};

const toolkit = {
  "log/action.yml": `name: log
inputs:
  message: {}
runs:
  using: composite
  steps:
    - shell: bash
      run: echo "toolkit says \${{ inputs.message }}"
`,
};

const dockerAction = {
  "action.yml": `name: greet
inputs:
  who:
    required: true
outputs:
  greeting: {}
runs:
  using: docker
  image: Dockerfile
  args:
    - \${{ inputs.who }}
`,
  Dockerfile:
    'FROM slipway/busybox:latest\nCOPY entrypoint.sh /entrypoint.sh\nENTRYPOINT ["/entrypoint.sh"]\n',
  "entrypoint.sh": `#!/bin/sh
set -eu
echo "greeting=hello $1 from a container" >> "$GITHUB_OUTPUT"
`,
};

const reusable = {
  ".github/workflows/reuse.yml": `on:
  workflow_call:
    inputs:
      who: { type: string, required: true }
    outputs:
      said: { value: "\${{ jobs.say.outputs.said }}" }
jobs:
  say:
    runs-on: ubuntu-latest
    outputs:
      said: \${{ steps.s.outputs.said }}
    steps:
      - id: s
        run: echo "said=remote workflow greets \${{ inputs.who }}" >> "$GITHUB_OUTPUT"
  deeper:
    uses: ./.github/workflows/inner.yml
`,
  // Called by reuse.yml as ./: read from the remote workflow's repository, as on GitHub.
  ".github/workflows/inner.yml": `on: workflow_call
jobs:
  inner:
    runs-on: ubuntu-latest
    steps:
      - run: echo "inner workflow of the remote repository"
`,
};

const ciWorkflow = `name: ci
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - id: co
        uses: acme/checkout@v4
      - id: node
        uses: acme/setup-node@v4
        with:
          node-version: "22"
      - run: fakenode
      - run: cat checked-out.txt
      - id: greet
        uses: acme/greet@v1
        with:
          who: slipway
      - run: |
          test "\${{ steps.node.outputs.node-version }}" = 22
          test "\${{ steps.greet.outputs.greeting }}" = "hello slipway from a container"
          grep -q "CHECKED OUT LOCAL/" checked-out.txt
  called:
    uses: acme/workflows/.github/workflows/reuse.yml@v1
    with:
      who: ci
  after:
    needs: called
    runs-on: ubuntu-latest
    steps:
      - run: test "\${{ needs.called.outputs.said }}" = "remote workflow greets ci"
`;

async function makeProject(dir: string, workflows: Record<string, string>): Promise<void> {
  mkdirSync(join(dir, ".github", "workflows"), { recursive: true });
  for (const [name, content] of Object.entries(workflows))
    writeFileSync(join(dir, ".github", "workflows", name), content);
  const git = (...args: string[]) =>
    execa("git", ["-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.test", ...args], {
      env: isolatedGitEnv,
    });
  await git("init", "--quiet", "--initial-branch=main");
  await git("add", "--all");
  await git("commit", "--quiet", "-m", "init");
}

let runs = 0;
function slipway(args: string[], dataDir: string, env: Record<string, string> = {}, cwd = repo) {
  const logDir = join(root, `log-${++runs}`);
  mkdirSync(logDir, { recursive: true });
  return runCli(args, { cwd, dataDir, logDir, env, timeoutMs: 240_000 });
}

const explain = (r: CliResult) => `exit ${r.code}\n${r.stderr.split("\n").slice(-50).join("\n")}`;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "slipway-e2e-actions-"));
  repos = join(root, "server");
  await publishRepo(repos, "acme/checkout", [{ files: checkoutAction, tags: ["v4"] }]);
  await publishRepo(repos, "acme/setup-node", [{ files: setupNodeAction, tags: ["v4"], annotated: true }]);
  await publishRepo(repos, "acme/toolkit", [{ files: toolkit, tags: ["v1"] }]);
  await publishRepo(repos, "acme/greet", [
    { files: dockerAction, tags: ["v1"], executable: ["entrypoint.sh"] },
  ]);
  await publishRepo(repos, "acme/workflows", [{ files: reusable, tags: ["v1"] }]);
  repo = join(root, "project");
  await makeProject(repo, { "ci.yml": ciWorkflow });
  smart = await startSmartHttp(repos);
}, 120_000);

afterAll(async () => {
  await smart?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("slipway run with remote actions", () => {
  const data = () => join(root, "data-main");

  it("fetches a checkout-like, a setup-node-like and a Docker action and a remote reusable workflow with no manual step, then runs again from the cache and offline", async () => {
    const first = await slipway(["run", "--json", "--actions-url", smart.url], data());
    expect(first.code, explain(first)).toBe(0);
    expect(first.json.jobs.map((j: { id: string; status: string }) => `${j.id}:${j.status}`).sort()).toEqual([
      "after:success",
      "build:success",
      "called/deeper/inner:success",
      "called/say:success",
    ]);
    expect(first.stderr).toContain("fake node v22");
    expect(first.stderr).toContain("toolkit says node 22 is set up");
    expect(first.stderr).toContain("inner workflow of the remote repository");
    expect(first.stderr).toMatch(/Download action repository 'acme\/greet@v1' \(SHA:[0-9a-f]{40}\)/);
    const fetched = [...smart.fetches.entries()].sort();
    expect(fetched).toEqual([
      ["acme/checkout", 1],
      ["acme/greet", 1],
      ["acme/setup-node", 1],
      ["acme/toolkit", 1],
      ["acme/workflows", 1],
    ]);

    const second = await slipway(["run", "--json", "--actions-url", smart.url], data());
    expect(second.code, explain(second)).toBe(0);
    expect([...smart.fetches.entries()].sort()).toEqual(fetched);

    await smart.stop();
    try {
      const offline = await slipway(["run", "--json", "--offline", "--actions-url", smart.url], data());
      expect(offline.code, explain(offline)).toBe(0);
      expect(offline.json.status).toBe("success");
    } finally {
      // Back at the same URL: the cache is per server.
      const fetches = smart.fetches;
      smart = await startSmartHttp(repos, { port: Number(new URL(smart.url).port) });
      for (const [k, v] of fetches) smart.fetches.set(k, v);
    }
  });

  it("lists, updates and prunes the cache", async () => {
    const list = await slipway(["actions", "list", "--json"], data());
    expect(list.code, explain(list)).toBe(0);
    const entries = list.json as { action: string; sha: string; refs: string[]; bytes: number }[];
    expect(entries.map((e) => `${e.action}@${e.refs.join(",")}`).sort()).toEqual([
      "acme/checkout@v4",
      "acme/greet@v1",
      "acme/setup-node@v4",
      "acme/toolkit@v1",
      "acme/workflows@v1",
    ]);
    expect(entries.every((e) => /^[0-9a-f]{40}$/.test(e.sha) && e.bytes > 0)).toBe(true);
    const old = entries.find((e) => e.action === "acme/toolkit")!.sha;
    const [moved] = await publishRepo(repos, "acme/toolkit", [{ files: toolkit, tags: ["v1"] }]);
    const update = await slipway(["actions", "update", "--json", "--actions-url", smart.url], data());
    expect(update.code, explain(update)).toBe(0);
    expect(update.json).toEqual([{ action: "acme/toolkit", ref: "v1", from: old, to: moved }]);
    const dry = await slipway(["actions", "prune", "--dry-run", "--json"], data());
    expect(dry.json.removed.map((e: { sha: string }) => e.sha)).toEqual([old]);
    const refused = await slipway(["actions", "prune"], data());
    expect(refused.code).toBe(2);
    const pruned = await slipway(["actions", "prune", "--yes", "--json"], data());
    expect(pruned.code, explain(pruned)).toBe(0);
    const after = await slipway(["actions", "list", "--json"], data());
    expect(after.json.map((e: { sha: string }) => e.sha)).not.toContain(old);
    expect(after.json).toHaveLength(5);
  });

  it("fails before any job starts when an action cannot be fetched, naming it, the server and why", async () => {
    const dir = join(root, "project-bad");
    const marker = join(root, "bad-ran");
    await makeProject(dir, {
      "bad.yml": `on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: touch ${marker}
  b:
    runs-on: ubuntu-latest
    steps:
      - uses: acme/checkout@v999
      - uses: acme/no-such-action@v1
`,
    });
    const r = await slipway(["run", "--actions-url", smart.url], join(root, "data-bad"), {}, dir);
    expect(r.code, explain(r)).toBe(2);
    expect(r.stderr).toContain(`cannot fetch action acme/checkout@v999 from ${smart.url}: unknown ref`);
    expect(r.stderr).toContain(
      `cannot fetch action acme/no-such-action@v1 from ${smart.url}: unknown repository`,
    );
    expect(existsSync(marker)).toBe(false);

    const down = await slipway(
      ["run", "--actions-url", "http://127.0.0.1:9"],
      join(root, "data-bad"),
      {},
      dir,
    );
    expect(down.code).toBe(2);
    expect(down.stderr).toContain("from http://127.0.0.1:9: server unreachable");
    expect(existsSync(marker)).toBe(false);
  });

  it("--dryrun reports everything the run would need that is missing, and exits 2", async () => {
    const dir = join(root, "project-dry");
    await makeProject(dir, {
      "dry.yml": `on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: acme/checkout@v4
      - uses: acme/checkout@v404
      - uses: ./actions/missing
  b:
    uses: ./.github/workflows/not-there.yml
  c:
    uses: acme/workflows/.github/workflows/reuse.yml@v7
`,
    });
    const r = await slipway(["run", "--dryrun", "--actions-url", smart.url], join(root, "data-dry"), {}, dir);
    expect(r.code, explain(r)).toBe(2);
    expect(r.stderr).toContain("acme/checkout@v404");
    expect(r.stderr).not.toContain("acme/checkout@v4 ");
    expect(r.stderr).toContain("local action ./actions/missing");
    expect(r.stderr).toContain("called workflow ./.github/workflows/not-there.yml");
    expect(r.stderr).toContain("acme/workflows/.github/workflows/reuse.yml@v7");
    const json = await slipway(
      ["run", "--dryrun", "--json", "--actions-url", smart.url],
      join(root, "data-dry"),
      {},
      dir,
    );
    expect(json.code).toBe(2);
    expect(json.json.missing).toHaveLength(4);
    // Nothing was fetched by a dry run.
    const list = await slipway(["actions", "list", "--json"], join(root, "data-dry"));
    expect(list.json).toEqual([]);
    const offline = await slipway(
      ["run", "--dryrun", "--offline", "--actions-url", smart.url],
      join(root, "data-dry"),
      {},
      dir,
    );
    expect(offline.code).toBe(2);
    expect(offline.stderr).toMatch(
      /action acme\/checkout@v4 is not in the action cache and slipway is offline/,
    );
  });

  it("refuses references that would leave the cache or reach git as options", async () => {
    const dir = join(root, "project-attack");
    await makeProject(dir, {
      "attack.yml": `on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: ../../x@main
      - uses: acme/checkout@--upload-pack=touch /tmp/pwned
      - uses: acme/checkout@--upload-pack=/tmp/pwned-too
      - uses: acme/checkout/..@v4
`,
    });
    const before = smart.requests.length;
    const r = await slipway(["run", "--actions-url", smart.url], join(root, "data-attack"), {}, dir);
    expect(r.code, explain(r)).toBe(2);
    expect(r.stderr).toContain(`'../../x@main': invalid action reference: owner ".."`);
    expect(r.stderr).toContain(
      "'acme/checkout@--upload-pack=touch /tmp/pwned' is not a valid action reference",
    );
    expect(r.stderr).toContain(
      `'acme/checkout@--upload-pack=/tmp/pwned-too': invalid action reference: ref "--upload-pack=/tmp/pwned-too"`,
    );
    expect(r.stderr).toContain(`'acme/checkout/..@v4': invalid action reference: path ".."`);
    expect(smart.requests.length).toBe(before);
    expect(existsSync("/tmp/pwned")).toBe(false);
    expect(existsSync("/tmp/pwned-too")).toBe(false);
  });
});

describe("a server that wants a token", () => {
  it("gets SLIPWAY_ACTIONS_TOKEN, which no step sees and no line shows; a refused one is named", async () => {
    const token = "e2e-actions-token-4f9a";
    const guarded = await startSmartHttp(repos, { token });
    try {
      const dir = join(root, "project-token");
      await makeProject(dir, {
        "t.yml": `on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: acme/toolkit/log@v1
        with:
          message: fetched with a token
      - run: 'echo "token in step \${SLIPWAY_ACTIONS_TOKEN:-unset}"'
`,
      });
      const env = { SLIPWAY_ACTIONS_TOKEN: token, SLIPWAY_ACTIONS_URL: guarded.url };
      const ok = await slipway(["run"], join(root, "data-token"), env, dir);
      expect(ok.code, explain(ok)).toBe(0);
      expect(ok.stderr).toContain("toolkit says fetched with a token");
      expect(ok.stderr).toContain("token in step unset");
      expect(ok.stderr + ok.stdout).not.toContain(token);
      const bad = await slipway(
        ["run"],
        join(root, "data-token-bad"),
        { ...env, SLIPWAY_ACTIONS_TOKEN: "wrong-token" },
        dir,
      );
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain(
        `cannot fetch action acme/toolkit/log@v1 from ${guarded.url}: authentication refused`,
      );
      expect(bad.stderr).not.toContain("wrong-token");
    } finally {
      await guarded.stop();
    }
  });
});

describe.each([
  ["git daemon", startGitDaemon],
  ["dumb HTTP", startDumbHttp],
] as const)("actions from %s", (_name, start) => {
  it("runs a workflow whose actions come from it", async () => {
    const server = await start(repos);
    try {
      const dir = join(root, `project-${_name.replace(/\W/g, "")}`);
      await makeProject(dir, {
        "ci.yml": `on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: acme/checkout@v4
      - uses: acme/setup-node@v4
      - run: fakenode && grep -q "CHECKED OUT" checked-out.txt
`,
      });
      const r = await slipway(
        ["run", "--actions-url", server.url],
        join(root, `data-${_name.replace(/\W/g, "")}`),
        {},
        dir,
      );
      expect(r.code, explain(r)).toBe(0);
      expect(r.stderr).toContain("fake node v20");
    } finally {
      await server.stop();
    }
  });
});

describe("concurrent runs", () => {
  it("fetch a commit once between them", async () => {
    const [sha] = await publishRepo(repos, "acme/shared", [
      {
        files: {
          "action.yml":
            "runs:\n  using: composite\n  steps:\n    - run: echo shared action ran\n      shell: bash\n",
        },
        tags: ["v1"],
      },
    ]);
    const dir = join(root, "project-concurrent");
    const jobs = ["a", "b", "c"].map(
      (j) => `  ${j}:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: acme/shared@v1\n`,
    );
    await makeProject(dir, { "c.yml": `on: push\njobs:\n${jobs.join("")}` });
    const data = join(root, "data-concurrent");
    const results = await Promise.all(
      [1, 2, 3].map(() => slipway(["run", "--actions-url", smart.url], data, {}, dir)),
    );
    for (const r of results) expect(r.code, explain(r)).toBe(0);
    expect(smart.fetches.get("acme/shared")).toBe(1);
    const list = await slipway(["actions", "list", "--json"], data);
    expect(list.json.map((e: { sha: string }) => e.sha)).toEqual([sha]);
  });
});
