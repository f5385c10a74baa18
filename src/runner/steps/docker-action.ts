// Container actions: `runs.using: docker` (an image, or a Dockerfile built from the action's folder)
// and `uses: docker://image` steps. The workspace is mounted at /github/workspace as on GitHub, and the
// job's directory at its own path so GITHUB_OUTPUT and the other file commands work unchanged.
import { createHash } from "node:crypto";
import { isAbsolute, relative, resolve } from "node:path";
import type { ActionRunsDocker } from "@actions/workflow-parser/actions/index";
import { coerceToString } from "../../expressions/index.js";
import type { Engine } from "../../engines/index.js";
import { evaluateTemplateString } from "../../workflow/index.js";
import type { LoadedAction } from "./action-loader.js";
import { containerEnvRules } from "../env/container.js";
import { LineSplitter } from "../process.js";
import { processEnv } from "./common.js";
import { inputEnv } from "./inputs.js";
import { runProcessStep } from "./process-step.js";
import type { PreparedStep, StepRunResult, StepScope } from "./types.js";

const workspaceInContainer = "/github/workspace";

function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/** The image for an action: built from its Dockerfile (tagged by the folder's content hash) or named. */
async function actionImage(
  engine: Engine,
  image: string,
  dir: string | undefined,
  scope: StepScope,
  signal?: AbortSignal,
): Promise<string> {
  if (image.startsWith("docker://")) {
    const ref = image.slice("docker://".length);
    if (!(await engine.imageExists(ref)))
      throw new Error(`image ${ref} is not on the container engine (slipway cannot pull images here)`);
    return ref;
  }
  if (!dir) throw new Error(`cannot build '${image}' without the action's folder`);
  // The runner reads the build context as its own user: a fork's files (a Dockerfile that is a symlink
  // to the master key) would have it send its own files to the engine, and their lines to the log.
  if (scope.state.inv.run.runAs && isInside(dir, scope.state.workspace))
    throw new Error(
      "a fork's job on a runner that isolates forks cannot build a container action from the workspace: the runner would read the files as its own user",
    );
  const tag = `slipway-action/${createHash("sha256").update(`${dir}\0${image}`).digest("hex").slice(0, 16)}:latest`;
  scope.state.log(`Building the action's image from ${image}`);
  await engine.buildImage({
    context: dir,
    dockerfile: resolve(dir, image),
    tags: [tag],
    onLog: (line) => scope.state.log(line),
    signal,
  });
  return tag;
}

export async function runDockerAction(
  step: PreparedStep,
  scope: StepScope,
  opts: {
    image: string;
    action?: LoadedAction;
    inputs: Record<string, string>;
    entrypoint?: string;
    args?: string[];
  },
): Promise<StepRunResult> {
  const state = scope.state;
  const engine = state.containers?.engine ?? (await import("../../engines/index.js")).connectEngine();
  const image = await actionImage(engine, opts.image, opts.action?.dir, scope, step.signal);
  const runs = opts.action?.template.runs as ActionRunsDocker | undefined;
  const ctx = { ...step.contexts, inputs: opts.inputs };
  const evalArg = (a: string) => evaluateTemplateString(a, state.evalOptions(ctx));
  const args = opts.args ?? (runs?.args ?? []).map(evalArg);
  const actionEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(runs?.env ?? {})) actionEnv[k] = evalArg(coerceToString(v));
  const env = processEnv(state, step, containerEnvRules, {
    ...actionEnv,
    ...inputEnv(opts.inputs),
    GITHUB_WORKSPACE: workspaceInContainer,
  });
  const entrypoint = opts.entrypoint ?? runs?.entrypoint;
  const name = `slipway-${state.inv.run.runId}-${state.inv.ref.key}-${step.id}-${state.nextId()}`.replace(
    /[^a-zA-Z0-9_.-]/g,
    "-",
  );
  // The container runs as a process: its output streams into the log, and stopping the step stops it.
  const result = await runProcessStep(state, {
    command: image,
    args,
    cwd: workspaceInContainer,
    env,
    timeoutMs: step.timeoutMs,
    signal: step.signal,
    exec: async (o) => {
      let id: string | undefined;
      try {
        id = await engine.createContainer({
          image,
          name: name.slice(0, 63),
          entrypoint: entrypoint ? [entrypoint] : undefined,
          cmd: o.args.length ? o.args : undefined,
          env: o.env,
          workdir: workspaceInContainer,
          labels: { "dev.slipway.run": state.inv.run.runId, "dev.slipway.job": state.inv.ref.key },
          mounts: [
            { type: "bind", source: state.dir, target: state.dir },
            { type: "bind", source: state.workspace, target: workspaceInContainer },
          ],
          network: state.containers ? { name: state.containers.network } : undefined,
        });
        const started = id;
        await engine.startContainer(started);
        let stoppedBy: "timeout" | "cancel" | undefined;
        const stop = (why: "timeout" | "cancel") => {
          stoppedBy = why;
          void engine.stopContainer(started, { timeoutSeconds: 5 }).catch(() => {});
        };
        const timer = o.timeoutMs !== undefined ? setTimeout(() => stop("timeout"), o.timeoutMs) : undefined;
        const onAbort = () => stop("cancel");
        o.signal?.addEventListener("abort", onAbort, { once: true });
        const out = new LineSplitter((l) => o.onLine(l, "stdout"), o.safeCut);
        const err = new LineSplitter((l) => o.onLine(l, "stderr"), o.safeCut);
        const logs = engine.containerLogs(started, {
          follow: true,
          onStdout: (b) => out.push(b),
          onStderr: (b) => err.push(b),
        });
        const exitCode = await engine.waitContainer(started);
        await logs.catch(() => {});
        out.end();
        err.end();
        if (timer) clearTimeout(timer);
        o.signal?.removeEventListener("abort", onAbort);
        return { exitCode, signal: null, stoppedBy };
      } catch (err) {
        return { exitCode: null, signal: null, spawnError: err as Error };
      } finally {
        if (id) await engine.removeContainer(id, { force: true }).catch(() => {});
      }
    },
  });
  return { outcome: result.outcome, outputs: result.outputs, message: result.message };
}
