// Jobs in containers: `jobs.<id>.container` (or a runs-on label mapped to an image with -P) runs the
// job's `run` steps inside a container with the job's directory mounted at the same path; `services`
// start first on a per-job network with their ids as host names, and the job waits for their health
// checks. Everything is removed when the job ends, whatever the outcome.
import { randomBytes } from "node:crypto";
import { coerceToString, type Json } from "../../expressions/index.js";
import type { ContainerSpec, Engine, HealthCheck, PortBinding } from "../../engines/index.js";
import { sleep } from "../../lib/async.js";
import type { ProcessResult, RunProcessOptions } from "../process.js";
import { killGraceMs, LineSplitter } from "../process.js";
import { resolveShell } from "./shell.js";
import type { JobEnvironment, ProcessEnvRules, ShellTemplate } from "./types.js";

export type ServiceInfo = { id: string; network: string; ports: Record<string, string> };

export type ContainerSetup = {
  engine: Engine;
  network: string;
  /** The job container, when steps run in one. */
  jobContainer?: string;
  /** Whether bash exists in the job container (the default shell then is bash, else sh). */
  hasBash: boolean;
  services: Record<string, ServiceInfo>;
  cleanup(): Promise<void>;
};

type ContainerDef = {
  image: string;
  env?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  options?: string;
  credentials?: { username?: string; password?: string };
};

/** `container:` / `services.<id>:` as evaluated: a string is an image. */
export function containerDef(value: Json | undefined, what: string): ContainerDef | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "string") return { image: value };
  if (typeof value !== "object" || Array.isArray(value))
    throw new Error(`${what} must be an image name or a mapping`);
  const v = value as Record<string, Json>;
  if (!v.image) {
    // GitHub skips a container whose image evaluates to an empty string.
    return undefined;
  }
  const env: Record<string, string> = {};
  if (v.env && typeof v.env === "object" && !Array.isArray(v.env)) {
    for (const [k, x] of Object.entries(v.env)) env[k] = coerceToString(x);
  }
  return {
    image: coerceToString(v.image),
    env,
    ports: Array.isArray(v.ports) ? v.ports.map((p) => coerceToString(p)) : undefined,
    volumes: Array.isArray(v.volumes) ? v.volumes.map((p) => coerceToString(p)) : undefined,
    options: v.options ? coerceToString(v.options) : undefined,
    credentials: v.credentials as ContainerDef["credentials"],
  };
}

function durationMs(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new Error(`invalid duration '${s}'`);
  const n = Number(m[1]);
  return n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"] ?? 1000);
}

