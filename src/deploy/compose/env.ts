// environment and secrets: variables with valid names and values become env; compose secrets become
// slipway secrets mounted as files where compose mounted them.
import { envNamePattern, secretNamePattern } from "../../config/index.js";
import { type ImportContext, isRecord, type Json, type Path } from "./context.js";
import { secretName } from "./values.js";

export function mapEnvironment(ctx: ImportContext, name: string, env: unknown): Json | undefined {
  if (env === undefined || env === null) return undefined;
  const at = (...p: Path): Path => ["services", name, "environment", ...p];
  const out: Json = {};
  const add = (path: Path, key: string, value: unknown) => {
    if (!envNamePattern.test(key)) {
      ctx.warn(
        path,
        `service '${name}': environment variable '${key}' is not a valid name in slipway (ignored)`,
      );
      return;
    }
    if (value === undefined || value === null) {
      ctx.warn(
        path,
        `service '${name}': ${key} takes its value from the shell running compose; set it in env or secrets (ignored)`,
      );
      return;
    }
    out[key] = typeof value === "string" ? ctx.text(path, value, name) : value;
  };
  if (Array.isArray(env))
    env.forEach((item, i) => {
      const text = String(item);
      const eq = text.indexOf("=");
      add(at(i), eq < 0 ? text : text.slice(0, eq), eq < 0 ? undefined : text.slice(eq + 1));
    });
  else if (isRecord(env)) for (const [k, v] of Object.entries(env)) add(at(k), k, v);
  return Object.keys(out).length ? out : undefined;
}

export function mapSecrets(ctx: ImportContext, name: string, secrets: unknown): Json[] | undefined {
  if (!Array.isArray(secrets)) return undefined;
  return secrets.flatMap((s, i): Json[] => {
    const path: Path = ["services", name, "secrets", i];
    const source = isRecord(s) ? s.source : s;
    if (typeof source !== "string") {
      ctx.warn(path, `service '${name}': a secret without source (ignored)`);
      return [];
    }
    const target = isRecord(s) && typeof s.target === "string" ? s.target : source;
    if (isRecord(s))
      for (const k of Object.keys(s))
        if (k !== "source" && k !== "target")
          ctx.warn([...path, k], `service '${name}': secret ${k} is not supported (ignored)`, true);
    const slip = secretName(source);
    if (!secretNamePattern.test(slip)) return [];
    if (!isRecord(ctx.data.secrets) || !(source in ctx.data.secrets))
      ctx.warn(
        path,
        `secret '${source}' is the slipway secret ${slip}: store its value with \`slipway secret set ${slip}\``,
      );
    return [{ name: slip, file: target.startsWith("/") ? target : `/run/secrets/${target}` }];
  });
}
