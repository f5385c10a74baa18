// The deploy agent: the long-lived process that holds one environment's routers and supervises its
// instances. `slipway deploy` starts it when it is not running and talks to it over a Unix socket in the
// environment's state directory; when the agent restarts it re-adopts the instances (pid records,
// container labels) and converges them to the last successful release.
//
// Socket API (JSON; deploy and rollback stream NDJSON lines {event} … then {release} or {error}):
//   GET /status · POST /deploy · POST /rollback · POST /promote · POST /abort · GET /metrics · POST /shutdown
//   GET /figures (the routers' live figures per service and version: traffic/live-figures.ts)
//   GET /logs (NDJSON lines of instances' output) · POST /exec (upgraded: exec-frames.ts) — instance-io.ts
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import http from "node:http";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import type { Duplex } from "node:stream";
import { httpStatusFor, NotFoundError, problemBody, streamedError, UserError } from "../lib/errors.js";
import type { Release, Store } from "../store/index.js";
import { LiveFigures, routerMetricsText } from "../traffic/index.js";
import {
  type DeployNotice,
  type DeployProgress,
  Deployer,
  type DeployRequest,
  type ReleaseDocument,
  type SecretResolver,
} from "./controller.js";
import { createInstanceIo } from "./instance-io.js";
import { createDockerRuntime } from "./runtimes/docker.js";
import { createMixedRuntime } from "./runtimes/mixed.js";
import { createProcessRuntime } from "./runtimes/process.js";
import { prepareSocketDir, runtimeDir } from "./socket.js";

export type AgentPaths = { stateDir: string; socketPath: string; pidFile: string; logFile: string };

/** Where an environment's agent keeps its state: `<dataDir>/deploy/<app>/<env>/`. */
export function agentPaths(dataDir: string, app: string, env: string): AgentPaths {
  // The names become directories: one that could leave <data dir>/deploy/ (a `/`, `..`, a NUL) is refused
  // here, where every caller (CLI, server, a systemd unit's instance name, the demo) comes through.
  for (const [what, name] of [
    ["app", app],
    ["environment", env],
  ] as const)
    if (name === "" || name === "." || name === ".." || /[/\\\0]/.test(name))
      throw new UserError(
        `invalid ${what} name ${JSON.stringify(name)}: it must be a plain name, not a path`,
      );
  const stateDir = join(dataDir, "deploy", app, env);
  let socketPath = join(stateDir, "agent.sock");
  // A Unix socket path is limited to ~108 bytes; a deep data dir gets a short alias in the user's 0700
  // runtime directory (socket.ts checks its owner and mode on both ends).
  if (Buffer.byteLength(socketPath) > 100)
    socketPath = join(
      runtimeDir(),
      `${createHash("sha256").update(stateDir).digest("hex").slice(0, 16)}.sock`,
    );
  return { stateDir, socketPath, pidFile: join(stateDir, "agent.pid"), logFile: join(stateDir, "agent.log") };
}

export type AgentOptions = {
  app: string;
  env: string;
  paths: AgentPaths;
  store: Store;
  secrets?: SecretResolver;
  dockerHost?: string;
  notify?: (notice: DeployNotice) => void;
  log?: (line: string) => void;
  monitorIntervalMs?: number;
  /** How often the routers' live figures are sampled (GET /figures); default 2000 ms, kept 5 minutes. */
  figuresIntervalMs?: number;
  /**
   * The agent stops itself after this long with nothing to do (no deploy, no instance, no router, no
   * request); 0 or undefined: never.
   */
  idleTimeoutMs?: number;
};

export type Agent = {
  deployer: Deployer;
  /** Resolves when the agent has shut down (POST /shutdown or close()). */
  closed: Promise<void>;
  close(options?: { stopInstances?: boolean }): Promise<void>;
};

