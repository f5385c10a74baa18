// A fork's pull request code against what its runner holds: a real `slipway serve` (as root, as the
// tests run) and real `slipway runner`s. The fork's step tries to read the server's master key and
// database, the environment of the server and of the runner (the runner's token is there), the
// runner's data dir, and to write into the data dir; each fails, since the step runs as `nobody`. It
// still checks out the fork's code, writes step outputs and runs a JavaScript action (with its post
// step) from the action cache. The same workflow from a branch of the repository itself runs as the
// server's user. A runner that cannot switch users never takes the fork's job — the job says why —
// unless its operator declared the machine disposable (--untrusted=same-user).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect } from "vitest";
import { lookupUser, waitingForIsolationReason } from "../../../src/runner/isolation.js";
import {
  addRepo,
  binPath,
  cleanupAfterAll,
  type GitRepo,
  getRun,
  type Harness,
  jobOf,
  logText,
  makeRepo,
  pullRequestPayload,
  type Server,
  sendWebhook,
  sleep,
  tempDir,
  test,
  waitFor,
  waitForRun,
} from "../server/helpers.js";

cleanupAfterAll();

const slow = 120_000;
const fullName = "acme/app";
const nobody = lookupUser("nobody");

/** What a fork's author would try on a self-hosted runner; each attempt prints OK or DENIED. */
function probeWorkflow(o: { runsOn: string; secrets: string[]; dataDir?: string; dirs?: string[] }): string {
  const tries = [
    ...o.secrets.map((f) => `probe "${f}"`),
    ...(o.dirs ?? []).map(
      (d) => `if ls "${d}" > /dev/null 2>&1; then echo "READ-OK ${d}"; else echo "READ-DENIED ${d}"; fi`,
    ),
  ].join("\n          ");
  const write = o.dataDir
    ? `if touch "${o.dataDir}/planted" 2>/dev/null; then echo "WRITE-OK"; else echo "WRITE-DENIED"; fi`
    : "true";
  return `name: CI
on: pull_request
jobs:
  probe:
    runs-on: ${o.runsOn}
    steps:
      - uses: actions/checkout@v4
      - id: probe
        run: |
          probe() { if cat "$1" > /dev/null 2>&1; then echo "READ-OK $1"; else echo "READ-DENIED $1"; fi; }
          ${tries}
          ${write}
          echo "uid=$(id -u)"
          echo "home=$HOME"
          if test -f fork-only.txt; then echo "checked-out=fork"; fi
          git status --short > /dev/null && echo "git-works"
          echo "who=$(id -u)" >> "$GITHUB_OUTPUT"
      - id: js
        uses: acme/whoami@v1
      - run: echo "outputs probe=\${{ steps.probe.outputs.who }} js=\${{ steps.js.outputs.uid }}"
`;
}

/** A JavaScript action with a post step, put into a runner's action cache (inside its data dir). */
function installAction(actionsDir: string): void {
  const dir = join(actionsDir, "acme", "whoami@v1");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "action.yml"),
    "name: whoami\ndescription: prints its uid\nruns:\n  using: node20\n  main: main.js\n  post: post.js\n",
  );
  writeFileSync(
    join(dir, "main.js"),
    `const fs = require("node:fs");
console.log("js-uid=" + process.getuid());
fs.appendFileSync(process.env.GITHUB_OUTPUT, "uid=" + process.getuid() + "\\n");
`,
  );
  writeFileSync(join(dir, "post.js"), `console.log("post-uid=" + process.getuid());\n`);
}

/** The repository with a same-repo branch and a fork's head at refs/pull/<n>/head, both with `workflow`. */
function repoWith(workflow: string, forkNumber: number) {
  const repo = makeRepo({ "README.md": "hello\n" });
  // Readable by others, as a repository URL a runner on another account can clone.
  chmodSync(dirname(repo.dir), 0o755);
  const baseSha = repo.head();
  repo.git("checkout", "-q", "-b", "feature");
  const branchSha = repo.commit({ ".github/workflows/ci.yml": workflow }, "Same-repo change");
  repo.git("checkout", "-q", "-b", "fork");
  const forkSha = repo.commit({ "fork-only.txt": "from the fork\n" }, "Fork change");
  repo.git("update-ref", `refs/pull/${forkNumber}/head`, forkSha);
  repo.git("checkout", "-q", "main");
  repo.git("branch", "-q", "-D", "fork");
  return { repo, baseSha, branchSha, forkSha };
}

