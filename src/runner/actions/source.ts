// Where remote actions come from: an actions server (GitHub by default; GitHub Enterprise, a Gitea
// mirror or any git server that serves `<url>/<owner>/<repo>`), the credentials git may send it, and
// whether the network may be used at all. The token never reaches argv, a log or an error: git gets it
// through its environment (GIT_CONFIG_COUNT/KEY/VALUE = `http.extraHeader`), and messages name the
// server by its URL with any user:password part removed.
import { UserError } from "../../lib/errors.js";

export const defaultActionsUrl = "https://github.com";

/** How long a resolved `ref → sha` is trusted before the server is asked again (a sha never moves). */
export const defaultRefTtlMs = 60 * 60 * 1000;

export type ActionSource = {
  /** The actions server's base URL: `<url>/<owner>/<repo>` is a git repository. */
  url: string;
  /** Sent as HTTP basic auth (`x-access-token:<token>`, as actions/checkout does); kept out of argv. */
  token?: string;
  /** Use only the cache: a missing action is an error naming it, nothing is fetched. */
  offline: boolean;
  refTtlMs: number;
};

const schemes = new Set(["http:", "https:", "git:", "ssh:", "file:"]);

/** The URL as given when git can fetch from it; a UserError otherwise. */
export function validateActionsUrl(url: string, what = "actions URL"): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError(`${what} ${JSON.stringify(url)} is not a URL (use https://host[/path])`);
  }
  if (!schemes.has(parsed.protocol))
    throw new UserError(`${what} ${JSON.stringify(url)}: use http(s)://, git://, ssh:// or file://`);
  if (parsed.search || parsed.hash) throw new UserError(`${what} ${JSON.stringify(url)}: no ?query or #hash`);
  return url.replace(/\/+$/, "");
}

/** The server as it may be shown: no user name or password. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.toString().replace(/\/+$/, "");
  } catch {
    return url.replace(/\/\/[^/@]*@/, "//");
  }
}

export type ActionSourceSettings = {
  url?: string;
  token?: string;
  offline?: boolean;
  refTtlMs?: number;
};

/**
 * The source from explicit settings (flags, the server's settings) over the environment:
 * SLIPWAY_ACTIONS_URL, SLIPWAY_ACTIONS_TOKEN, SLIPWAY_ACTIONS_OFFLINE=1, SLIPWAY_ACTIONS_REF_TTL (seconds).
 */
export function actionSource(
  settings: ActionSourceSettings = {},
  env: NodeJS.ProcessEnv = process.env,
): ActionSource {
  const url = validateActionsUrl(settings.url ?? (env.SLIPWAY_ACTIONS_URL || defaultActionsUrl));
  const token = settings.token ?? (env.SLIPWAY_ACTIONS_TOKEN || undefined);
  const offline =
    settings.offline ?? ["1", "true", "yes"].includes((env.SLIPWAY_ACTIONS_OFFLINE ?? "").toLowerCase());
  let refTtlMs = settings.refTtlMs ?? defaultRefTtlMs;
  if (settings.refTtlMs === undefined && env.SLIPWAY_ACTIONS_REF_TTL) {
    const s = Number(env.SLIPWAY_ACTIONS_REF_TTL);
    if (!(Number.isFinite(s) && s >= 0))
      throw new UserError(
        `SLIPWAY_ACTIONS_REF_TTL must be seconds (0 or more), got '${env.SLIPWAY_ACTIONS_REF_TTL}'`,
      );
    refTtlMs = s * 1000;
  }
  return { url, ...(token ? { token } : {}), offline, refTtlMs };
}

/**
 * The environment git runs with for this source: no prompt (a refused login is an error, not a hang),
 * only network transports a server can use, and the token as an extra HTTP header through git's
 * GIT_CONFIG_* variables, which no other process can read off the command line. The user's own
 * credential helpers still apply when there is no token.
 */
export function gitEnvFor(source: ActionSource, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    GIT_TERMINAL_PROMPT: "0",
    GIT_ASKPASS: "",
    SSH_ASKPASS: "",
    GIT_ALLOW_PROTOCOL: "http:https:git:ssh:file",
  };
  // A server that stops sending fails the fetch after a minute instead of holding the job.
  const config: [string, string][] = [
    ["http.lowSpeedLimit", "1"],
    ["http.lowSpeedTime", "60"],
  ];
  if (source.token) {
    const basic = Buffer.from(`x-access-token:${source.token}`).toString("base64");
    config.push(["http.extraHeader", `Authorization: basic ${basic}`]);
  }
  const n = Number(base.GIT_CONFIG_COUNT ?? 0) || 0;
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${n + i}`] = key;
    env[`GIT_CONFIG_VALUE_${n + i}`] = value;
  });
  env.GIT_CONFIG_COUNT = String(n + config.length);
  return env;
}

/** What the server tells a runner about actions: where from and whether offline; never its token. */
export type LegActionSettings = { url: string; offline: boolean };

/**
 * The source a runner fetches a leg's actions from. Runners fetch actions themselves, with git, into
 * their own cache (rather than through the server): no new API for the server to serve and authorize,
 * a runner's cache outlives its legs, and an air-gapped runner works from `actions add` and --offline.
 * The runner's own setting (its flag or SLIPWAY_ACTIONS_URL) wins, since it may sit in another network
 * with a mirror of its own; otherwise the server's URL and offline setting, so both resolve the same
 * refs. The token is always the runner's own (SLIPWAY_ACTIONS_TOKEN or git's credential helpers): the
 * server never sends its credentials to a runner. A URL from the server must be a network one.
 */
export function legActionSource(
  fromServer: LegActionSettings | undefined,
  own: ActionSourceSettings = {},
  env: NodeJS.ProcessEnv = process.env,
): ActionSource {
  const ownUrl = own.url ?? (env.SLIPWAY_ACTIONS_URL || undefined);
  let url = ownUrl;
  if (url === undefined && fromServer?.url) {
    url = validateActionsUrl(fromServer.url, "the server's actions URL");
    if (new URL(url).protocol === "file:")
      throw new UserError(
        `the server's actions URL ${displayUrl(url)} is not a network URL; not used by a runner`,
      );
  }
  const ownOffline =
    own.offline ??
    (env.SLIPWAY_ACTIONS_OFFLINE
      ? ["1", "true", "yes"].includes(env.SLIPWAY_ACTIONS_OFFLINE.toLowerCase())
      : undefined);
  return actionSource(
    { ...own, ...(url ? { url } : {}), offline: ownOffline ?? fromServer?.offline ?? false },
    env,
  );
}

/** The cache directory name of a server: host, port and path, with nothing that could climb out. */
export function serverKey(url: string): string {
  const u = new URL(url);
  const parts = [u.hostname || "local", u.port, u.pathname.replace(/^\/+|\/+$/g, "")].filter(Boolean);
  const key = parts.join("_").replace(/[^A-Za-z0-9.-]+/g, "_");
  return key === "." || key === ".." || key === "" ? "_" : key;
}
