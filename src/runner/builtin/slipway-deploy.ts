// `uses: slipway/deploy@v1`: deploys the workspace's slipway.yaml to an environment, exactly as
// `slipway deploy` does from a shell — it runs that command (this slipway's own CLI, in the workspace) so
// the deploy goes through the environment's agent, its lock and its release records. Progress streams
// into the step log; the step fails when the release does not succeed (it is then rolled back).
//
// Inputs: `env` (default production), `services` (names, one per line or comma-separated; default all),
// `images` (SERVICE=REF, one per line or comma-separated: e.g. what slipway/build pushed), `strategy`
// (overrides every deployed service's), `version` (e.g. `${{ steps.version.outputs.version }}`), `config`
// (default slipway.yaml), `wait` (wait for a deploy in progress instead of failing).
// Outputs: `app` and `env` (what was deployed), `release` (its number), `status` (succeeded, failed,
// aborted), `version`.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { hostChildEnv, slipwaySettings } from "../../lib/child-env.js";
import { stopGroup } from "../../lib/exec.js";
import { OperationError, UserError } from "../../lib/errors.js";
import { getBooleanInput, getInput } from "./inputs.js";
import type { BuiltinAction, BuiltinActionContext } from "./types.js";

export type DeployInputs = {
  env: string;
  services: string[];
  /** SERVICE=REF pairs, as `slipway deploy --image` takes them. */
  images: string[];
  strategy?: string;
  version?: string;
  config: string;
  wait: boolean;
};

/** The release document `slipway deploy --json` prints (the fields this action reads). */
type ReleaseView = {
  app?: string;
  env?: string;
  number: number;
  status: string;
  version: string | null;
  phase: string | null;
  error: string | null;
};

