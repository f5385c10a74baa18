// `slipway deploy|rollback|promote|abort|releases|status --server`: the same commands against a running
// server (`--server URL`, or `--server` alone for SLIPWAY_SERVER / `slipway login`), whose deploy agents
// and store do the work. A remote deploy names a registered repository (--repo) and a ref (--ref,
// default its default branch): the server deploys that commit's slipway.yaml, not the local one.
// Output is the local commands' (progress on stderr, results on stdout), rendered by the same functions.
import { basename } from "node:path";
import { loadConfig } from "../config/index.js";
import { agentError, type DeployProgress, type ReleaseDocument } from "../deploy/index.js";
import { OperationError, UserError } from "../lib/errors.js";
import type { Release } from "../store/index.js";
import { ApiClient, apiError, readConfig } from "./client.js";
import { checkStrategyFlag, parseImageFlags } from "./deploy-flags.js";
import { makeStyle, type Style } from "./tty.js";

/** The local commands' rendering (cli/deploy-render.ts), passed in so both print alike. */
export type Renderers = {
  releaseView(r: Release): object;
  releaseLine(r: Release): string;
  renderImpact(impact: unknown): string;
  renderEvent(e: DeployProgress, started: number, style: Style): string;
  renderStatus(s: unknown): string;
};

export type RemoteFlags = {
  /** `--server URL`, or true for `--server` alone (SLIPWAY_SERVER, then `slipway login`). */
  server?: string | boolean;
  token?: string;
  dataDir?: string;
  database?: string;
  config: string;
  env: string;
  app?: string;
  json?: boolean;
};

export type RemoteDeployFlags = RemoteFlags & {
  repo?: string;
  ref?: string;
  service?: string[];
  image?: string[];
  strategy?: string;
  version?: string;
  wait?: boolean;
  dryRun?: boolean;
};

/** Whether a command goes to a server: only when --server is given (a local deploy stays local). */
export function isRemote(flags: { server?: string | boolean }): boolean {
  return flags.server !== undefined && flags.server !== false;
}

/** For the commands that only work on this machine's agents (up, down). */
export function localOnly(command: string): never {
  throw new UserError(
    `slipway ${command} works on this machine's deploy agents; a server starts its agents with the first deploy (use \`slipway status --server\`)`,
  );
}

type Remote = { client: ApiClient; token?: string; env: NodeJS.ProcessEnv };

function remote(flags: RemoteFlags, env: NodeJS.ProcessEnv = process.env): Remote {
  if (flags.dataDir !== undefined || flags.database !== undefined)
    throw new UserError(
      "--server works on a running server, --data-dir/--database on a local store: give one of them",
    );
  const server = typeof flags.server === "string" ? flags.server : undefined;
  const client = new ApiClient({ server, token: flags.token }, env);
  return { client, token: flags.token ?? env.SLIPWAY_TOKEN ?? readConfig(env).token, env };
}

/** --app, else the local slipway.yaml's deploy.app, else the directory's name (as the local commands). */
function appOf(flags: RemoteFlags): string {
  if (flags.app) return flags.app;
  try {
    const loaded = loadConfig(flags.config);
    return loaded.config.deploy?.app ?? basename(loaded.dir);
  } catch (err) {
    if (flags.config !== "slipway.yaml") throw err;
    return basename(process.cwd());
  }
}

const seg = (s: string) => encodeURIComponent(s);
const envPath = (app: string, env: string) => `/api/v1/deploy/${seg(app)}/${seg(env)}`;

/** Sets the exit code as the local deploy does: 0 when the release succeeded. */
export async function deployRemote(flags: RemoteDeployFlags, r: Renderers): Promise<void> {
  const target = remote(flags);
  if (flags.dryRun)
    throw new UserError("--dry-run resolves the local slipway.yaml; the server resolves the repository's");
  if (!flags.repo)
    throw new UserError("--repo <name> is required with --server: the registered repository to deploy");
  const images = parseImageFlags(flags.image);
  checkStrategyFlag(flags.strategy);
  const version = flags.version ?? target.env.SLIPWAY_VERSION;
  const body = {
    env: flags.env,
    ...(flags.ref ? { ref: flags.ref } : {}),
    ...(flags.service?.length ? { services: flags.service } : {}),
    ...(Object.keys(images).length ? { images } : {}),
    ...(flags.strategy ? { strategy: flags.strategy } : {}),
    ...(version ? { version } : {}),
    ...(flags.wait ? { wait: true } : {}),
    // The default names the repository's own slipway.yaml; another path is one inside the repository.
    ...(flags.config !== "slipway.yaml" ? { config: flags.config } : {}),
    ...(flags.app ? { app: flags.app } : {}),
  };
  const path = `/api/v1/repos/${flags.repo.split("/").map(seg).join("/")}/deploys`;
  process.exitCode = await follow(target, path, body, flags, r);
}

