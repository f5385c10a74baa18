// The runtimes a service runs on, and how a service's runtime is chosen when it does not name one: read by
// the schema, by its cross-reference checks and by deploy/spec.ts alike.

export const deployRuntimes = ["process", "docker"] as const;
export type DeployRuntime = (typeof deployRuntimes)[number];

/**
 * The runtime a service runs on: its own `runtime`, else deploy.runtime, else docker when it names an image
 * and process when it has only a command; undefined when none of these says.
 */
export function serviceRuntime(
  s: { runtime?: DeployRuntime; image?: unknown; command?: unknown },
  defaultRuntime?: DeployRuntime,
): DeployRuntime | undefined {
  if (s.runtime) return s.runtime;
  if (defaultRuntime) return defaultRuntime;
  if (s.image !== undefined) return "docker";
  if (s.command !== undefined) return "process";
  return undefined;
}
