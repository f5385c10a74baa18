// Jobs in containers under `slipway run`, on a real Docker Engine: a job container with env and volumes
// sharing the workspace with the host, services with health checks reached by name from a container job
// and by mapped port from a host job, `-P label=image`, container actions (`runs.using: docker` and
// `docker://`), and what happens when things go wrong: every container and network of a run is removed
// whether it succeeded, failed or was interrupted; a missing image is named; without an engine only the
// jobs that need one fail. The workflows are in testdata/repo/.github/workflows.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, runCli, type RunOptions } from "../helpers.js";

const testdata = join(import.meta.dirname, "testdata");
const dbImage = "slipway-e2e/fake-postgres:latest";

let root: string;
let repo: string;
let seedDir: string;
const vars = () => ["--var", `SEED_DIR=${seedDir}`, "--var", `DB_IMAGE=${dbImage}`];

function docker(...args: string[]): string {
  return execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

let runs = 0;
function slipway(args: string[], opts: Partial<RunOptions> = {}): Promise<CliResult> {
  const dir = join(root, `run-${++runs}`);
  mkdirSync(join(dir, "data"), { recursive: true });
  return runCli(args, { cwd: repo, dataDir: join(dir, "data"), logDir: dir, ...opts });
}

function explain(r: CliResult): string {
  const tail = (s: string) => s.split("\n").slice(-60).join("\n");
  return `exit ${r.code}\n--- stderr (tail) ---\n${tail(r.stderr)}\n--- stdout (tail) ---\n${tail(r.stdout)}`;
}

type Job = { id: string; status: string; outputs: Record<string, string>; message?: string };
const job = (r: CliResult, id: string): Job => {
  const j = (r.json?.jobs ?? []).find((x: Job) => x.id === id);
  if (!j) throw new Error(`no job ${id} in the result\n${explain(r)}`);
  return j;
};
/** The log lines of one job (`[job] …`). */
const jobLog = (r: CliResult, id: string) =>
  r.stderr
    .split("\n")
    .filter((l) => l.startsWith(`[${id}]`))
    .join("\n");

/** Containers and networks a run left behind (by its run id label). */
function leftovers(runId: string): string[] {
  const filter = `label=dev.slipway.run=${runId}`;
  return [
    ...docker("ps", "-a", "--filter", filter, "--format", "container {{.Names}}").split("\n"),
    ...docker("network", "ls", "--filter", filter, "--format", "network {{.Name}}").split("\n"),
  ].filter(Boolean);
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "slipway-e2e-containers-"));
  repo = join(root, "repo");
  cpSync(join(testdata, "repo"), repo, { recursive: true });
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd: repo });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("commit", "-q", "-m", "containers");
  seedDir = join(root, "seed");
  mkdirSync(seedDir);
  writeFileSync(join(seedDir, "seed.txt"), "the seed volume\n");
  docker("build", "-q", "-t", dbImage, join(testdata, "fake-postgres"));
});

afterAll(() => {
  if (root && !process.env.SLIPWAY_E2E_KEEP) rmSync(root, { recursive: true, force: true });
});