export async function rollbackRemote(
  flags: RemoteFlags & { to?: string; wait?: boolean },
  r: Renderers,
): Promise<void> {
  const target = remote(flags);
  const to = flags.to === undefined ? undefined : Number(flags.to);
  if (to !== undefined && !(Number.isInteger(to) && to > 0))
    throw new UserError(`--to: not a release number: ${flags.to}`);
  const app = appOf(flags);
  process.exitCode = await follow(
    target,
    `${envPath(app, flags.env)}/rollback`,
    { ...(to !== undefined ? { to } : {}), ...(flags.wait ? { wait: true } : {}) },
    flags,
    r,
  );
}

export async function controlRemote(action: "promote" | "abort", flags: RemoteFlags): Promise<void> {
  const { client } = remote(flags);
  const reply = await client.request<{ release: number }>(
    "POST",
    `${envPath(appOf(flags), flags.env)}/${action}`,
  );
  if (flags.json) process.stdout.write(`${JSON.stringify(reply)}\n`);
  else process.stderr.write(`${action === "promote" ? "promoted" : "aborting"} release #${reply.release}\n`);
}

/**
 * `slipway deploy owner [--bind REPO]`: which repository owns the app environment; with --bind (admins)
 * moves it, and its secrets, to another registered repository.
 */
export async function ownerRemote(flags: RemoteFlags & { bind?: string }): Promise<void> {
  const { client } = remote(flags);
  const path = `${envPath(appOf(flags), flags.env)}/owner`;
  const { owner } = await (flags.bind === undefined
    ? client.request<{ owner: { app: string; env: string; repo: string } }>("GET", path)
    : client.request<{ owner: { app: string; env: string; repo: string } }>("PUT", path, {
        repo: flags.bind,
      }));
  if (flags.json) process.stdout.write(`${JSON.stringify(owner)}\n`);
  else process.stdout.write(`${owner.app}/${owner.env}: ${owner.repo}\n`);
}

export async function releasesRemote(flags: RemoteFlags & { limit: string }, r: Renderers): Promise<void> {
  const { client } = remote(flags);
  const app = appOf(flags);
  const q = new URLSearchParams({ app, env: flags.env, limit: String(Number(flags.limit) || 20) });
  const { releases } = await client.request<{ releases: Release[] }>("GET", `/api/v1/releases?${q}`);
  if (flags.json)
    return void process.stdout.write(`${JSON.stringify(releases.map(r.releaseView), null, 2)}\n`);
  if (releases.length === 0)
    return void process.stderr.write(`no releases of ${app}/${flags.env} on ${client.server} yet\n`);
  for (const rel of releases) process.stdout.write(`${r.releaseLine(rel)}\n`);
}

export async function releaseShowRemote(number: string, flags: RemoteFlags, r: Renderers): Promise<void> {
  const { client } = remote(flags);
  const app = appOf(flags);
  const { release, events } = await client.request<{
    release: Release;
    events: { at: number; level: string; message: string }[];
  }>("GET", `/api/v1/releases/${seg(app)}/${seg(flags.env)}/${seg(number)}`);
  if (flags.json)
    return void process.stdout.write(`${JSON.stringify({ ...r.releaseView(release), events }, null, 2)}\n`);
  process.stdout.write(`${r.releaseLine(release)}\n`);
  if (release.error) process.stdout.write(`error: ${release.error}\n`);
  for (const e of events)
    process.stdout.write(
      `  ${new Date(e.at).toISOString().slice(11, 23)} ${e.level.padEnd(5)} ${e.message}\n`,
    );
  process.stdout.write(r.renderImpact(release.impact));
}