/** The `docker create` options GitHub users put in `options:`, as far as they matter here. */
export function parseContainerOptions(
  options: string | undefined,
): Partial<ContainerSpec> & { health?: HealthCheck } {
  if (!options) return {};
  const words = options.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? [];
  const unquote = (s: string) => s.replace(/^["']|["']$/g, "");
  const out: Partial<ContainerSpec> & { health?: HealthCheck } = {};
  const health: HealthCheck = { test: [] };
  for (let i = 0; i < words.length; i++) {
    let [flag, value] = words[i].split(/=(.*)/s);
    if (value === undefined && i + 1 < words.length && !words[i + 1].startsWith("--")) value = words[++i];
    value = value === undefined ? "" : unquote(value);
    switch (flag) {
      case "--health-cmd":
        health.test = ["CMD-SHELL", value];
        break;
      case "--health-interval":
        health.intervalMs = durationMs(value);
        break;
      case "--health-timeout":
        health.timeoutMs = durationMs(value);
        break;
      case "--health-retries":
        health.retries = Number(value);
        break;
      case "--health-start-period":
        health.startPeriodMs = durationMs(value);
        break;
      case "--user":
      case "-u":
        out.user = value;
        break;
      case "--workdir":
      case "-w":
        out.workdir = value;
        break;
      case "--privileged":
        out.privileged = true;
        break;
      case "--cpus":
        out.cpus = Number(value);
        break;
      case "--memory":
      case "-m": {
        const m = /^(\d+)([kmg]?)b?$/i.exec(value);
        if (m)
          out.memoryBytes =
            Number(m[1]) * ({ "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase()] ?? 1);
        break;
      }
      case "--add-host":
        out.extraHosts = [...(out.extraHosts ?? []), value];
        break;
      default:
        // Other flags (--entrypoint, --network, …) are not supported for job containers; ignored.
        break;
    }
  }
  if (health.test.length) out.health = health;
  return out;
}

function portBindings(ports: string[] | undefined): PortBinding[] {
  return (ports ?? []).map((p) => {
    const [spec, proto] = p.split("/");
    const parts = spec.split(":");
    const container = Number(parts[parts.length - 1]);
    const host = parts.length > 1 ? Number(parts[parts.length - 2]) : undefined;
    return {
      container,
      host,
      hostIp: parts.length > 2 ? parts[0] : "127.0.0.1",
      protocol: proto === "udp" ? "udp" : "tcp",
    };
  });
}

function volumeMounts(volumes: string[] | undefined): ContainerSpec["mounts"] {
  return (volumes ?? []).map((v) => {
    const [source, target, mode] = v.split(":");
    if (!target) return { type: "volume" as const, source: "", target: source };
    const bind = source.startsWith("/") || source.startsWith(".");
    return { type: bind ? ("bind" as const) : ("volume" as const), source, target, readOnly: mode === "ro" };
  });
}

async function waitHealthy(
  engine: Engine,
  id: string,
  name: string,
  signal: AbortSignal,
  timeoutMs = 300_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await engine.inspectContainer(id, signal);
    if (!state?.running)
      throw new Error(`service ${name} stopped (exit code ${state?.exitCode ?? "?"}) before it was healthy`);
    if (state.health === "healthy" || state.health === "none") return;
    if (state.health === "unhealthy") throw new Error(`service ${name} is unhealthy`);
    if (Date.now() > deadline) throw new Error(`service ${name} was not healthy after ${timeoutMs / 1000}s`);
    if (signal.aborted) throw new Error("cancelled");
    await sleep(250);
  }
}

/** Starts the services and the job container of a job; on failure removes what was started. */
export async function setupContainers(opts: {
  jobKey: string;
  runId: string;
  jobDir: string;
  job?: ContainerDef;
  services: Record<string, ContainerDef>;
  signal: AbortSignal;
  log: (line: string) => void;
}): Promise<ContainerSetup> {
  // Loaded on first use: jobs without containers never load the engine client.
  const { connectEngine } = await import("../../engines/index.js");
  const engine = connectEngine();
  await engine.ping(opts.signal);
  const suffix = randomBytes(3).toString("hex");
  const base = `slipway-${opts.runId}-${opts.jobKey}`.replace(/[^a-zA-Z0-9_.-]/g, "-").slice(0, 40);
  const network = `${base}-${suffix}`;
  const labels = { "dev.slipway.run": opts.runId, "dev.slipway.job": opts.jobKey };
  const created: string[] = [];
  let networkCreated = false;
  const cleanup = async () => {
    for (const id of created.reverse()) await engine.removeContainer(id, { force: true }).catch(() => {});
    if (networkCreated) await engine.removeNetwork(network).catch(() => {});
  };
  try {
    await engine.createNetwork(network, { labels });
    networkCreated = true;
    const ensureImage = async (image: string) => {
      if (!(await engine.imageExists(image))) {
        throw new Error(
          `image ${image} is not on the container engine (slipway cannot pull images here: build or load it first)`,
        );
      }
    };
    const services: Record<string, ServiceInfo> = {};
    const started: { name: string; id: string }[] = [];
    for (const [name, def] of Object.entries(opts.services)) {
      await ensureImage(def.image);
      const parsed = parseContainerOptions(def.options);
      const { health, ...rest } = parsed;
      const id = await engine.createContainer(
        {
          image: def.image,
          name: `${network}-${name}`.slice(0, 63),
          env: def.env,
          labels,
          ports: portBindings(def.ports),
          mounts: volumeMounts(def.volumes),
          network: { name: network, aliases: [name] },
          healthcheck: health,
          ...rest,
        },
        opts.signal,
      );
      created.push(id);
      await engine.startContainer(id, opts.signal);
      started.push({ name, id });
      opts.log(`service ${name}: started ${def.image}`);
    }
    for (const { name, id } of started) {
      await waitHealthy(engine, id, name, opts.signal);
      const state = await engine.inspectContainer(id, opts.signal);
      const ports: Record<string, string> = {};
      for (const [k, bindings] of Object.entries(state?.ports ?? {})) {
        if (bindings[0]) ports[k.split("/")[0]] = String(bindings[0].hostPort);
      }
      services[name] = { id, network, ports };
      opts.log(
        `service ${name}: ready${Object.keys(ports).length ? ` (ports ${JSON.stringify(ports)})` : ""}`,
      );
    }
    let jobContainer: string | undefined;
    let hasBash = false;
    if (opts.job) {
      await ensureImage(opts.job.image);
      const parsed = parseContainerOptions(opts.job.options);
      const { health: _health, ...rest } = parsed;
      jobContainer = await engine.createContainer(
        {
          image: opts.job.image,
          name: `${network}-job`.slice(0, 63),
          entrypoint: ["tail"],
          cmd: ["-f", "/dev/null"],
          env: opts.job.env,
          labels,
          ports: portBindings(opts.job.ports),
          mounts: [
            { type: "bind", source: opts.jobDir, target: opts.jobDir },
            ...(volumeMounts(opts.job.volumes) ?? []),
          ],
          network: { name: network, aliases: ["job"] },
          ...rest,
        },
        opts.signal,
      );
      created.push(jobContainer);
      await engine.startContainer(jobContainer, opts.signal);
      const probe = await engine.execInContainer(jobContainer, ["sh", "-c", "command -v bash"], {
        signal: opts.signal,
      });
      hasBash = probe.exitCode === 0;
      opts.log(`job container: ${opts.job.image}`);
    }
    return { engine, network, jobContainer, hasBash, services, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

const containerPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Runs a step's command in the job container with the same contract as a host process. */
export async function execInContainer(
  setup: ContainerSetup,
  opts: RunProcessOptions,
): Promise<ProcessResult> {
  const id = setup.jobContainer!;
  const engine = setup.engine;
  let stoppedBy: ProcessResult["stoppedBy"];
  const out = new LineSplitter((l) => opts.onLine(l, "stdout"), opts.safeCut);
  const err = new LineSplitter((l) => opts.onLine(l, "stderr"), opts.safeCut);
  // Stopping a step in a container: signal every process but PID 1 (the idle `tail`), then kill.
  const stop = (reason: "timeout" | "cancel") => {
    if (stoppedBy) return;
    stoppedBy = reason;
    void engine.execInContainer(id, ["sh", "-c", "kill -INT -1 2>/dev/null; true"]).catch(() => {});
    setTimeout(() => {
      void engine.execInContainer(id, ["sh", "-c", "kill -KILL -1 2>/dev/null; true"]).catch(() => {});
    }, killGraceMs).unref();
  };
  const timer = opts.timeoutMs !== undefined ? setTimeout(() => stop("timeout"), opts.timeoutMs) : undefined;
  const onAbort = () => stop("cancel");
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener("abort", onAbort, { once: true });
  const env = { ...opts.env };
  if (!env.PATH) env.PATH = containerPath;
  try {
    const r = await engine.execInContainer(id, [opts.command, ...opts.args], {
      env,
      workdir: opts.cwd,
      onStdout: (b) => out.push(b),
      onStderr: (b) => err.push(b),
    });
    out.end();
    err.end();
    return { exitCode: r.exitCode, signal: null, stoppedBy };
  } catch (e) {
    out.end();
    err.end();
    return { exitCode: null, signal: null, stoppedBy, spawnError: e as Error };
  } finally {
    if (timer) clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
  }
}

/** PATH inside the job container: GITHUB_PATH additions before the image's usual directories. */
export function containerPathWith(additions: string[]): string | undefined {
  return additions.length ? [...additions, containerPath].join(":") : undefined;
}

/** How a step's process environment is made in any container: the image's own, PATH included. */
export const containerEnvRules: ProcessEnvRules = {
  baseEnv: () => ({}),
  stepPath: (stepEnv, additions) => stepEnv.PATH ?? containerPathWith(additions),
};

/**
 * The job container as a job's environment. The job's directory is mounted at its own path, so host
 * paths (workspace, temp, scripts, file commands) need no translation; processes run as the image's
 * user, so an isolated leg's uid does not apply (the fork checks keep host mounts out).
 */
export class ContainerEnvironment implements JobEnvironment {
  readonly kind = "container";
  private readonly setup: ContainerSetup;

  constructor(setup: ContainerSetup) {
    this.setup = setup;
  }

  exec(opts: RunProcessOptions): Promise<ProcessResult> {
    return execInContainer(this.setup, opts);
  }

  baseEnv(): Record<string, string> {
    return containerEnvRules.baseEnv();
  }

  stepPath(stepEnv: Record<string, string>, additions: string[]): string | undefined {
    return containerEnvRules.stepPath(stepEnv, additions);
  }

  shell(option: string | undefined, _env: Record<string, string>): ShellTemplate {
    // Only bash was probed when the container started (the default shell); the image is trusted to
    // have what a step names, and a missing program fails the step when it runs.
    return resolveShell(option, (program) => (program === "bash" ? this.setup.hasBash : true));
  }
}
