// Where a job's processes run: on the host or in the job container. Steps ask the environment to run
// a process, for the environment a process starts from, for PATH and for a shell, and never branch on
// which one it is (as act's HostEnvironment and container executor share one interface).
import type { ProcessResult, RunProcessOptions } from "../process.js";

/** A shell's command line, `{0}` standing for the script, and the script file's extension. */
export type ShellTemplate = { template: string[]; extension: string };

/** How a step's process environment is made here: what it starts from and its PATH. */
export type ProcessEnvRules = {
  /** The variables a step's process starts from (a container has its own: none of the host's). */
  baseEnv(): Record<string, string>;
  /** PATH for a step: GITHUB_PATH additions first; undefined leaves the environment's own. */
  stepPath(stepEnv: Record<string, string>, additions: string[]): string | undefined;
};

export interface JobEnvironment extends ProcessEnvRules {
  readonly kind: "host" | "container";
  /** Runs one process of a step, stopped by its signal or timeout, its output handed on line by line. */
  exec(opts: RunProcessOptions): Promise<ProcessResult>;
  /** The command line for a `shell:` option (undefined: the default shell), looked up here. */
  shell(option: string | undefined, env: Record<string, string>): ShellTemplate;
}
