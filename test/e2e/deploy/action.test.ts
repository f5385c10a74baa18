// `uses: slipway/deploy@v1` end to end: a real workflow run by `slipway run` in a throwaway repository
// deploys its slipway.yaml (the process runtime) through the CLI and its agent; the step's outputs carry
// the release, a failed release fails the step, and bad input fails it before any release exists.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../support/ports.js";
import { type AppDir, get, makeAppDir } from "./helpers.js";

type Step = {
  id?: string;
  name: string;
  outcome: string;
  conclusion: string;
  outputs?: Record<string, string>;
};
type RunDocument = {
  status: string;
  jobs: { id: string; status: string; outputs: Record<string, string>; steps: Step[] }[];
};

describe("uses: slipway/deploy@v1", () => {
  let app: AppDir;
  let name: string;
  let url: string;
  let port: number;

  /** Commits slipway.yaml (the api's env varies) and a workflow whose deploy step has `with`. */
  function commit(apiEnv: Record<string, string>, inputs: Record<string, string>) {
    app.writeSpec({
      app: name,
      services: {
        api: {
          command: "node server.mjs",
          cwd: "./app",
          replicas: 2,
          publish: port,
          env: apiEnv,
          health: { http: "/healthz", interval: "100ms", deadline: "3s" },
          drain_timeout: "1s",
        },
      },
    });
    const workflow = {
      name: "deploy",
      on: "push",
      jobs: {
        deploy: {
          "runs-on": "ubuntu-latest",
          steps: [
            { uses: "actions/checkout@v4" },
            { id: "deploy", uses: "slipway/deploy@v1", with: inputs },
            { name: "after", if: "always()", run: 'echo "deployed #${{ steps.deploy.outputs.release }}"' },
          ],
          outputs: {
            release: "${{ steps.deploy.outputs.release }}",
            status: "${{ steps.deploy.outputs.status }}",
            version: "${{ steps.deploy.outputs.version }}",
          },
        },
      },
    };
    mkdirSync(join(app.dir, ".github", "workflows"), { recursive: true });
    writeFileSync(join(app.dir, ".github", "workflows", "deploy.yml"), stringify(workflow));
    git("add", "-A");
    git("commit", "-q", "-m", `deploy ${JSON.stringify(apiEnv)}`);
  }

  function git(...args: string[]) {
    return execFileSync("git", args, { cwd: app.dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  }

  async function run() {
    const r = await app.cli(["run", "--json"], { env: { SLIPWAY_DATA_DIR: join(app.dir, ".local") } });
    const doc = JSON.parse(r.stdout) as RunDocument;
    const job = doc.jobs.find((j) => j.id === "deploy")!;
    const step = job.steps.find((s) => s.id === "deploy")!;
    return { ...r, doc, job, step };
  }

  beforeAll(async () => {
    name = `action-${randomBytes(3).toString("hex")}`;
    app = makeAppDir("action");
    port = await freePort();
    url = `http://127.0.0.1:${port}/`;
    writeFileSync(join(app.dir, ".gitignore"), ".data/\n.local/\n");
    git("init", "-q", "-b", "main");
    git("config", "user.name", "Test Author");
    git("config", "user.email", "author@example.com");
    git("config", "commit.gpgsign", "false");
  });
  afterAll(async () => {
    await app?.cleanup();
  });

  it("deploys the workspace's slipway.yaml and sets release, status and version", async () => {
    commit({ APP_VERSION: "v1" }, { version: "1.4.0", services: "api" });
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(r.step).toMatchObject({ outcome: "success" });
    expect(r.job).toMatchObject({
      status: "success",
      outputs: { release: "1", status: "succeeded", version: "1.4.0" },
    });
    // The deploy's progress is in the step's log.
    expect(r.stderr).toMatch(/release #1 of .* \(1\.4\.0\)/);
    expect(r.stderr).toMatch(/api: r1 serves \(2 instance\(s\)\)/);
    expect(r.stderr).toContain("deployed #1");
    expect((await get(url)).body).toMatch(/^v1 api-r1-/);
    // Recorded as a workflow's release, like `slipway deploy` run by one.
    const releases = JSON.parse((await app.cli(["releases", "--json", "--app", name])).stdout);
    expect(releases[0]).toMatchObject({
      number: 1,
      status: "succeeded",
      trigger: "workflow",
      version: "1.4.0",
    });
  });

  it("fails the step when the release fails; the outputs say which and the old version serves", async () => {
    commit({ APP_VERSION: "v2", FAIL_HEALTH: "1" }, { strategy: "rolling", env: "production" });
    const r = await run();
    expect(r.code).toBe(1);
    expect(r.step).toMatchObject({ outcome: "failure" });
    expect(r.job).toMatchObject({
      status: "failure",
      outputs: { release: "2", status: "failed", version: "" },
    });
    expect(r.stderr).toMatch(/release #2 of production failed \(rolled back\): .*did not become ready/);
    expect(r.stderr).toContain("deployed #2");
    expect((await get(url)).body).toMatch(/^v1 /);
  });

  it("bad input fails the step before any release is made", async () => {
    commit({ APP_VERSION: "v3" }, { images: "api" });
    const bad = await run();
    expect(bad.code).toBe(1);
    expect(bad.step).toMatchObject({ outcome: "failure" });
    expect(bad.stderr).toContain('images: expected SERVICE=REF (one per line), got "api"');

    commit({ APP_VERSION: "v3" }, { services: "api, nope" });
    const unknown = await run();
    expect(unknown.code).toBe(1);
    expect(unknown.step.outcome).toBe("failure");
    expect(unknown.stderr).toMatch(/slipway deploy failed \(exit code 2\): .*nope/);
    expect(unknown.job.outputs.release ?? "").toBe("");
    const releases = JSON.parse((await app.cli(["releases", "--json", "--app", name])).stdout);
    expect(releases).toHaveLength(2);
  });
});
