// How `slipway demo` calls its own CLI as a child (as a user would: `releases`, `down`), and its teardown:
// `slipway down`, a wait until the deploy agent has really exited, and the removal of the images its
// builds made — so a demo leaves nothing running or behind unless --keep.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import type { agentPaths } from "../deploy/index.js";
import { sleep } from "../lib/async.js";

export type CliResult = { code: number; stdout: string; stderr: string };
export type DemoCli = (args: string[], timeoutMs?: number) => Promise<CliResult>;

/** Runs this slipway (bin) in the demo's directory; a command still running after timeoutMs is ended. */
export function demoCli(bin: string, dir: string, env: NodeJS.ProcessEnv): DemoCli {
  return (args: string[], timeoutMs = 30_000) =>
    new Promise<CliResult>((done) => {
      const child = spawn(process.execPath, [bin, ...args], {
        cwd: dir,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      const timer = setTimeout(() => {
        stderr += `\nslipway ${args[0]} did not finish within ${timeoutMs / 1000} s`;
        child.kill("SIGTERM");
      }, timeoutMs);
      child.stdout.on("data", (d) => {
        stdout += d;
      });
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        done({ code: code ?? 1, stdout, stderr });
      });
      child.on("error", (e) => done({ code: 1, stdout, stderr: e.message }));
    });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}

/** `slipway down`, then waits until the agent has exited: nothing of the demo is left running. */
export async function stopEnvironment(
  cli: (args: string[], timeoutMs: number) => Promise<CliResult>,
  paths: ReturnType<typeof agentPaths>,
): Promise<{ stopped: boolean; problem?: string }> {
  let agentPid: number | undefined;
  try {
    agentPid = Number(readFileSync(paths.pidFile, "utf8").trim()) || undefined;
  } catch {
    agentPid = undefined;
  }
  const down = await cli(["down", "--yes"], 60_000);
  if (down.code !== 0)
    return { stopped: false, problem: `slipway down failed (log: ${paths.logFile}): ${down.stderr.trim()}` };
  if (agentPid !== undefined) {
    const until = Date.now() + 15_000;
    while (isAlive(agentPid) && Date.now() < until) await sleep(100);
    if (isAlive(agentPid))
      return {
        stopped: false,
        problem: `the deploy agent (pid ${agentPid}) still runs after slipway down; log: ${paths.logFile}`,
      };
  }
  return { stopped: true };
}

/** Removes the images the demo's builds made (a demo leaves nothing behind unless --keep). */
export async function removeImages(images: string[], notes: string[]) {
  if (images.length === 0) return;
  try {
    const { connectEngine } = await import("../engines/index.js");
    const engine = connectEngine({ timeoutMs: 10_000 });
    for (const image of images) await engine.removeImage(image);
  } catch (err) {
    notes.push(`could not remove the demo's images: ${(err as Error).message}`);
  }
}
