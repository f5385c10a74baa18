// The input of the deploy routes, checked before anything is extracted or started: the :app and :env of a
// path (they name directories of the data dir) and the body of a deploy (its shape; what its values mean is
// checked against slipway.yaml later).
import { isAbsolute, normalize } from "node:path";
import type { Context } from "hono";
import { appNamePattern, environmentNamePattern } from "../../config/index.js";
import { type StrategyName, strategyNames } from "../../deploy/index.js";
import { UserError } from "../../lib/errors.js";

/** The body of POST /api/v1/repos/:repo/deploys. */
export type ServerDeployBody = {
  env?: string;
  ref?: string;
  services?: string[];
  images?: Record<string, string>;
  strategy?: StrategyName;
  version?: string;
  wait?: boolean;
  /** slipway.yaml's path in the repository; default slipway.yaml. */
  config?: string;
  /** Instead of deploy.app (or the repository's name). */
  app?: string;
};

export function checkName(what: string, value: string, pattern: RegExp): void {
  if (!pattern.test(value))
    throw new UserError(
      `'${what}' is not a valid name: '${value}' (lower-case letters, digits, '.', '_', '-')`,
    );
}

/** The :app and :env of a path, checked (they name directories of the data dir). */
export function target(c: Context): { appName: string; env: string } {
  const appName = c.req.param("app") ?? "";
  const env = c.req.param("env") ?? "";
  checkName("app", appName, appNamePattern);
  checkName("env", env, environmentNamePattern);
  return { appName, env };
}

const isStringList = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((s) => typeof s === "string" && s.length > 0);

/** Checks the body's shape; what its values mean is checked against slipway.yaml later. */
export function deployBody(raw: unknown): ServerDeployBody {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new UserError("the body must be a JSON object");
  const b = raw as Record<string, unknown>;
  const known = ["env", "ref", "services", "images", "strategy", "version", "wait", "config", "app"];
  const unknown = Object.keys(b).filter((k) => !known.includes(k));
  if (unknown.length) throw new UserError(`unknown field(s) ${unknown.map((k) => `'${k}'`).join(", ")}`);
  const str = (k: string) => {
    if (b[k] !== undefined && (typeof b[k] !== "string" || !b[k]))
      throw new UserError(`'${k}' must be a non-empty string`);
    return b[k] as string | undefined;
  };
  const body: ServerDeployBody = {
    env: str("env"),
    ref: str("ref"),
    version: str("version"),
    config: str("config"),
    app: str("app"),
  };
  if (body.env !== undefined) checkName("env", body.env, environmentNamePattern);
  if (body.app !== undefined) checkName("app", body.app, appNamePattern);
  if (body.config !== undefined) {
    const p = normalize(body.config);
    if (isAbsolute(p) || p === ".." || p.startsWith("../"))
      throw new UserError(`'config' must be a path inside the repository, got '${body.config}'`);
    body.config = p;
  }
  if (b.services !== undefined) {
    if (!isStringList(b.services)) throw new UserError("'services' must be a list of service names");
    body.services = b.services;
  }
  if (b.images !== undefined) {
    const images = b.images;
    if (
      images === null ||
      typeof images !== "object" ||
      Array.isArray(images) ||
      !Object.values(images).every((v) => typeof v === "string")
    )
      throw new UserError("'images' must map service names to image references");
    body.images = images as Record<string, string>;
  }
  if (b.strategy !== undefined) {
    if (!(strategyNames as readonly unknown[]).includes(b.strategy))
      throw new UserError(
        `unknown strategy ${JSON.stringify(b.strategy)} (one of ${strategyNames.join(", ")})`,
      );
    body.strategy = b.strategy as StrategyName;
  }
  if (b.wait !== undefined) {
    if (typeof b.wait !== "boolean") throw new UserError("'wait' must be a boolean");
    body.wait = b.wait;
  }
  for (const k of Object.keys(body) as (keyof ServerDeployBody)[]) if (body[k] === undefined) delete body[k];
  return body;
}