export async function statusRemote(flags: RemoteFlags, r: Renderers): Promise<void> {
  const { client } = remote(flags);
  const app = appOf(flags);
  const body = await client.request<{ agent: unknown; current?: Release | null }>(
    "GET",
    `${envPath(app, flags.env)}/status`,
  );
  if (body.agent === null) {
    const current = body.current ?? null;
    const doc = { app, env: flags.env, agent: null, current: current ? r.releaseView(current) : null };
    if (flags.json) return void process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    process.stdout.write(
      `${app}/${flags.env}: no deploy agent runs on ${client.server}${current ? ` (current release #${current.number})` : ""}\n`,
    );
    return;
  }
  if (flags.json) return void process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
  process.stdout.write(r.renderStatus(body));
}

/** Follows a deploy or rollback stream; Ctrl-C asks the server to abort it (it rolls back) and keeps following. */
async function follow(
  target: Remote,
  path: string,
  body: unknown,
  flags: RemoteFlags,
  r: Renderers,
): Promise<number> {
  const style = makeStyle({ json: flags.json });
  const started = Date.now();
  let where: { app: string; env: string } | undefined;
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write(
      "\ninterrupted: aborting the deploy on the server (it is rolled back); Ctrl-C again to stop watching\n",
    );
    if (where) void target.client.request("POST", `${envPath(where.app, where.env)}/abort`).catch(() => {});
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const last = await postStream(target, path, body, (line) => {
      const head = (line.deploy ?? line.rollback) as
        | { app: string; env: string; repo?: string; sha?: string; ref?: string }
        | undefined;
      if (head) {
        where = { app: head.app, env: head.env };
        process.stderr.write(
          head.sha
            ? `deploying ${head.repo}@${head.sha.slice(0, 7)} (${head.ref}) to ${head.app}/${head.env} on ${target.client.server}\n`
            : `rolling ${head.app}/${head.env} back on ${target.client.server}\n`,
        );
      }
      const e = line.event as DeployProgress | undefined;
      if (e) process.stderr.write(`${r.renderEvent(e, started, style)}\n`);
    });
    if (last.error) {
      const rel = (last.error as { release?: Release }).release;
      if (rel && flags.json) process.stdout.write(`${JSON.stringify(r.releaseView(rel), null, 2)}\n`);
      throw agentError(last);
    }
    const release = last.release as Release;
    if (flags.json) process.stdout.write(`${JSON.stringify(r.releaseView(release), null, 2)}\n`);
    else {
      process.stdout.write(`${r.releaseLine(release)}\n`);
      if (release.error) process.stdout.write(`${release.error}\n`);
      process.stdout.write(r.renderImpact(release.impact));
      const services = (release.spec as ReleaseDocument | undefined)?.spec?.services ?? [];
      for (const s of services)
        if (s.publish) process.stdout.write(`${s.name}: http://${s.publish.host}:${s.publish.port}\n`);
    }
    return release.status === "succeeded" ? 0 : 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/**
 * POSTs `body` and reads the NDJSON answer, each line to onLine; resolves with the last line that is
 * not a keepalive ({release} or {error}). An error answer before the stream is a UserError (400, 404,
 * 409: with the problems' file:line:col) or an OperationError.
 */
async function postStream(
  target: Remote,
  path: string,
  body: unknown,
  onLine: (line: Record<string, unknown>) => void,
): Promise<Record<string, unknown>> {
  const { client, token } = target;
  let res: Response;
  try {
    res = await fetch(`${client.server}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/x-ndjson",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify(body),
    });
  } catch (err) {
    throw new OperationError(
      `cannot reach the slipway server at ${client.server}: ${((err as Error).cause as Error)?.message ?? (err as Error).message}`,
    );
  }
  if (!res.ok || !res.body) throw apiError("POST", path, res, await res.text());
  const decoder = new TextDecoder();
  let buf = "";
  let last: Record<string, unknown> | undefined;
  const take = (text: string) => {
    if (!text.trim()) return;
    const line = JSON.parse(text) as Record<string, unknown>;
    if ("keepalive" in line) return;
    last = line;
    onLine(line);
  };
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      for (let i = buf.indexOf("\n"); i !== -1; i = buf.indexOf("\n")) {
        take(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    }
    take(buf);
  } catch (err) {
    throw new OperationError(
      `the connection to ${client.server} broke during the deploy (${(err as Error).message}); it goes on there: see \`slipway releases --server\``,
      { cause: err },
    );
  }
  if (!last || !("release" in last || "error" in last))
    throw new OperationError(
      `${client.server} ended the stream before the deploy finished; see \`slipway releases --server\``,
    );
  return last;
}
