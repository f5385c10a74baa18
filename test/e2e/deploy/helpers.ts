// Deploy end-to-end helpers: a throwaway app directory (slipway.yaml + the test service), the built CLI
// run as a user would, and a keep-alive load generator that counts failed requests and versions seen.
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { binPath, e2eDir } from "../helpers.js";

export type AppDir = {
  dir: string;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  writeSpec(deploy: unknown): void;
  cli(args: string[], options?: { input?: string; env?: NodeJS.ProcessEnv }): Promise<CliResult>;
  /** Starts the CLI and returns the child (for Ctrl-C / kill tests). */
  spawnCli(args: string[]): ReturnType<typeof spawn>;
  cleanup(): Promise<void>;
};

export type CliResult = { code: number; stdout: string; stderr: string };

export function makeAppDir(name: string): AppDir {
  const dir = mkdtempSync(join(tmpdir(), `slipway-deploy-${name}-`));
  const dataDir = join(dir, ".data");
  mkdirSync(dataDir);
  cpSync(join(e2eDir, "deploy", "app"), join(dir, "app"), { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SLIPWAY_DATA_DIR_SERVER: dataDir,
    SLIPWAY_DATA_DIR: join(dir, ".local"),
    SLIPWAY_MASTER_KEY: "07".repeat(32),
    NO_COLOR: "1",
  };
  delete env.SLIPWAY_DATABASE;
  const spawnCli = (args: string[], extra?: NodeJS.ProcessEnv) =>
    spawn(process.execPath, [binPath, ...args], { cwd: dir, env: { ...env, ...extra }, stdio: "pipe" });
  const app: AppDir = {
    dir,
    dataDir,
    env,
    writeSpec(deploy) {
      writeFileSync(join(dir, "slipway.yaml"), stringify({ deploy }));
    },
    cli(args, options = {}) {
      return new Promise((resolve) => {
        const child = spawnCli(args, options.env);
        let stdout = "";
        let stderr = "";
        child.stdout!.on("data", (d) => {
          stdout += d;
        });
        child.stderr!.on("data", (d) => {
          stderr += d;
        });
        child.stdin!.end(options.input ?? "");
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
      });
    },
    spawnCli: (args) => spawnCli(args),
    async cleanup() {
      await app.cli(["down", "--yes"]).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return app;
}

export type LoadResult = {
  ok: number;
  failed: number;
  errors: string[];
  versions: Record<string, number>;
  statuses: Record<number, number>;
};

/**
 * Keeps `concurrency` keep-alive clients sending GET requests to url until stop() — every response that
 * is not a 200, and every connection error, counts as failed.
 */
export function startLoad(
  url: string,
  options: { concurrency?: number; headers?: Record<string, string> } = {},
) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency ?? 8 });
  const result: LoadResult = { ok: 0, failed: 0, errors: [], versions: {}, statuses: {} };
  let running = true;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.get(url, { agent, headers: options.headers }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => {
          result.statuses[res.statusCode ?? 0] = (result.statuses[res.statusCode ?? 0] ?? 0) + 1;
          if (res.statusCode === 200) {
            result.ok++;
            const v = body.split(" ")[0];
            result.versions[v] = (result.versions[v] ?? 0) + 1;
          } else {
            result.failed++;
            if (result.errors.length < 10) result.errors.push(`${res.statusCode} ${body.slice(0, 200)}`);
          }
          resolve();
        });
        res.on("error", (e) => {
          result.failed++;
          if (result.errors.length < 10) result.errors.push(e.message);
          resolve();
        });
      });
      req.on("error", (e) => {
        result.failed++;
        if (result.errors.length < 10) result.errors.push(e.message);
        resolve();
      });
    });
  const loops = Array.from({ length: options.concurrency ?? 8 }, async () => {
    while (running) {
      await one();
      await new Promise((r) => setTimeout(r, 2));
    }
  });
  return {
    result,
    async stop(): Promise<LoadResult> {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return result;
    },
  };
}

export async function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.text() };
}

export function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}