/** A list input: one value per line or comma-separated, blanks dropped. */
export function splitList(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

export function readDeployInputs(ctx: BuiltinActionContext, strategies: readonly string[]): DeployInputs {
  const images = splitList(getInput(ctx, "images"));
  for (const pair of images) {
    const eq = pair.indexOf("=");
    if (eq <= 0 || eq === pair.length - 1)
      throw new UserError(`images: expected SERVICE=REF (one per line), got ${JSON.stringify(pair)}`);
  }
  const strategy = getInput(ctx, "strategy") || undefined;
  if (strategy !== undefined && !strategies.includes(strategy))
    throw new UserError(
      `strategy: unknown strategy ${JSON.stringify(strategy)} (one of ${strategies.join(", ")})`,
    );
  return {
    env: getInput(ctx, "env") || "production",
    services: splitList(getInput(ctx, "services")),
    images,
    strategy,
    version: getInput(ctx, "version") || undefined,
    config: getInput(ctx, "config") || "slipway.yaml",
    wait: getBooleanInput(ctx, "wait", false),
  };
}

/** The arguments of `slipway deploy` for these inputs (after the CLI's own path): data only. */
export function deployArgs(inputs: DeployInputs): string[] {
  const args = ["deploy", "--json", "--config", inputs.config, "--env", inputs.env];
  for (const s of inputs.services) args.push("--service", s);
  for (const i of inputs.images) args.push("--image", i);
  if (inputs.strategy) args.push("--strategy", inputs.strategy);
  if (inputs.version) args.push("--version", inputs.version);
  if (inputs.wait) args.push("--wait");
  return args;
}

/**
 * This slipway's CLI: the script the running process was started with (`slipway run`, the server and the
 * runner all are the CLI), as the deploy commands start their agent.
 */
export function slipwayCommand(): { file: string; args: string[] } {
  const script = process.argv[1];
  if (!script)
    throw new OperationError("slipway/deploy: cannot tell where slipway's CLI is (no process.argv[1])");
  return { file: process.execPath, args: [script] };
}

/**
 * The environment of the deploy command. It is slipway's own CLI, so it gets slipway's settings (SLIPWAY_*:
 * data dir, database, master key, pass-env; engine and XDG locations) and nothing else of this process's
 * environment: the child allow-list, then the step's env (SLIPWAY_VERSION and the like included), which
 * cannot replace a setting slipway itself has (it could point the deploy at another store). The agent it
 * may start builds its instances' environments the same way (deploy/runtimes/process.ts). SLIPWAY_RUN
 * marks the release as triggered by a workflow; CI keeps the output plain.
 */
export function deployCommandEnv(
  own: NodeJS.ProcessEnv,
  stepEnv: Record<string, string>,
  runId: string,
): Record<string, string> {
  return {
    ...hostChildEnv(own),
    ...stepEnv,
    ...slipwaySettings(own),
    SLIPWAY_RUN: runId,
    CI: "true",
    NO_COLOR: "1",
  };
}

/** How long a cancelled deploy may take to roll back before the command is stopped outright. */
const abortGraceMs = 5 * 60_000;

async function runDeployCommand(
  ctx: BuiltinActionContext,
  command: { file: string; args: string[] },
): Promise<{ code: number; stdout: string; lastError: string }> {
  ctx.signal.throwIfAborted();
  const child = spawn(command.file, command.args, {
    cwd: ctx.workspace,
    env: deployCommandEnv(process.env, ctx.env ?? {}, ctx.runId),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d: string) => {
    stdout += d;
  });
  // The CLI's error message: its `slipway: ` line and what follows it (a multi-line error).
  let errorLines: string[] | undefined;
  const lines = createInterface({ input: child.stderr });
  lines.on("line", (line) => {
    if (line.startsWith("slipway: ")) errorLines = [line.slice("slipway: ".length)];
    else if (errorLines && errorLines.length < 20) errorLines.push(line);
    ctx.log(line);
  });
  // Cancelling the step interrupts the command as Ctrl-C would: the agent aborts the deploy and rolls back.
  const onAbort = () => void stopGroup(child, { signal: "SIGINT", graceMs: abortGraceMs });
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  try {
    const code = await new Promise<number>((resolve, reject) => {
      child.once("error", (err) =>
        reject(
          new OperationError(`slipway/deploy: cannot run ${command.file}: ${err.message}`, { cause: err }),
        ),
      );
      child.once("close", (c, sig) => resolve(c ?? (sig ? 128 : 1)));
    });
    return { code, stdout, lastError: errorLines?.join("\n") ?? "" };
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
  }
}

function parseRelease(stdout: string): ReleaseView | undefined {
  const text = stdout.trim();
  if (!text) return undefined;
  try {
    const doc = JSON.parse(text) as Partial<ReleaseView>;
    return typeof doc.number === "number" && typeof doc.status === "string"
      ? (doc as ReleaseView)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `cli deploy …` for the step's inputs in the workspace and sets the outputs; throws when the release
 * did not succeed (or none was made). `cli` is slipway's CLI (a stand-in in tests).
 */
export async function runDeployAction(
  ctx: BuiltinActionContext,
  cli: { file: string; args: string[] },
  strategies: readonly string[],
): Promise<void> {
  const inputs = readDeployInputs(ctx, strategies);
  const { code, stdout, lastError } = await runDeployCommand(ctx, {
    file: cli.file,
    args: [...cli.args, ...deployArgs(inputs)],
  });
  const release = parseRelease(stdout);
  if (release) {
    // The app and environment with the release's number name it: the server reports it to the forge.
    if (release.app) ctx.setOutput("app", release.app);
    ctx.setOutput("env", release.env ?? inputs.env);
    ctx.setOutput("release", String(release.number));
    ctx.setOutput("status", release.status);
    ctx.setOutput("version", release.version ?? "");
  }
  if (release?.status === "succeeded" && code === 0) {
    ctx.log(
      `release #${release.number}${release.version ? ` (${release.version})` : ""} of ${inputs.env} succeeded`,
    );
    return;
  }
  if (release) {
    const how = release.phase ? ` (${release.phase})` : "";
    throw new OperationError(
      `release #${release.number} of ${inputs.env} ${release.status}${how}${release.error ? `: ${release.error}` : ""}`,
    );
  }
  // No release was made: bad input or config (exit 2, the CLI's user errors), or no agent.
  const message = `slipway deploy failed (exit code ${code})${lastError ? `: ${lastError}` : ""}`;
  throw code === 2 ? new UserError(message) : new OperationError(message);
}

export const slipwayDeploy: BuiltinAction = {
  async main(ctx) {
    // A deploy acts with the server's deploy secrets and spec: never on a fork's behalf.
    if (ctx.untrusted)
      throw new UserError(
        "slipway/deploy does not run for a pull request from a fork: its code gets no secrets and cannot deploy",
      );
    // Loaded on use: a run that deploys nothing does not load the deploy domain.
    const { strategyNames } = await import("../../deploy/index.js");
    await runDeployAction(ctx, slipwayCommand(), strategyNames);
  },
};
