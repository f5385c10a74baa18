// What a planned service's build needs besides its context, gathered before anything is built: the values
// of its build secrets (from the environment or files next to slipway.yaml) and registry credentials for
// BuildKit's session. A missing secret stops the whole build before the first image, naming where it was
// looked for, so that nothing is half-built for want of a value that was never going to be there.
import { readFileSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import { UserError } from "../lib/errors.js";
import type { BuildPlan, PlannedService } from "./plan.js";
import type { Credentials } from "./registry/auth.js";
import { registryHostOf } from "./templates.js";

/** Largest build secret read from a file: secrets are tokens and keys, not archives. */
const maxSecretBytes = 512 * 1024;

/** The secret values of every service that will be built, by service and id. */
export function resolveBuildSecrets(
  plan: BuildPlan,
  root: string,
  env: NodeJS.ProcessEnv,
): Map<string, Record<string, Buffer>> {
  const problems: string[] = [];
  const out = new Map<string, Record<string, Buffer>>();
  for (const s of Object.values(plan.services)) {
    if (!s.build) continue;
    const values: Record<string, Buffer> = {};
    for (const [id, source] of Object.entries(s.secrets)) {
      if (source.env !== undefined) {
        const v = env[source.env];
        if (v === undefined || v === "")
          problems.push(
            `${s.name}: build secret '${id}' needs the environment variable ${source.env}, which is not set`,
          );
        else values[id] = Buffer.from(v);
        continue;
      }
      const file = source.file ?? "";
      const path = resolve(root, file);
      const shown = relative(root, path);
      if (isAbsolute(file) || shown.startsWith("..")) {
        // A config may come from a pull request: it must not read files outside its repository.
        problems.push(
          `${s.name}: build secret '${id}' file ${file} is outside the directory of slipway.yaml`,
        );
        continue;
      }
      try {
        // …nor through a symbolic link inside it.
        const real = relative(realpathSync(root), realpathSync(path));
        if (real.startsWith("..") || isAbsolute(real))
          throw new Error("a link to outside the directory of slipway.yaml");
        const st = statSync(path);
        if (!st.isFile()) throw new Error("not a regular file");
        if (st.size > maxSecretBytes) throw new Error(`larger than ${maxSecretBytes} bytes`);
        values[id] = readFileSync(path);
      } catch (err) {
        problems.push(`${s.name}: build secret '${id}' file ${shown}: ${(err as Error).message}`);
      }
    }
    out.set(s.name, values);
  }
  if (problems.length) throw new UserError(`cannot build: ${problems.join("; ")}`);
  return out;
}

/** The registry hosts a service's build may need credentials for: its own and its cache images'. */
export function credentialHosts(s: PlannedService): string[] {
  return [...new Set([registryHostOf(s.repository), ...s.cacheFrom.map(registryHostOf)])];
}

/** BuildKit's view of credentials: a user and a secret (an identity token goes with an empty user). */
export function sessionCredentials(
  c: Credentials | undefined,
): { username: string; password: string } | undefined {
  if (!c) return undefined;
  return "password" in c
    ? { username: c.username, password: c.password }
    : { username: "", password: c.identityToken };
}
