// The host as a job's environment: processes in their own process groups, as an isolated fork leg's
// unprivileged user when the leg has one, starting from the runner's (or that user's) environment.
import type { RunAs } from "../isolation.js";
import { type ProcessResult, type RunProcessOptions, runProcess } from "../process.js";
import { onPath, resolveShell } from "./shell.js";
import type { JobEnvironment, ShellTemplate } from "./types.js";

const fallbackPath = "/usr/local/bin:/usr/bin:/bin";

export class HostEnvironment implements JobEnvironment {
  readonly kind = "host";
  private readonly env: Record<string, string>;
  private readonly runAs: RunAs | undefined;

  constructor(env: Record<string, string>, runAs: RunAs | undefined) {
    this.env = env;
    this.runAs = runAs;
  }

  exec(opts: RunProcessOptions): Promise<ProcessResult> {
    const runAs = this.runAs;
    return runProcess({ ...opts, ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}) });
  }

  baseEnv(): Record<string, string> {
    return this.env;
  }

  stepPath(stepEnv: Record<string, string>, additions: string[]): string {
    return [...additions, stepEnv.PATH ?? this.env.PATH ?? fallbackPath].join(":");
  }

  shell(option: string | undefined, env: Record<string, string>): ShellTemplate {
    return resolveShell(option, (program) => onPath(program, env.PATH) !== undefined);
  }
}
