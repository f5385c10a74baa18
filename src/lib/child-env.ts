// Environments for child processes that run code slipway does not vouch for: workflow steps, actions,
// deployed instances and their hooks. Such a child never gets a copy of slipway's own environment, which
// holds the master key, the database URL with its password, runner and API tokens, and whatever
// credentials the operator's shell had. It gets a built one instead, in this order:
//   1. the allow-list below, taken from slipway's environment when set there (what a login shell needs:
//      PATH, HOME, locale, time zone, terminal, temp dir, proxies);
//   2. the names the operator chose to pass (`--pass-env NAME`, `SLIPWAY_PASS_ENV=A,B`);
//   3. what the workflow or the deploy spec gives (added by the caller on top of this).
// slipway's own variables (SLIPWAY_*) are never passed from slipway's environment, whatever is asked.
import { UserError } from "./errors.js";

/** Variables a child gets from slipway's environment without being asked for (GitHub's runner sets the same kind). */
export const allowedNames: readonly string[] = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LANGUAGE",
  "TZ",
  "TERM",
  "TMPDIR",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "all_proxy",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "ALL_PROXY",
];

/** Prefixes of allowed names: the locale categories (LC_ALL, LC_CTYPE, …). */
const allowedPrefixes: readonly string[] = ["LC_"];

/** The setting that names extra variables to pass, comma-separated. */
export const passEnvSetting = "SLIPWAY_PASS_ENV";

const namePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** slipway's own configuration and credentials: never handed to a child from slipway's environment. */
export function isSlipwayOwn(name: string): boolean {
  return name.toUpperCase().startsWith("SLIPWAY_");
}

function isAllowed(name: string): boolean {
  return allowedNames.includes(name) || allowedPrefixes.some((p) => name.startsWith(p));
}

/**
 * The names to pass: `SLIPWAY_PASS_ENV` (comma-separated) and the `--pass-env` flags, checked. A name
 * that is not a variable name, or one of slipway's own, is a user error: the operator learns at start
 * rather than wondering why a job does not see it.
 */
export function passEnvNames(env: NodeJS.ProcessEnv, flags: readonly string[] = []): string[] {
  const fromSetting = (env[passEnvSetting] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const names = new Set<string>();
  for (const [source, list] of [
    [passEnvSetting, fromSetting],
    ["--pass-env", flags.map((s) => s.trim())],
  ] as const) {
    for (const name of list) {
      if (!namePattern.test(name))
        throw new UserError(
          `${source}: ${JSON.stringify(name)} is not a variable name (letters, digits and _, not starting with a digit)`,
        );
      if (isSlipwayOwn(name))
        throw new UserError(
          `${source}: ${name} is one of slipway's own variables; they are never passed to jobs or instances`,
        );
      names.add(name);
    }
  }
  return [...names];
}

/**
 * The environment a child starts from: the allow-list and the `pass` names, each taken from `from` when
 * set there. Nothing else of `from` goes in.
 */
export function childEnv(from: NodeJS.ProcessEnv, pass: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(from)) {
    if (value === undefined || isSlipwayOwn(name)) continue;
    if (isAllowed(name) || pass.includes(name)) out[name] = value;
  }
  return out;
}

/**
 * Variables besides SLIPWAY_* that slipway's own processes read (where its data and config live, how it
 * reaches container engines and ssh hosts): passed on only to slipway's own CLI, never to a job.
 */
const slipwayToolNames: readonly string[] = [
  "XDG_DATA_HOME",
  "XDG_CONFIG_HOME",
  "XDG_RUNTIME_DIR",
  "DOCKER_HOST",
  "DOCKER_CONFIG",
  "DOCKER_CERT_PATH",
  "DOCKER_TLS_VERIFY",
  "SSH_AUTH_SOCK",
];

/** What a slipway process started by slipway (e.g. `slipway deploy` from a step) needs of its environment. */
export function slipwaySettings(from: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(from)) {
    if (value !== undefined && (isSlipwayOwn(name) || slipwayToolNames.includes(name))) out[name] = value;
  }
  return out;
}

/** The child environment for this process's environment and its own pass-env setting (no flags). */
export function hostChildEnv(from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return childEnv(from, passEnvNames(from));
}