function forkPullRequest(repo: GitRepo, number: number, headSha: string, baseSha: string) {
  const p = pullRequestPayload(repo, fullName, {
    action: "opened",
    number,
    title: "Fork change",
    author: "mallory",
    headRef: "main",
    headSha,
    baseSha,
  });
  p.pull_request.head.repo = {
    ...p.pull_request.head.repo,
    id: 990_001,
    full_name: "mallory/app",
    fork: true,
    owner: { ...p.pull_request.head.repo.owner, login: "mallory" },
  };
  return p;
}

function branchPullRequest(repo: GitRepo, number: number, headSha: string, baseSha: string) {
  return pullRequestPayload(repo, fullName, {
    action: "opened",
    number,
    title: "Same-repo change",
    author: "alice",
    headRef: "feature",
    headSha,
    baseSha,
  });
}

async function runOf(server: Server, hookSecret: string, payload: unknown): Promise<number> {
  const res = await sendWebhook(server, "pull_request", payload, hookSecret);
  expect(res.status).toBe(202);
  expect(res.body.runs).toHaveLength(1);
  return res.body.runs[0] as number;
}

/** A server whose data dir sits in a directory others may enter, as /var/lib/slipway does. */
async function startServer(h: Harness, args: string[] = []): Promise<Server> {
  const parent = tempDir("slipway-server-");
  chmodSync(parent, 0o755);
  return h.startServer({ dataDir: join(parent, "data"), args });
}

/**
 * `slipway runner` with its token in its environment (as an operator runs it: argv is public to every
 * user), optionally as another user.
 */
function startRunner(
  h: Harness,
  server: Server,
  o: { name: string; labels: string; asNobody?: boolean; args?: string[] },
): { child: ChildProcess; dataDir: string; stderr: () => string } {
  const dataDir = join(tempDir("slipway-runner-"), "data");
  const home = join(dirname(dataDir), "home");
  mkdirSync(dataDir);
  mkdirSync(home);
  installAction(join(dataDir, "actions"));
  // The test's repository is root's; a runner on another account clones it all the same.
  writeFileSync(join(home, ".gitconfig"), "[safe]\n\tdirectory = *\n");
  if (o.asNobody) {
    chmodSync(dirname(dataDir), 0o755);
    execFileSync("chown", ["-R", `${nobody.uid}:${nobody.gid}`, dataDir, home]);
  }
  const child = spawn(
    process.execPath,
    [
      binPath,
      "runner",
      "--server",
      server.url,
      "--name",
      o.name,
      "--labels",
      o.labels,
      "--data-dir",
      dataDir,
      ...(o.args ?? []),
    ],
    {
      env: h.env({
        SLIPWAY_RUNNER_TOKEN: server.token,
        HOME: home,
        XDG_CONFIG_HOME: home,
      }),
      stdio: ["ignore", "ignore", "pipe"],
      ...(o.asNobody ? { uid: nobody.uid, gid: nobody.gid } : {}),
    },
  );
  let err = "";
  child.stderr!.on("data", (c: Buffer) => {
    err += c.toString();
  });
  return { child, dataDir, stderr: () => err };
}

