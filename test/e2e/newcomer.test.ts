// The newcomer's first day, end to end with the built CLI, as the README tells it: a repository with a
// Dockerfile and a compose file → `slipway init` → `slipway config validate` → `slipway build` (the
// image, into the local engine) → `slipway deploy` → `slipway logs api -f` shows the instance's output
// (and what it logs while followed) → `slipway down --yes` leaves nothing running.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";
import { waitFor } from "../support/wait.js";
import { binPath } from "./helpers.js";

const docker = (args: string[]) => execFileSync("docker", args, { encoding: "utf8" }).trim();

function get(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/", timeout: 3000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
  });
}

describe("a newcomer's first deploy", () => {
  let dir: string;
  let repo: string;
  let env: NodeJS.ProcessEnv;
  let port: number;
  const app = `newcomer${process.pid}`;

  const slipway = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [binPath, ...args], {
        cwd: repo,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (b) => {
        stdout += b;
      });
      child.stderr.on("data", (b) => {
        stderr += b;
      });
      child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "slipway-e2e-newcomer-"));
    repo = join(dir, app);
    mkdirSync(join(repo, "api"), { recursive: true });
    port = await freePort();
    // busybox httpd logs each request to stderr: the service's output while it is followed.
    writeFileSync(
      join(repo, "api", "Dockerfile"),
      'FROM slipway/busybox:latest\nCMD ["sh", "-c", "echo api starting; mkdir -p /www; echo hello > /www/index.html; exec httpd -f -v -p 3000 -h /www"]\n',
    );
    writeFileSync(
      join(repo, "compose.yaml"),
      `services:\n  api:\n    build: ./api\n    ports: ["${port}:3000"]\n`,
    );
    const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, stdio: "ignore" });
    git("init", "-q", "-b", "main");
    git("add", "-A");
    git("-c", "user.name=New Comer", "-c", "user.email=new@example.com", "commit", "-q", "-m", "first");
    env = {
      ...process.env,
      SLIPWAY_DATA_DIR: join(dir, "data"),
      SLIPWAY_DATA_DIR_SERVER: join(dir, "data", "server"),
      SLIPWAY_MASTER_KEY: "07".repeat(32),
      NO_COLOR: "1",
    };
    delete env.SLIPWAY_DATABASE;
    delete env.CI;
  });
  afterAll(async () => {
    await slipway(["down", "--yes"]).catch(() => {});
    for (const ref of docker(["images", `${app}-api`, "--format", "{{.Repository}}:{{.Tag}}"]).split("\n"))
      if (ref) docker(["rmi", "-f", ref]);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("init, validate, build, deploy, follow the logs, down", async () => {
    const init = await slipway(["init", "--yes"]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toBe("wrote slipway.yaml (build, deploy)\n");
    expect(readFileSync(join(repo, "slipway.yaml"), "utf8")).toContain(`image: ${app}-api`);

    const validate = await slipway(["config", "validate"]);
    expect(validate.code, validate.stderr).toBe(0);
    expect(validate.stdout).toBe("ok: slipway.yaml (1 build service, 1 deploy service)\n");

    const build = await slipway(["build", "--json"]);
    expect(build.code, build.stderr).toBe(0);
    const ref = JSON.parse(build.stdout).services.api.reference as string;
    expect(ref).toMatch(new RegExp(`^${app}-api:`));

    const deploy = await slipway(["deploy", "--image", `api=${ref}`]);
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(deploy.stdout).toContain(`api: http://127.0.0.1:${port}`);
    expect(await get(port)).toBe(200);

    const follow = spawn(process.execPath, [binPath, "logs", "api", "-f"], {
      cwd: repo,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    follow.stdout.on("data", (b) => {
      out += b;
    });
    try {
      await waitFor("the instance's first line", () => out.includes("api starting"), 30_000);
      // What the instance writes while it is followed shows up too (httpd -v logs each request).
      const before = out.length;
      await waitFor(
        "a request's log line",
        async () => {
          await get(port);
          return /GET \/ /.test(out.slice(before)) || /response:200/.test(out.slice(before));
        },
        30_000,
        500,
      );
    } finally {
      follow.kill("SIGINT");
    }
    expect(out).toMatch(/^api-r1-[0-9a-f]+ \| api starting$/m);

    const down = await slipway(["down", "--yes"]);
    expect(down.code, down.stderr).toBe(0);
    expect(docker(["ps", "-a", "--filter", `label=dev.slipway.app=${app}`, "--format", "{{.Names}}"])).toBe(
      "",
    );
    expect(await get(port)).toBeUndefined();
  }, 240_000);
});
