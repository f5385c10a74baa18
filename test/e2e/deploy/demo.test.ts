// `slipway demo` as a user runs it: the built CLI makes the demo-shop repository, runs its pipeline twice
// (v1, then v2 blue-green under the demo's load probe) and stops everything. The probe must see no failed
// request, both releases must be recorded, and nothing the demo started may still run afterwards.
// About 20 s per demo; the longer timeouts are for loaded machines.
import { execFileSync, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { binPath } from "../helpers.js";

type Result = { code: number; stdout: string; stderr: string };

let root: string;

function demo(args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SLIPWAY_DATA_DIR: join(root, "slipway-data"),
      NO_COLOR: "1",
    };
    const child = spawn(process.execPath, [binPath, "demo", ...args], {
      cwd: root,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Processes whose command line names dir or whose working directory is inside it. */
function processesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (cmdline.includes(dir) || cwd === dir || cwd.startsWith(`${dir}/`))
        found.push(`${pid} ${cmdline} (cwd ${cwd})`);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

function imageExists(ref: string): boolean {
  try {
    execFileSync("docker", ["image", "inspect", ref], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const tail = (r: Result) =>
  `exit ${r.code}\n${r.stderr.split("\n").slice(-60).join("\n")}\n${r.stdout.slice(0, 3000)}`;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "slipway-e2e-demo-"));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("slipway demo", () => {
  it("builds, releases and deploys v1, then v2 blue-green with no failed request, and stops everything", async () => {
    const dir = join(root, "shop");
    const r = await demo(["--json", "--dir", dir]);
    expect(r.code, tail(r)).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({
      ok: true,
      dir,
      problems: [],
      kept: false,
      stopped: true,
      serving: "0.2.0",
    });

    expect(report.stages.map((s: { version: string }) => s.version)).toEqual(["0.1.0", "0.2.0"]);
    for (const stage of report.stages) {
      expect(stage.run.status).toBe("success");
      expect(stage.run.jobs.map((j: { id: string; status: string }) => `${j.id} ${j.status}`)).toEqual([
        "test success",
        "version success",
        "build success",
        "deploy success",
      ]);
    }
    // The repository has both commits and the tags the version job pushed back.
    expect(execFileSync("git", ["-C", dir, "tag"], { encoding: "utf8" }).split("\n").filter(Boolean)).toEqual(
      ["v0.1.0", "v0.2.0"],
    );

    // The probe ran through the switch: both versions answered, nothing failed.
    expect(report.probe.failed, report.probe.errors.join("\n")).toBe(0);
    expect(report.probe.requests).toBeGreaterThan(50);
    for (const name of ["web", "api"]) {
      expect(report.probe.targets[name].failed).toBe(0);
      expect(report.probe.targets[name].versions["0.1.0"]).toBeGreaterThan(0);
      expect(report.probe.targets[name].versions["0.2.0"]).toBeGreaterThan(0);
    }

    // Both releases are recorded, newest first, deployed by the workflow.
    expect(report.releases).toHaveLength(2);
    expect(report.releases[0]).toMatchObject({
      number: 2,
      version: "0.2.0",
      status: "succeeded",
      trigger: "workflow",
      strategy: { api: "blue-green", web: "blue-green", worker: "recreate" },
    });
    expect(report.releases[1]).toMatchObject({ number: 1, version: "0.1.0", status: "succeeded" });
    const released = Object.values(report.releases[0].impact.services).flatMap((byRevision) =>
      Object.values(byRevision as Record<string, { failed: number }>),
    );
    expect(released.every((i) => i.failed === 0)).toBe(true);

    // Docker answers on the test machines: the images were built (v2 rebuilt only api), then removed.
    expect(report.docker.used).toBe(true);
    expect(report.docker.images).toEqual([
      "demo-shop/api:0.1.0",
      "demo-shop/web:0.1.0",
      "demo-shop/worker:0.1.0",
      "demo-shop/api:0.2.0",
    ]);
    for (const image of report.docker.images) expect(imageExists(image), image).toBe(false);

    // Nothing the demo started runs any more: no agent, no instance.
    expect(existsSync(join(dir, ".slipway", "data", "deploy", "demo-shop", "production", "agent.pid"))).toBe(
      false,
    );
    expect(processesUnder(dir)).toEqual([]);
  }, 120_000);

  it("--no-docker skips the image build and says why; the deploy still runs", async () => {
    const dir = join(root, "no-docker");
    const r = await demo(["--no-docker", "--dir", dir]);
    expect(r.code, tail(r)).toBe(0);
    expect(r.stderr).toContain("No usable Docker engine: the image build is skipped");
    expect(r.stdout).toContain("images  not built: --no-docker");
    expect(r.stdout).toMatch(
      /load probe during the v2 rollout \(blue-green\): \d+ requests in [\d.]+s, 0 failed/,
    );
    expect(r.stdout).toContain("#2 0.2.0 succeeded");
    expect(r.stdout).toContain(`slipway status   -c ${join(dir, "slipway.yaml")}`);
    expect(processesUnder(dir)).toEqual([]);
  }, 120_000);

  it("refuses a --dir that is not empty, before making anything", async () => {
    const dir = join(root, "taken");
    mkdirSync(dir);
    writeFileSync(join(dir, "notes.txt"), "mine\n");
    const r = await demo(["--dir", dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--dir ${dir}: the directory is not empty`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(dir)).toEqual(["notes.txt"]);
  });
});
