// The native spawner (native/spawn.c, compiled by scripts/build-native.mjs into dist/native/): posix_spawn
// from Node's own thread, no fork of Node and no process in between. What a step sees is what
// child_process.spawn and the Perl helper give it; process.ts picks this first, then the helper, then
// Node's spawn. Used only for processes of slipway's own user, as the helper is.
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

type NativeModule = {
  /** [pid, stdout fd, stderr fd]; throws an Error whose code is the errno when the process cannot start. */
  spawn(
    path: string,
    argv: string[],
    envp: string[],
    cwd: string,
    onExit: (code: number, signal: number) => void,
  ): [number, number, number];
  available(): boolean;
};

let loaded: NativeModule | null | undefined;

/** The compiled module where this package has one (and the kernel has pidfds), else null. */
export function nativeSpawner(): NativeModule | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.platform !== "linux") return loaded;
  // From src/runner (tests) or dist/chunks (the bundle): the package root is the first folder up with a
  // package.json.
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  const file = join(dir, "dist", "native", "spawn.node");
  if (!existsSync(file)) return loaded;
  try {
    const mod = createRequire(import.meta.url)(file) as NativeModule;
    if (mod.available()) loaded = mod;
  } catch {
    // Built for another Node or machine: the helper does the work.
  }
  return loaded;
}

/** Why a command could not be found, as exec reports it: ENOENT, or EACCES when only unrunnable ones were. */
export type Unresolved = { errno: "ENOENT" | "EACCES" };

/**
 * The file `command` names, looked up as execvp does: as given when it holds a slash (relative to `cwd`),
 * else in each directory of `pathVar` in turn (an empty entry is `cwd`), skipping what is not a runnable
 * file. Node's spawn looks up the child's PATH the same way.
 */
export function resolveCommand(
  command: string,
  pathVar: string | undefined,
  cwd: string,
): string | Unresolved {
  if (command.includes("/")) return resolve(cwd, command);
  let denied = false;
  for (const d of (pathVar ?? "/usr/local/bin:/usr/bin:/bin").split(delimiter)) {
    const candidate = resolve(cwd, d, command);
    try {
      if (!statSync(candidate).isFile()) continue;
    } catch {
      continue;
    }
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      denied = true;
    }
  }
  return { errno: denied ? "EACCES" : "ENOENT" };
}