describe("a workflow of container jobs, services and container actions", () => {
  let r: CliResult;
  beforeAll(async () => {
    r = await slipway([
      "run",
      "push",
      "-W",
      ".github/workflows/containers.yml",
      "-P",
      "ubuntu-latest=slipway/busybox:latest",
      ...vars(),
      "--json",
    ]);
  }, 120_000);

  it("succeeds as a whole", () => {
    expect(r.code, explain(r)).toBe(0);
    expect(r.json.status).toBe("success");
  });

  it("runs a job's steps inside its container, with its env and volumes", () => {
    const j = job(r, "in-container");
    expect(j.status, explain(r)).toBe("success");
    const log = jobLog(r, "in-container");
    expect(log).toContain("no /etc/os-release");
    expect(log).toMatch(/BusyBox v\d/);
    expect(log).toContain("seed: the seed volume");
    const hostname = /hostname=([0-9a-f]{12})/.exec(log)?.[1];
    expect(hostname, log).toBeDefined();
    // GITHUB_OUTPUT written inside the container becomes the job's output.
    expect(j.outputs.where).toBe(`container ${hostname}`);
  });

  it("shares the workspace: a file written in the container is uploaded and read on the host", () => {
    const j = job(r, "on-host");
    expect(j.status, explain(r)).toBe("success");
    const log = jobLog(r, "on-host");
    expect(log).toMatch(/host read: built in [0-9a-f]{12} from the seed volume/);
    expect(log).toMatch(/needs output: container [0-9a-f]{12}/);
  });

  it("-P label=image runs a plain job in a container", () => {
    expect(job(r, "platform").status, explain(r)).toBe("success");
    expect(jobLog(r, "platform")).toContain("platform job in BusyBox v");
  });

  it("starts services, waits for their health check, and names them as hosts for a container job", () => {
    expect(job(r, "db-from-container").status, explain(r)).toBe("success");
    const log = jobLog(r, "db-from-container");
    expect(log).toContain("db says PostgreSQL 16.0 (fake) accepting connections");
    expect(log).toMatch(/by id [0-9a-f]{64}/);
    // The step ran only once the service was healthy (it sleeps 2 s before it listens).
    expect(log.indexOf("service db: ready")).toBeGreaterThan(-1);
    expect(log.indexOf("service db: ready")).toBeLessThan(log.indexOf("db says"));
  });

  it("maps service ports for a job on the host (job.services.<id>.ports)", () => {
    expect(job(r, "db-from-host").status, explain(r)).toBe("success");
    expect(jobLog(r, "db-from-host")).toMatch(
      /db on host port \d+ says PostgreSQL 16\.0 \(fake\) accepting connections/,
    );
  });

  it("runs a Dockerfile action and a docker:// step with the workspace and file commands", () => {
    expect(job(r, "docker-actions").status, explain(r)).toBe("success");
    const log = jobLog(r, "docker-actions");
    expect(log).toMatch(/greeting crew from [0-9a-f]{12} in \/github\/workspace/);
    expect(log).toContain("raw image in /github/workspace");
    expect(log).toContain("greeting output: hello crew");
    expect(log).toContain("host sees: hello crew");
    expect(log).toContain("raw output: 11");
  });

  it("leaves no container or network behind", () => {
    expect(leftovers(r.json.runId)).toEqual([]);
  });
});

describe("container jobs that go wrong", () => {
  it("a failed step and a missing image: the run fails, the image is named, nothing is left", async () => {
    const r = await slipway([
      "run",
      "workflow_dispatch",
      "-W",
      ".github/workflows/failures.yml",
      ...vars(),
      "--json",
    ]);
    expect(r.code, explain(r)).toBe(1);
    expect(job(r, "failing-step").status).toBe("failure");
    expect(jobLog(r, "failing-step")).toContain("about to fail");
    expect(jobLog(r, "failing-step")).toContain("cleanup step ran");
    const missing = job(r, "missing-image");
    expect(missing.status).toBe("failure");
    expect(jobLog(r, "missing-image")).toContain("slipway/no-such-image:1.0");
    expect(jobLog(r, "missing-image")).not.toContain("never");
    expect(leftovers(r.json.runId)).toEqual([]);
  });

  it("Ctrl-C while a step runs in a container: cancelled, nothing is left", async () => {
    const started = Date.now();
    const r = await slipway(
      ["run", "workflow_dispatch", "-W", ".github/workflows/cancel.yml", ...vars(), "--json"],
      {
        interrupt: { whenStderrContains: "sleeping in the container" },
      },
    );
    expect(r.code, explain(r)).toBe(1);
    expect(Date.now() - started).toBeLessThan(40_000);
    expect(job(r, "long").status).toBe("cancelled");
    expect(leftovers(r.json.runId)).toEqual([]);
  });

  it("without an engine, only the jobs that need containers fail, with a clear error", async () => {
    const env = { DOCKER_HOST: "unix:///nonexistent.sock" };
    const r = await slipway(["run", "workflow_dispatch", "-W", ".github/workflows/engine.yml", "--json"], {
      env,
    });
    expect(r.code, explain(r)).toBe(1);
    expect(job(r, "host-only").status).toBe("success");
    expect(job(r, "needs-engine").status).toBe("failure");
    expect(jobLog(r, "needs-engine")).toContain("/nonexistent.sock");
    expect(r.stderr).not.toMatch(/internal error/);

    const hostOnly = await slipway(
      ["run", "workflow_dispatch", "-W", ".github/workflows/engine.yml", "-j", "host-only", "--json"],
      { env },
    );
    expect(hostOnly.code, explain(hostOnly)).toBe(0);
    expect(jobLog(hostOnly, "host-only")).toContain("host job ran");
  });
});
