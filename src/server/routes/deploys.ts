// Deploys through the server: a commit of a registered repository is extracted from its mirror, its
// slipway.yaml's deploy: section resolved, and the environment's deploy agent — the same one `slipway
// deploy` starts, on this machine, recording into the server's store — asked to roll it out; its NDJSON
// progress is streamed back as it comes. Releases, status, promote, abort and rollback go to the same
// agents and store. Deploying needs the deployer role; reading, viewer.
//
// Stream lines (application/x-ndjson): {deploy: {repo, ref, sha, app, env}} first, then the agent's
// {event} lines, {keepalive} every 15 s while nothing else is said, and {release} or {error} last.
// Everything that can be checked before the agent is asked (body, repository, ref, slipway.yaml, the
// spec) is a plain JSON error response instead: 400 with problems (file:line:col), 404 for an unknown
// repository.
//
// Each (app, env) belongs to one repository: the first server deploy of it claims it for the repository
// it came from, and a deploy from any other repository is refused (403) before anything is extracted,
// started or recorded — the app name is chosen by the repository's own slipway.yaml, and the app's
// secrets go with it. An admin rebinds it (PUT /api/v1/deploy/:app/:env/owner). Controls (status,
// promote, abort, rollback) for an app environment with no release and no owner answer 404 and start
// nothing; the server starts at most `maxAgents` agents (SLIPWAY_MAX_DEPLOY_AGENTS, default 16).
import { readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { Context, Hono, MiddlewareHandler } from "hono";
import type { CiService } from "../../ci/index.js";
import { appNamePattern, environmentNamePattern, parseConfig } from "../../config/index.js";
import {
  agentError,
  type AgentPaths,
  agentPaths,
  callAgent,
  type DeployRequest,
  ensureAgent,
  resolveDeploySpec,
  streamAgent,
} from "../../deploy/index.js";
import { ConflictError, httpStatusFor, NotFoundError, RefusalError, UserError } from "../../lib/errors.js";
import type { Release, Role, Store } from "../../store/index.js";
import { type Env, problem, queryInt } from "../http.js";
import { checkName, deployBody, target } from "./deploy-input.js";
import { ndjson, releaseForApi } from "./deploy-stream.js";

export type { ServerDeployBody } from "./deploy-input.js";
import { DeployCheckouts } from "../deploy-checkouts.js";
import type { DeployOutcome, ForgeReporter } from "../../forge/index.js";

/**
 * What a deploy's last line says, for the forge report: the release, and that it failed — not the
 * error's text, which can name the server's paths and does not belong on a public forge.
 */
function outcomeOf(result: Record<string, unknown>): DeployOutcome {
  const error = result.error as { release?: Release } | undefined;
  if (error) return { error: "the deploy failed", release: error.release };
  return { release: result.release as Release | undefined };
}

export type DeployRoutesOptions = {
  ci: CiService;
  requireRole: (role: Role) => MiddlewareHandler<Env>;
  jsonBody: <T>(c: Context) => Promise<T>;
  /** The store's URL when it is not the data directory's SQLite file: the agents open the same store. */
  database?: string;
  /** The slipway program the agents run as; default this process's (node and its script). */
  program?: { file: string; args: string[] };
  /** At most this many deploy agents run on the data directory; default SLIPWAY_MAX_DEPLOY_AGENTS or 16. */
  maxAgents?: number;
  /** The server's log, where the detail of an error in a stream goes; default stderr. */
  log?: (line: string) => void;
  /** Reports deploys to the repository's forge (a GitHub deployment, or a commit status). */
  forge?: Pick<ForgeReporter, "deployStarted">;
};

const defaultMaxAgents = 16;

export function mountDeployRoutes(app: Hono<Env>, o: DeployRoutesOptions): void {
  const { ci, requireRole, jsonBody } = o;
  const streamOptions = {
    dataDir: ci.dataDir,
    log: o.log ?? ((line: string) => process.stderr.write(`${line}\n`)),
  };
  const store = ci.store;
  const dataDir = resolve(ci.dataDir);
  const checkouts = new DeployCheckouts(dataDir);
  const program = o.program ?? { file: process.execPath, args: [process.argv[1]] };
  const starting = new Map<string, Promise<unknown>>();
  const maxAgents = o.maxAgents ?? envLimit(process.env.SLIPWAY_MAX_DEPLOY_AGENTS) ?? defaultMaxAgents;

  /** Starts the environment's agent unless it runs (one start at a time per environment). */
  const agentFor = async (appName: string, env: string): Promise<AgentPaths> => {
    const paths = agentPaths(dataDir, appName, env);
    const previous = starting.get(paths.socketPath) ?? Promise.resolve();
    const next = previous
      .catch(() => {})
      .then(async () => {
        if (await callAgent(paths.socketPath, "GET", "/status")) return "running";
        // Each agent holds ~90 MB: a bounded number of them, however many apps deployers name.
        const running = runningAgents(dataDir);
        if (running >= maxAgents)
          throw new AgentLimitError(
            `${running} deploy agents are running on this server (the limit is ${maxAgents}, SLIPWAY_MAX_DEPLOY_AGENTS); stop one with \`slipway down\` or wait for an idle one to exit`,
          );
        return ensureAgent(paths, {
          file: program.file,
          args: [...program.args, "deploy", "agent", "--app", appName, "--env", env, "--data-dir", dataDir],
          // The URL may hold a password: in the environment, not in argv (ps).
          env: agentEnv(o.database),
        });
      });
    starting.set(paths.socketPath, next);
    try {
      await next;
    } finally {
      if (starting.get(paths.socketPath) === next) starting.delete(paths.socketPath);
    }
    return paths;
  };

  /** Prunes each repository's unused checkouts; a failure only leaves directories behind. */
  const prune = async (repos: Iterable<string>) => {
    for (const repo of repos) await checkouts.prune(repo, store).catch(() => []);
  };

  app.post("/api/v1/repos/:repo{.+}/deploys", requireRole("deployer"), async (c) => {
    const body = deployBody(await jsonBody<unknown>(c));
    const repo = await ci.repoByName(c.req.param("repo"));
    const mirror = repo.mirrorPath ?? ci.mirrorDir(repo);
    const env = body.env ?? "production";
    const { sha, ref } = await checkouts.resolveCommit(mirror, repo.name, body.ref ?? repo.branch);
    const configPath = body.config ?? "slipway.yaml";
    const text = await checkouts.readFile(mirror, sha, configPath);
    const at = `${repo.name}@${sha.slice(0, 7)}`;
    if (text === undefined)
      throw new UserError(`${at} has no ${configPath}`, [
        { file: configPath, message: `no such file at ${ref} (${sha.slice(0, 7)})` },
      ]);
    const loaded = parseConfig(text, configPath);
    const section = loaded.config.deploy;
    if (!section)
      throw new UserError(`${configPath} at ${at} has no deploy: section`, [
        { file: configPath, message: "no deploy: section (see the README's Deploy section)" },
      ]);
    const dir = checkouts.dirOf(repo.name, sha);
    const spec = resolveDeploySpec(section, {
      env,
      configDir: join(dir, dirname(configPath)),
      defaultApp: basename(repo.name),
      images: body.images,
      strategy: body.strategy,
      services: body.services,
    });
    if (body.app) spec.app = body.app;

    // An app deployed from the server before owners were recorded: its latest release says which
    // repository's checkout it ran from, and only that repository may claim it now (else an admin binds).
    if (!(await store.deployApps.get(spec.app, env))) {
      const [latest] = await store.releases.list({ app: spec.app, env, limit: 1 });
      const earlier = latest ? [...new Set(checkouts.referencedBy(latest.spec).map((r) => r.repo))] : [];
      if (earlier.length > 0 && !earlier.includes(repo.name))
        return c.json(
          {
            error: `${spec.app}/${env} was deployed from ${earlier.join(", ")}, not ${repo.name}; an admin must bind it first: PUT /api/v1/deploy/${spec.app}/${env}/owner`,
            problems: [],
          },
          403,
        );
    }
    // The repository that deploys an app first owns it; another repository's deploy stops here.
    const { binding } = await store.deployApps.claim({
      app: spec.app,
      env,
      repo: repo.name,
      actor: c.get("identity").name,
    });
    if (binding.repo !== repo.name)
      return c.json(
        {
          error: `${spec.app}/${env} belongs to repository ${binding.repo}; ${repo.name} cannot deploy it (its slipway.yaml names app '${spec.app}'). An admin can rebind it: PUT /api/v1/deploy/${spec.app}/${env}/owner`,
          problems: [],
        },
        403,
      );

    const release = checkouts.hold(dir);
    let paths: AgentPaths;
    try {
      await checkouts.materialise(mirror, repo.name, sha);
      checkouts.addTarget(repo.name, spec.app, env);
      paths = await agentFor(spec.app, env);
    } catch (err) {
      release();
      throw err;
    }
    const request: DeployRequest = {
      spec,
      only: body.services,
      version: body.version,
      trigger: "server",
      actor: c.get("identity").name,
      wait: body.wait,
      notify: loaded.config.notify,
      repo: repo.name,
    };
    const reported = o.forge?.deployStarted({
      repo: repo.name,
      sha,
      app: spec.app,
      env,
      actor: c.get("identity").name,
    });
    return ndjson(
      { deploy: { repo: repo.name, ref, sha, app: spec.app, env } },
      async (emit) => {
        try {
          const result = await streamAgent(paths.socketPath, "/deploy", request, emit);
          reported?.(outcomeOf(result));
          return result;
        } catch (err) {
          reported?.({ error: "the deploy failed" });
          throw err;
        }
      },
      async () => {
        release();
        await prune([repo.name]);
      },
      streamOptions,
    );
  });

  app.get("/api/v1/releases", requireRole("viewer"), async (c) => {
    const appName = c.req.query("app") || undefined;
    const env = c.req.query("env") || undefined;
    if (appName !== undefined) checkName("app", appName, appNamePattern);
    if (env !== undefined) checkName("env", env, environmentNamePattern);
    const limit = queryInt(c.req.query("limit"), "limit", 20, 1000);
    const before = c.req.query("before");
    const list = await store.releases.list({
      app: appName,
      env,
      limit,
      ...(before ? { beforeNumber: queryInt(before, "before", 1, Number.MAX_SAFE_INTEGER) } : {}),
    });
    return c.json({ releases: list.map(releaseForApi) });
  });

  app.get("/api/v1/releases/:app/:env/:number", requireRole("viewer"), async (c) => {
    const { appName, env } = target(c);
    const number = Number(c.req.param("number"));
    const r = Number.isInteger(number) ? await store.releases.byNumber(appName, env, number) : undefined;
    if (!r) throw new NotFoundError(`${appName}/${env} has no release #${c.req.param("number")}`);
    const events = await store.releases.events(r.id, { limit: 10_000 });
    return c.json({ release: releaseForApi(r), events });
  });

  /** An app environment that has neither a release nor an owner is not found: nothing to control. */
  const checkKnownTarget = async (appName: string, env: string): Promise<void> => {
    const known =
      (await store.deployApps.get(appName, env)) !== undefined ||
      (await store.releases.list({ app: appName, env, limit: 1 })).length > 0;
    if (!known) throw new NotFoundError(`no app ${appName}/${env}: it was never deployed`);
  };

  app.get("/api/v1/deploy/:app/:env/owner", requireRole("viewer"), async (c) => {
    const { appName, env } = target(c);
    const owner = await store.deployApps.get(appName, env);
    if (!owner) throw new NotFoundError(`${appName}/${env} is bound to no repository`);
    return c.json({ owner });
  });

  // Rebinding moves an app environment (and its secrets) to another repository: admins only.
  app.put("/api/v1/deploy/:app/:env/owner", requireRole("admin"), async (c) => {
    const { appName, env } = target(c);
    const body = (await jsonBody<{ repo?: unknown }>(c)) ?? {};
    if (typeof body.repo !== "string" || body.repo === "")
      throw new UserError("'repo' must name a registered repository");
    const repo = await ci.repoByName(body.repo);
    const actor = c.get("identity").name;
    const owner = await store.transaction(async (tx) => {
      const before = await tx.deployApps.get(appName, env);
      const bound = await tx.deployApps.bind({ app: appName, env, repo: repo.name, actor });
      // The environment's secrets follow the binding: who moved them where is for the audit log.
      await tx.audit.append({
        actor,
        action: "deploy.rebind",
        subject: `${appName}/${env}`,
        repo: repo.name,
        env,
        detail: { from: before?.repo ?? null, to: repo.name },
      });
      return bound;
    });
    return c.json({ owner });
  });

  app.get("/api/v1/deploy/:app/:env/status", requireRole("viewer"), async (c) => {
    const { appName, env } = target(c);
    await checkKnownTarget(appName, env);
    return c.json(await deployStatus(store, dataDir, appName, env));
  });

  // The routers' live figures per service and version (the agent samples them every 2 s and keeps 5
  // minutes): a page polls it. No agent running: nothing is routed, so no figure (and none is started).
  app.get("/api/v1/deploy/:app/:env/figures", requireRole("viewer"), async (c) => {
    const { appName, env } = target(c);
    await checkKnownTarget(appName, env);
    const reply = await callAgent(agentPaths(dataDir, appName, env).socketPath, "GET", "/figures");
    if (!reply) return c.json({ app: appName, env, agent: false, services: [] });
    if (reply.status !== 200) {
      const err = agentError(reply.body, reply.status);
      return problem(c, httpStatusFor(err), err);
    }
    return c.json({ app: appName, env, agent: true, ...(reply.body as object) });
  });

  for (const action of ["promote", "abort"] as const) {
    app.post(`/api/v1/deploy/:app/:env/${action}`, requireRole("deployer"), async (c) => {
      const { appName, env } = target(c);
      await checkKnownTarget(appName, env);
      const reply = await callAgent(agentPaths(dataDir, appName, env).socketPath, "POST", `/${action}`);
      if (!reply)
        throw new ConflictError(`no deploy agent runs for ${appName}/${env}, so no deploy is in progress`);
      // The agent's refusal, answered with the same status and message (not as the server's failure).
      if (reply.status !== 200) {
        const err = agentError(reply.body, reply.status);
        return problem(c, httpStatusFor(err), err);
      }
      return c.json(reply.body as object);
    });
  }

  app.post("/api/v1/deploy/:app/:env/rollback", requireRole("deployer"), async (c) => {
    const { appName, env } = target(c);
    const body = (await jsonBody<{ to?: unknown; wait?: unknown }>(c)) ?? {};
    if (body.to !== undefined && !(Number.isInteger(body.to) && (body.to as number) > 0))
      throw new UserError(`'to' must be a release number, got ${JSON.stringify(body.to)}`);
    if (body.wait !== undefined && typeof body.wait !== "boolean")
      throw new UserError("'wait' must be a boolean");
    // Nothing to go back to: refused before an agent is started for it.
    await checkKnownTarget(appName, env);
    // The release gone back to runs from its checkout: extract it again if it was pruned.
    const releases: (() => void)[] = [];
    const repos = new Set<string>();
    let paths: AgentPaths;
    try {
      const goal = await rollbackTarget(store, appName, env, body.to as number | undefined);
      for (const ref of goal ? checkouts.referencedBy(goal.spec) : []) {
        releases.push(checkouts.hold(ref.dir));
        repos.add(ref.repo);
        const repo = await store.repos.getByName(ref.repo);
        if (repo) await checkouts.materialise(repo.mirrorPath ?? ci.mirrorDir(repo), ref.repo, ref.sha);
      }
      paths = await agentFor(appName, env);
    } catch (err) {
      for (const r of releases) r();
      throw err;
    }
    return ndjson(
      { rollback: { app: appName, env, to: body.to ?? null } },
      (emit) =>
        streamAgent(
          paths.socketPath,
          "/rollback",
          { to: body.to, wait: body.wait, actor: c.get("identity").name, trigger: "server" },
          emit,
        ),
      async () => {
        for (const r of releases) r();
        await prune(repos);
      },
      streamOptions,
    );
  });
}

/**
 * An app environment's status: its deploy agent's answer, or (no agent, or none answering within
 * `timeoutMs`) `agent: null` and the current release from the store. The status route and the app
 * badge (routes/forge.ts) both read it here.
 */
export async function deployStatus(
  store: Store,
  dataDir: string,
  app: string,
  env: string,
  o: { timeoutMs?: number } = {},
): Promise<Record<string, unknown>> {
  const asked = callAgent(agentPaths(resolve(dataDir), app, env).socketPath, "GET", "/status");
  let timer: NodeJS.Timeout | undefined;
  const reply = await (o.timeoutMs === undefined
    ? asked
    : Promise.race([
        asked,
        new Promise<undefined>((r) => {
          timer = setTimeout(() => r(undefined), o.timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer)));
  if (reply?.status === 200) return reply.body as Record<string, unknown>;
  const current = await store.releases.current(app, env);
  return { app, env, agent: null, current: current ? releaseForApi(current) : null };
}

/** The server's agent limit was reached (answered 503: retry once an agent has stopped). */
class AgentLimitError extends RefusalError {
  constructor(message: string) {
    super(503, message);
  }
}

function envLimit(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UserError(`SLIPWAY_MAX_DEPLOY_AGENTS must be a whole number ≥ 1, got '${value}'`);
  return n;
}

/** Agents alive on the data directory: a live pid in <dataDir>/deploy/<app>/<env>/agent.pid. */
function runningAgents(dataDir: string): number {
  let n = 0;
  const list = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  const root = join(dataDir, "deploy");
  for (const app of list(root))
    for (const env of list(join(root, app))) {
      try {
        const pid = Number(readFileSync(join(root, app, env, "agent.pid"), "utf8").trim());
        if (pid > 0) {
          process.kill(pid, 0);
          n++;
        }
      } catch {
        // no pid file, or the agent is gone
      }
    }
  return n;
}

/** The agent's environment: the server's, with the store's URL (or none: the data directory's SQLite). */
function agentEnv(database: string | undefined): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (database) env.SLIPWAY_DATABASE = database;
  else delete env.SLIPWAY_DATABASE;
  return env;
}

/** The release a rollback goes back to, chosen as the deploy controller chooses it (errors are its). */
async function rollbackTarget(
  store: Store,
  app: string,
  env: string,
  to?: number,
): Promise<Release | undefined> {
  if (to !== undefined) return store.releases.byNumber(app, env, to);
  const current = await store.releases.current(app, env);
  if (!current) return undefined;
  const earlier = await store.releases.list({ app, env, status: "succeeded", limit: 50 });
  return earlier.find((r) => r.number < current.number && r.specHash !== current.specHash);
}
