// Shells for `run` steps, with GitHub's invocations (`bash --noprofile --norc -eo pipefail {0}`, ...).
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";

export type ShellCommand = { command: string; args: string[]; extension: string };

export class ShellError extends Error {}

export function onPath(name: string, pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * The command line for a shell option (`bash`, `python`, `perl {0}`, ...) with `{0}` standing for the
 * script; `has` says whether a program is there, in the environment the script runs in.
 */
export function resolveShell(
  shell: string | undefined,
  has: (program: string) => boolean,
): { template: string[]; extension: string } {
  const s = shell?.trim();
  if (!s) {
    return has("bash")
      ? { template: ["bash", "-e", "{0}"], extension: ".sh" }
      : { template: ["sh", "-e", "{0}"], extension: ".sh" };
  }
  switch (s) {
    case "bash":
      return { template: ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"], extension: ".sh" };
    case "sh":
      return { template: ["sh", "-e", "{0}"], extension: ".sh" };
    case "python":
      return {
        template: [has("python") ? "python" : "python3", "{0}"],
        extension: ".py",
      };
    case "node":
      return { template: ["node", "{0}"], extension: ".js" };
    case "pwsh":
      if (!has("pwsh")) throw new ShellError("shell 'pwsh' is not installed on this machine");
      return { template: ["pwsh", "-command", ". '{0}'"], extension: ".ps1" };
    case "powershell":
    case "cmd":
      throw new ShellError(`shell '${s}' is only available on Windows runners`);
  }
  if (!s.includes("{0}")) {
    throw new ShellError(
      `invalid shell option '${s}': use bash, sh, python, node or pwsh, or a command with {0} for the script (e.g. 'perl {0}')`,
    );
  }
  return { template: s.split(/\s+/), extension: "" };
}

export function shellCommand(template: string[], scriptPath: string): ShellCommand {
  const [command, ...rest] = template.map((p) => p.replaceAll("{0}", scriptPath));
  return { command, args: rest, extension: "" };
}
