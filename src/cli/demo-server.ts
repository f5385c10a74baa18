// `slipway demo --server`: the dashboard in one command. It starts a throwaway `slipway serve` (its own
// data directory, the server's own runner), registers a small sample repository whose workflow has a
// matrix, a job graph, folded groups and coloured output, runs it, and prints the dashboard's URL with
// the demo's admin token to sign in with. It serves until Ctrl-C, then stops and leaves the directory.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { UserError } from "../lib/errors.js";
import { git } from "../lib/git.js";
import { startServer } from "../server/index.js";

export type DemoServerFlags = { dir?: string; listen?: string; json?: boolean };

export const demoWorkflow = `name: CI
on: [push, workflow_dispatch]
jobs:
  build:
    strategy:
      matrix:
        node: [20, 22]
    runs-on: ubuntu-latest
    steps:
      - name: Install
        run: |
          echo "::group::Install dependencies"
          for i in $(seq 1 40); do echo "added package-$i@1.0.$i"; done
          echo "::endgroup::"
      - name: Build
        run: printf '\\033[32m✓ built\\033[0m with node \${{ matrix.node }}\\n'
  test:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - name: Test
        run: |
          for i in $(seq 1 300); do echo "ok $i - case $i"; sleep 0.02; done
          printf '\\033[1;32m300 passed\\033[0m\\n'
  lint:
    runs-on: ubuntu-latest
    steps:
      - run: echo "no lint errors"
  package:
    needs: [test, lint]
    runs-on: ubuntu-latest
    steps:
      - run: echo "packaged demo-app-1.0.0.tgz"
`;

export async function runDemoServer(flags: DemoServerFlags): Promise<number> {
  const root = flags.dir ? resolve(flags.dir) : mkdtempSync(join(tmpdir(), "slipway-demo-server-"));
  mkdirSync(root, { recursive: true });
  const repoDir = join(root, "demo-app");
  mkdirSync(join(repoDir, ".github", "workflows"), { recursive: true });
  writeFileSync(join(repoDir, ".github", "workflows", "ci.yml"), demoWorkflow);
  writeFileSync(join(repoDir, "README.md"), "# demo-app\n\nA sample repository for slipway's dashboard.\n");
  await git(repoDir, ["init", "-q", "-b", "main"]);
  await git(repoDir, ["add", "-A"]);
  await git(repoDir, [
    "-c",
    "user.name=slipway demo",
    "-c",
    "user.email=demo@slipway.invalid",
    "commit",
    "-qm",
    "First commit",
  ]);

  const server = await startServer({
    listen: flags.listen ?? "127.0.0.1:0",
    dataDir: join(root, "server"),
    localRunners: 2,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const token = server.adminToken;
  if (!token) throw new UserError(`${root} already holds a demo server's data: pass an empty --dir`);
  const call = async (path: string, body: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`demo: POST ${path} answered ${res.status}: ${await res.text()}`);
  };
  await call("/api/v1/repos", { url: repoDir, name: "demo/app" });
  await call(`/api/v1/repos/${encodeURIComponent("demo/app")}/dispatch`, { workflow: "ci.yml" });

  const url = `${server.url}/`;
  if (flags.json) process.stdout.write(`${JSON.stringify({ url, token, dir: root })}\n`);
  else
    process.stdout.write(
      `slipway dashboard: ${url}\nsign in with this demo's admin token: ${token}\n(data in ${root}; Ctrl-C stops)\n`,
    );
  await new Promise<void>((done) => {
    const stop = () => void server.stop(5_000).then(done);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  return 0;
}
