// What `slipway config` shows of a slipway.yaml: a check that collects every problem instead of throwing, a
// one-line summary, and the config as one environment sees it (the environment's overrides merged the way
// deploy/spec.ts merges them) with credentials written inline replaced by a marker.
import { type Problem, UserError } from "../lib/errors.js";
import { loadConfig } from "./load.js";
import type { SlipwayConfig } from "./schema.js";

export type ConfigCheck =
  | { valid: true; file: string; config: SlipwayConfig; problems: [] }
  | { valid: false; file: string; problems: Problem[] };

/** Loads and validates `path`; the problems of a bad file are returned, never thrown. */
export function checkConfig(path: string): ConfigCheck {
  try {
    const loaded = loadConfig(path);
    return { valid: true, file: path, config: loaded.config, problems: [] };
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    const problems = err.problems.length ? err.problems : [{ file: path, message: err.message }];
    return { valid: false, file: path, problems };
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** "2 build services, 3 deploy services, 2 environments, 1 notify channel" (sections absent are left out). */
export function summarizeConfig(config: SlipwayConfig): string {
  const parts: string[] = [];
  if (config.build) parts.push(plural(Object.keys(config.build.services).length, "build service"));
  if (config.deploy) {
    parts.push(plural(Object.keys(config.deploy.services).length, "deploy service"));
    if (config.deploy.environments)
      parts.push(plural(Object.keys(config.deploy.environments).length, "environment"));
  }
  if (config.notify) {
    parts.push(plural(Object.keys(config.notify.channels).length, "notify channel"));
    parts.push(plural(config.notify.rules.length, "notify rule"));
  }
  return parts.length ? parts.join(", ") : "no sections";
}

/** What replaces a credential written inline in slipway.yaml. */
export const redacted = "[REDACTED]";

/**
 * The config as deployed to `env`: each service with the environment's overrides applied (env merged with
 * the service's own winning over the environment's, everything else replaced), `deploy.environments`
 * dropped and `deploy.environment` naming the one applied. Without `env`, or when the file lists no
 * environments (then any name is accepted and changes nothing), the services stay as written.
 */
export function resolveConfig(config: SlipwayConfig, env?: string): SlipwayConfig {
  const resolved = redactCredentials(structuredClone(config));
  const deploy = resolved.deploy;
  if (!deploy || env === undefined) return resolved;
  const environments = deploy.environments;
  if (environments && !(env in environments))
    throw new UserError(
      `unknown environment '${env}' (deploy.environments: ${Object.keys(environments).join(", ") || "none"})`,
    );
  const environment = environments?.[env];
  const services = Object.fromEntries(
    Object.entries(deploy.services).map(([name, s]) => {
      const { env: overrideEnv, ...o } = environment?.services?.[name] ?? {};
      const merged = { ...environment?.env, ...s.env, ...overrideEnv };
      return [name, { ...s, ...o, ...(Object.keys(merged).length && { env: merged }) }];
    }),
  );
  const { environments: _, ...rest } = deploy;
  return { ...resolved, deploy: { environment: env, ...rest, services } as typeof deploy };
}

/**
 * Secrets are referenced by name everywhere in slipway.yaml except in URLs: a Slack channel's `webhook_url`
 * is a credential itself (the docs steer to webhook_url_secret) and is never printed; a generic webhook's
 * `url` keeps its scheme, host and path, but a password in it and every query value (where services put
 * their tokens) are not printed.
 */
function redactCredentials(config: SlipwayConfig): SlipwayConfig {
  for (const channel of Object.values(config.notify?.channels ?? {})) {
    if ("slack" in channel && channel.slack.webhook_url !== undefined) channel.slack.webhook_url = redacted;
    if ("webhook" in channel) channel.webhook.url = redactUrl(channel.webhook.url);
  }
  return config;
}

/** The URL without a password or query values; what cannot be parsed is not printed at all. */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return redacted;
  }
  if (!url.password && !url.search) return text;
  if (url.password) url.password = redacted;
  const names = [...url.searchParams.keys()];
  url.search = "";
  for (const name of names) url.searchParams.append(name, redacted);
  // URLSearchParams percent-encodes the marker; put it back as written so the output reads plainly.
  return url.toString().replaceAll(encodeURIComponent(redacted), redacted);
}