describe("a fork's code on a self-hosted runner", { concurrent: true }, () => {
  test(
    "the server's own runner runs a fork's steps as nobody: nothing of the server is readable or writable; a same-repo pull request runs as the server's user",
    async ({ h }) => {
      const server = await startServer(h);
      installAction(join(server.dataDir, "runner", "actions"));
      const secrets = [
        join(server.dataDir, "master.key"),
        join(server.dataDir, "slipway.db"),
        join(server.dataDir, "admin-token"),
        `/proc/${server.pid}/environ`,
      ];
      for (const f of secrets.slice(0, 3)) expect(existsSync(f), f).toBe(true);
      const workflow = probeWorkflow({ runsOn: "ubuntu-latest", secrets, dataDir: server.dataDir });
      const r = repoWith(workflow, 11);
      const hookSecret = await addRepo(server, r.repo, fullName);

      const forkRun = await runOf(server, hookSecret, forkPullRequest(r.repo, 11, r.forkSha, r.baseSha));
      const forkView = await waitForRun(server, forkRun, { timeoutMs: 60_000 });
      const forkLog = await logText(server, forkRun);
      expect(forkView.run.conclusion, forkLog).toBe("success");
      for (const f of secrets) expect(forkLog).toContain(`READ-DENIED ${f}`);
      expect(forkLog).not.toMatch(/^READ-OK/m);
      expect(forkLog).toContain("WRITE-DENIED");
      expect(existsSync(join(server.dataDir, "planted"))).toBe(false);
      expect(forkLog).toContain(`uid=${nobody.uid}`);
      // Its HOME is in the job's directory, not the server's.
      expect(forkLog).not.toMatch(/home=\/root/);
      expect(forkLog).toContain("checked-out=fork");
      expect(forkLog).toContain("git-works");
      expect(forkLog).toContain(`js-uid=${nobody.uid}`);
      expect(forkLog).toContain(`post-uid=${nobody.uid}`);
      expect(forkLog).toContain(`outputs probe=${nobody.uid} js=${nobody.uid}`);

      // The same workflow from the repository's own branch: the server's user, as before.
      const ownRun = await runOf(server, hookSecret, branchPullRequest(r.repo, 12, r.branchSha, r.baseSha));
      const ownView = await waitForRun(server, ownRun, { timeoutMs: 60_000 });
      const ownLog = await logText(server, ownRun);
      expect(ownView.run.conclusion, ownLog).toBe("success");
      expect(ownLog).toContain(`uid=${process.getuid!()}`);
      expect(ownLog).toContain(`READ-OK ${secrets[0]}`);
      expect(ownLog).toContain(`outputs probe=${process.getuid!()} js=${process.getuid!()}`);
      expect(ownLog).toContain(`post-uid=${process.getuid!()}`);
    },
    slow,
  );

  test(
    "a fork's tricks on an isolating runner: symlinked file commands, a planted git hook, artifacts, caches and host mounts get nothing",
    async ({ h }) => {
      const server = await startServer(h);
      const key = readFileSync(join(server.dataDir, "master.key"), "utf8").trim();
      const data = server.dataDir;
      const tricks = `name: CI
on: pull_request
jobs:
  tricks:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: |
          rm -f "$GITHUB_OUTPUT" 2>/dev/null || echo "cannot-remove-output"
          ln -sf "${data}/master.key" "$GITHUB_ENV" 2>/dev/null || echo "cannot-link-env"
          ln -s "${data}/master.key" key.txt
          echo '#!/bin/sh' > .git/hooks/post-checkout
          echo 'echo "hook-uid=$(id -u)"' >> .git/hooks/post-checkout
          chmod +x .git/hooks/post-checkout
          cat key.txt 2>/dev/null || echo "key-unreadable"
      - uses: actions/checkout@v4
      - run: test -f .git/hooks/post-checkout || echo "hook-gone"
      - uses: actions/upload-artifact@v4
        continue-on-error: true
        with:
          name: key
          path: ${data}/master.key
      - id: cache
        uses: actions/cache@v4
        with:
          path: ${data}
          key: steal
      - run: echo "cache-hit=\${{ steps.cache.outputs.cache-hit }}"
      - run: |
          mkdir evil
          echo 'name: evil' > evil/action.yml
          echo 'description: builds the master key' >> evil/action.yml
          echo 'runs: { using: docker, image: Dockerfile }' >> evil/action.yml
          ln -s "${data}/master.key" evil/Dockerfile
      - uses: ./evil
        continue-on-error: true
      - run: |
          mkdir evil2
          ln -s "${data}/master.key" evil2/action.yml
      - uses: ./evil2
        continue-on-error: true
  boxed:
    runs-on: ubuntu-latest
    container: slipway/busybox:latest
    steps:
      - id: s
        run: |
          if test -e "${data}"; then echo "DATA-VISIBLE"; else echo "data-not-mounted"; fi
          echo "in=box" >> "$GITHUB_OUTPUT"
      - run: echo "box-output=\${{ steps.s.outputs.in }}"
  mount:
    runs-on: ubuntu-latest
    container:
      image: busybox
      volumes: ["${data}:/stolen"]
    steps:
      - run: cat /stolen/master.key
`;
      const r = repoWith(tricks, 41);
      const hookSecret = await addRepo(server, r.repo, fullName);
      const run = await runOf(server, hookSecret, forkPullRequest(r.repo, 41, r.forkSha, r.baseSha));
      const view = await waitForRun(server, run, { timeoutMs: 60_000 });
      const log = await logText(server, run);
      expect(log).not.toContain(key);
      expect(view.attempts[0].jobs.length, JSON.stringify(view.run)).toBe(3);
      expect(jobOf(view, "tricks").status, log).toBe("success");
      for (const marker of [
        "cannot-remove-output",
        "cannot-link-env",
        "key-unreadable",
        "hook-gone",
        "cache-hit=false",
      ])
        expect(log).toContain(marker);
      expect(log).not.toContain("hook-uid=0");
      expect(log).toContain(
        "actions/upload-artifact is not available to a fork's job on a runner that isolates forks",
      );
      expect(log).toContain("actions/cache is skipped for a fork's job");
      expect(log).toContain("cannot build a container action from the workspace");
      expect(log).toContain("action ./evil2 leads outside the workspace");
      // A job container gets the job's directory, nothing else of the host, and works as usual.
      expect(jobOf(view, "boxed").status, log).toBe("success");
      expect(log).toContain("data-not-mounted");
      expect(log).toContain("box-output=box");
      expect(jobOf(view, "mount").status).toBe("failure");
      expect(log).toContain("a fork's job may not mount a host path");
    },
    slow,
  );

  test(
    "a runner started as root runs a fork's steps as nobody: its data dir and its environment (the token) stay out of reach",
    async ({ h }) => {
      const server = await startServer(h, ["--local-runners", "0"]);
      const runner = startRunner(h, server, { name: "root-runner", labels: "self-hosted" });
      const secrets = [
        join(server.dataDir, "master.key"),
        `/proc/${server.pid}/environ`,
        `/proc/${runner.child.pid}/environ`,
        `/proc/${runner.child.pid}/cwd/.`,
      ];
      const workflow = probeWorkflow({ runsOn: "self-hosted", secrets, dirs: [runner.dataDir] });
      const r = repoWith(workflow, 21);
      const hookSecret = await addRepo(server, r.repo, fullName);
      const forkRun = await runOf(server, hookSecret, forkPullRequest(r.repo, 21, r.forkSha, r.baseSha));
      const view = await waitForRun(server, forkRun, { timeoutMs: 60_000 });
      const log = await logText(server, forkRun);
      expect(view.run.conclusion, `${log}\n${runner.stderr()}`).toBe("success");
      expect(log).not.toMatch(/^READ-OK/m);
      for (const f of [...secrets, runner.dataDir]) expect(log).toContain(`READ-DENIED ${f}`);
      expect(log).toContain(`uid=${nobody.uid}`);
      expect(log).toContain(`outputs probe=${nobody.uid} js=${nobody.uid}`);
      expect(log).toContain("checked-out=fork");
      expect(runner.stderr()).toContain(`runs fork pull requests as nobody (uid ${nobody.uid})`);
    },
    slow,
  );

  test(
    "a runner that cannot switch users never takes a fork's job, which says why; with --untrusted=same-user it does",
    async ({ h }) => {
      const server = await startServer(h, ["--local-runners", "0"]);
      const plain = startRunner(h, server, { name: "plain", labels: "self-hosted", asNobody: true });
      const workflow = probeWorkflow({ runsOn: "self-hosted", secrets: [] });
      const r = repoWith(workflow, 31);
      const hookSecret = await addRepo(server, r.repo, fullName);

      const forkRun = await runOf(server, hookSecret, forkPullRequest(r.repo, 31, r.forkSha, r.baseSha));
      // The runner is alive and takes the repository's own pull request…
      const ownRun = await runOf(server, hookSecret, branchPullRequest(r.repo, 32, r.branchSha, r.baseSha));
      const own = await waitForRun(server, ownRun, { timeoutMs: 60_000 });
      expect(own.run.conclusion, `${await logText(server, ownRun)}\n${plain.stderr()}`).toBe("success");
      expect(await logText(server, ownRun)).toContain(`uid=${nobody.uid}`);
      // …but leaves the fork's job queued, saying why.
      const waiting = await waitFor("the fork's job says why it waits", async () => {
        const v = await getRun(server, forkRun);
        return jobOf(v, "probe").reason ? v : undefined;
      });
      expect(jobOf(waiting, "probe")).toMatchObject({ status: "queued", reason: waitingForIsolationReason });
      await sleep(1500);
      expect(jobOf(await getRun(server, forkRun), "probe").status).toBe("queued");
      expect(plain.stderr()).toContain("does not take fork pull requests");
      const show = await h.cliOk(server, ["runs", "show", String(forkRun)]);
      expect(show.stdout).toContain(`queued    — ${waitingForIsolationReason}`);
      plain.child.kill("SIGKILL");

      // A runner whose operator declared the machine disposable takes it (and runs it as itself).
      const disposable = startRunner(h, server, {
        name: "disposable",
        labels: "self-hosted",
        asNobody: true,
        args: ["--untrusted", "same-user"],
      });
      const done = await waitForRun(server, forkRun, { timeoutMs: 60_000 });
      const log = await logText(server, forkRun);
      expect(done.run.conclusion, `${log}\n${disposable.stderr()}`).toBe("success");
      expect(jobOf(done, "probe").reason).toBeNull();
      expect(log).toContain(`uid=${nobody.uid}`);
      expect(log).toContain("checked-out=fork");
    },
    slow,
  );
});
