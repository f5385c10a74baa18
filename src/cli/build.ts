// `slipway build`: build the images of slipway.yaml that changed since the last release (all with --all),
// in dependency order, and push them with --push. Data (the result) on stdout, progress and logs on stderr.
import { resolve } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import {
  type BuildEvent,
  BuildFailedError,
  type BuildPlan,
  type BuildResult,
  runConfiguredBuild,
} from "../images/index.js";
import { UserError } from "../lib/errors.js";
import { type Style, makeStyle } from "./tty.js";

export type BuildFlags = {
  all?: boolean;
  push?: boolean;
  version?: string;
  config: string;
  json?: boolean;
  result?: string;
  directory: string;
  since?: string;
  dryRun?: boolean;
  concurrency?: string;
  cache?: boolean;
};

export type CommandIo = {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
};

export const processIo = (): CommandIo => ({
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
});

/** Runs `fn` with a signal that SIGINT/SIGTERM abort. */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error("interrupted"));
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await fn(controller.signal);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

export function renderBuildPlan(plan: BuildPlan, style: Style): string {
  const lines: string[] = [];
  for (const level of plan.levels)
    for (const name of level) {
      const s = plan.services[name];
      const mark = s.build ? style.green("build") : style.dim("skip ");
      lines.push(
        `${mark} ${name.padEnd(16)} ${s.build ? s.reference : (s.previous ?? "-")}  ${style.dim(s.reasons.join("; "))}`,
      );
    }
  return `${lines.join("\n")}\n`;
}

export function renderBuildResult(result: BuildResult): string {
  const rows = Object.entries(result.services).map(
    ([name, s]) => `${name}\t${s.status}\t${s.reference ?? "-"}\t${s.digest ?? "-"}`,
  );
  return `${rows.join("\n")}\n`;
}

function describeEvent(e: BuildEvent): string | undefined {
  switch (e.type) {
    case "started":
      return `building ${e.service}`;
    case "built":
      return `built ${e.service} (${e.id.slice(0, 19)})`;
    case "pushing":
      return e.attempt > 1 ? undefined : `pushing ${e.reference}`;
    case "pushed":
      return `pushed ${e.reference}${e.digest ? ` (${e.digest})` : ""}`;
    case "retry":
      return `registry unreachable while pushing ${e.reference} (attempt ${e.attempt}); retrying in ${e.delayMs} ms`;
    case "skipped":
      return `skipped ${e.service}: ${e.reason}`;
    case "failed":
      return `failed ${e.service}`;
    case "cancelled":
      return `not built ${e.service}: ${e.reason}`;
  }
}

export async function runBuild(flags: BuildFlags, io: CommandIo = processIo()): Promise<number> {
  const style = makeStyle({ json: flags.json, env: io.env });
  const dir = resolve(flags.directory);
  let concurrency: number | undefined;
  if (flags.concurrency !== undefined) {
    concurrency = Number(flags.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new UserError(`--concurrency must be a whole number ≥ 1, got '${flags.concurrency}'`);
  }
  try {
    const { plan, result } = await runConfiguredBuild({
      dir,
      config: flags.config,
      all: flags.all,
      push: flags.push,
      version: flags.version,
      since: flags.since,
      concurrency,
      noCache: flags.cache === false,
      resultFile: flags.result ? resolve(dir, flags.result) : undefined,
      env: io.env,
      signal: io.signal,
      dryRun: flags.dryRun,
      onPlan: (p, since) => {
        io.stderr(`${style.bold(`build ${p.version}`)} (${since})\n`);
        if (!flags.dryRun) io.stderr(renderBuildPlan(p, style));
      },
      onLog: (service, line) => io.stderr(`${style.cyan(`[${service}]`)} ${line}\n`),
      onEvent: (e) => {
        const text = describeEvent(e);
        if (text) io.stderr(`${style.bold("slipway:")} ${text}\n`);
      },
    });
    if (!result) {
      io.stdout(
        flags.json ? `${JSON.stringify(plan, null, 2)}\n` : renderBuildPlan(plan, makeStyle({ json: true })),
      );
      return 0;
    }
    io.stdout(flags.json ? `${JSON.stringify(result, null, 2)}\n` : renderBuildResult(result));
    return 0;
  } catch (err) {
    if (err instanceof BuildFailedError && flags.json) io.stdout(`${JSON.stringify(err.result, null, 2)}\n`);
    throw err;
  }
}

export function registerBuild(program: Command): void {
  program
    .command("build")
    .description(
      "build the images of slipway.yaml that changed since the last release tag, in dependency order",
    )
    .option("--all", "build every service, changed or not")
    .option("--push", "push the images to their registry")
    .option(
      "--version <version>",
      "the version for {version} in tags (default: the release tag at HEAD, else the short sha)",
    )
    .option("--since <ref>", "compare with this git ref instead of the last release tag")
    .option("-c, --config <file>", "the configuration file", "slipway.yaml")
    .option("-C, --directory <dir>", "the repository directory", ".")
    .option("--concurrency <n>", "how many images build at once (default: build.concurrency or 2)")
    .option("--no-cache", "do not use the engine's layer cache")
    .option("-n, --dry-run", "print the plan (what would be built and why) without building")
    .option("--result <file>", "write the result (service → image, digest, status) as JSON to this file")
    .option("--json", "print the result as JSON on stdout (logs stay on stderr)")
    .action(async (flags: BuildFlags) => {
      process.exitCode = await withInterrupt((signal) => runBuild(flags, { ...processIo(), signal }));
    });
}