export async function startAgent(o: AgentOptions): Promise<Agent> {
  const { paths } = o;
  mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
  // Refuses a socket directory another user made or can write to, before anything is started.
  prepareSocketDir(paths.socketPath, paths.stateDir);
  claimPidFile(paths.pidFile, `${o.app}/${o.env}`);
  // Containers are listed for re-adoption only when a release here ever used them (no engine needed otherwise).
  const recent = await o.store.releases.list({ app: o.app, env: o.env, limit: 20 });
  // The engine: slipway.yaml's docker_host (of the latest release, until a deploy says otherwise), else the
  // agent's own (--docker-host, SLIPWAY_DOCKER_HOST), else DOCKER_HOST or the local socket.
  const specOf = (r: Release | undefined) => (r?.spec as ReleaseDocument | undefined)?.spec;
  let dockerHost = specOf(recent.find((r) => specOf(r)))?.dockerHost ?? o.dockerHost;
  const runtime = createMixedRuntime({
    // The data dir is <dataDir>/deploy/<app>/<env> three levels up (agentPaths); it may sit in the app's directory.
    process: () =>
      createProcessRuntime({
        stateDir: paths.stateDir,
        snapshotExclude: [resolve(paths.stateDir, "../../..")],
      }),
    docker: () => createDockerRuntime({ host: dockerHost, stateDir: paths.stateDir }),
  });
  /** A deploy's engine: the one its spec names; another engine than the one in use is refused. */
  const useDockerHost = (spec: DeployRequest["spec"] | undefined) => {
    const wanted = spec?.dockerHost ?? o.dockerHost;
    if (wanted === dockerHost) return;
    if (runtime.used("docker"))
      throw new UserError(
        `docker_host changed from ${dockerHost ?? "the local engine"} to ${wanted ?? "the local engine"}: ${o.app}/${o.env}'s containers run on the first; stop them with \`slipway down\` before moving the environment to another engine`,
      );
    dockerHost = wanted;
  };
  if (
    recent.some((r) =>
      (r.spec as ReleaseDocument | undefined)?.spec?.services?.some((s) => s.runtime === "docker"),
    )
  )
    runtime.use("docker");
  const deployer = new Deployer({
    app: o.app,
    env: o.env,
    runtime,
    store: o.store,
    holder: `agent ${hostname()} ${paths.stateDir}`,
    secrets: o.secrets,
    notify: o.notify,
    log: o.log,
    monitorIntervalMs: o.monitorIntervalMs,
  });
  const converged = await deployer.start();
  // Sampled from the start, whoever looks: a page opened during (or after) a rollout has its chart.
  const figures = new LiveFigures(() => deployer.routers(), { intervalMs: o.figuresIntervalMs });
  figures.start();
  o.log?.(
    `agent for ${o.app}/${o.env}: adopted ${converged.adopted}, started ${converged.started}, stopped ${converged.stopped}${converged.interrupted.length ? `, rolled back interrupted release(s) ${converged.interrupted.map((n) => `#${n}`).join(", ")}` : ""}`,
  );

  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => {
    resolveClosed = r;
  });
  let stopping: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  // The work first (a /shutdown request is answered after it), then the socket.
  const stopWork = (options: { stopInstances?: boolean }) => {
    stopping ??= (async () => {
      figures.stop();
      await deployer.close(options);
      await runtime.close();
    })();
    return stopping;
  };
  const close = (options: { stopInstances?: boolean } = {}) => {
    closing ??= (async () => {
      await stopWork(options);
      const done = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 2000).unref();
      await done;
      rmSync(paths.pidFile, { force: true });
      rmSync(paths.socketPath, { force: true });
      resolveClosed();
    })();
    return closing;
  };

  let lastActive = Date.now();
  let inFlight = 0;
  const server = http.createServer((req, res) => {
    // A dashboard polls the figures every 2 s while it is open: that keeps no idle agent alive.
    const passive = req.method === "GET" && req.url === "/figures";
    if (!passive) {
      inFlight++;
      lastActive = Date.now();
      res.once("close", () => {
        inFlight--;
        lastActive = Date.now();
      });
    }
    void handle(req, res).catch((err) => {
      if (!res.headersSent) sendJson(res, httpStatusFor(err), problemBody(err));
      else res.end(`${JSON.stringify(streamedLine(err))}\n`);
    });
  });
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://agent");
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case "GET /status":
        return sendJson(res, 200, { ...(await deployer.status()), agent: { pid: process.pid, converged } });
      case "GET /figures":
        return sendJson(res, 200, figures.figures());
      case "GET /metrics": {
        const { contentType, text } = await routerMetricsText(deployer.routers());
        res.writeHead(200, { "content-type": contentType });
        return res.end(text);
      }
      case "POST /deploy": {
        const body = (await readJson(req)) as DeployRequest;
        useDockerHost(body.spec);
        return stream(res, (onEvent) => deployer.deploy(body, onEvent));
      }
      case "POST /rollback": {
        const body = (await readJson(req)) as { to?: number; actor: string; trigger: string; wait?: boolean };
        return stream(res, (onEvent) => deployer.rollback(body, onEvent));
      }
      case "GET /logs":
        return instanceIo.logs(url, req, res);
      case "POST /promote":
        return sendJson(res, 200, deployer.promote());
      case "POST /abort":
        return sendJson(res, 200, deployer.abort());
      case "POST /shutdown": {
        const body = (await readJson(req)) as { stopInstances?: boolean };
        await stopWork({ stopInstances: body.stopInstances === true });
        // No new connection from here on (a status right after `down` finds no agent), then the answer.
        const stopped = close();
        rmSync(paths.socketPath, { force: true });
        sendJson(res, 200, { stopped: true });
        return stopped;
      }
      default:
        return sendJson(res, 404, problemBody(new NotFoundError(`no route ${route}`)));
    }
  };

  const instanceIo = createInstanceIo({
    app: o.app,
    env: o.env,
    runtime,
    store: o.store,
    masker: deployer.masker,
  });
  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    inFlight++;
    lastActive = Date.now();
    socket.once("close", () => {
      inFlight--;
      lastActive = Date.now();
    });
    void instanceIo.upgrade(req, socket, head).catch(() => socket.destroy());
  });

  if (existsSync(paths.socketPath)) unlinkSync(paths.socketPath);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(paths.socketPath, () => {
      server.off("error", reject);
      resolve();
    });
  });
  chmodSync(paths.socketPath, 0o600);

  // An agent with nothing to supervise costs ~90 MB for nothing: it leaves after the idle timeout.
  const idleMs = o.idleTimeoutMs ?? 0;
  if (idleMs > 0) {
    const timer = setInterval(
      () => {
        if (inFlight > 0 || !deployer.idle()) lastActive = Date.now();
        else if (Date.now() - lastActive >= idleMs) {
          clearInterval(timer);
          o.log?.(`agent for ${o.app}/${o.env}: idle for ${Math.round(idleMs / 1000)} s, stopping`);
          void close();
        }
      },
      Math.min(Math.max(idleMs / 4, 50), 5000),
    );
    timer.unref();
    void closed.then(() => clearInterval(timer));
  }
  return { deployer, closed, close };
}

/** One agent per environment: a live pid in the pid file means another agent has it. */
function claimPidFile(pidFile: string, what: string) {
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    if (pid && pid !== process.pid && alive(pid))
      throw new UserError(`a deploy agent for ${what} is already running (pid ${pid}, ${pidFile})`);
  }
  writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o600 });
}

/** A live process, not a zombie: an agent killed with -9 stays a zombie until its (gone) parent reaps it. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}

async function stream(
  res: http.ServerResponse,
  run: (onEvent: (e: DeployProgress) => void) => Promise<Release>,
) {
  res.writeHead(200, { "content-type": "application/x-ndjson" });
  const line = (o: unknown) => {
    if (!res.destroyed) res.write(`${JSON.stringify(o)}\n`);
  };
  try {
    const release = await run((event) => line({ event }));
    line({ release });
  } catch (err) {
    line(streamedLine(err));
  }
  res.end();
}

/** A stream's error line (lib/errors.ts `streamedError`), with the release a failed deploy recorded. */
function streamedLine(err: unknown) {
  const release = (err as { release?: Release } | null)?.release;
  return { error: { ...streamedError(err), release } };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown) {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 16 << 20) throw new UserError("request too large");
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new UserError("request body is not JSON");
  }
}
