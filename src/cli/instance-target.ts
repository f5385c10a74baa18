// What `slipway logs` and `slipway exec` share: the environment a service runs in, refused with the known
// environments listed when it was never deployed, and its agent (started when it is not running, so that
// instances that outlived it are re-adopted first).
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { ensureAgent } from "../deploy/index.js";
import { UserError } from "../lib/errors.js";
import { agentCommand, type EnvFlags, type Target, target } from "./deploy-target.js";
import { withLocalStore } from "./secret.js";

/** The environments of an app that have an agent's state directory here. */
export function knownEnvironments(dataDir: string, app: string): string[] {
  try {
    return readdirSync(join(dataDir, "deploy", app), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

/** The target of a logs/exec command, its agent running; a UserError (exit 2) for an unknown environment. */
export async function instanceTarget(flags: EnvFlags): Promise<Target> {
  const t = target(flags, process.env);
  const known = await withLocalStore(flags, process.env, async (store) => {
    if (await store.deployApps.get(t.app, t.env)) return true;
    return (await store.releases.list({ app: t.app, env: t.env, limit: 1 })).length > 0;
  });
  if (!known) {
    const envs = knownEnvironments(t.dataDir, t.app).filter((e) => e !== t.env);
    throw new UserError(
      `${t.app} has no environment '${t.env}': it was never deployed here (environments: ${envs.join(", ") || "none"}; choose one with --env)`,
    );
  }
  await ensureAgent(t.paths, agentCommand(t));
  return t;
}
