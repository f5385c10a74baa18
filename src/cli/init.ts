// `slipway init`: a commented slipway.yaml for an existing repository, from what is in it (Dockerfiles, a
// compose file, package.json's start script, GitHub workflows). It never replaces a slipway.yaml: that file
// is edited by hand, and init only starts one. Asks (at most the app name and a confirmation) only on a
// terminal; with --yes, --json, CI set or stdin not a TTY it takes the detected defaults.
import { statSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { appNamePattern } from "../config/index.js";
import { exitCodes, UserError } from "../lib/errors.js";
import { composeAppName, type Detection, detectProject, toName } from "./init-detect.js";
import { renderConfig, writtenSections } from "./init-render.js";

export type InitFlags = { directory: string; name?: string; yes?: boolean; json?: boolean };

export type InitIo = {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** Asks one question on the terminal; absent when there is none to ask on. */
  ask?: (question: string) => Promise<string>;
};

function checkDirectory(dir: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new UserError(`-C ${dir}: no such directory`);
  }
  if (!isDir) throw new UserError(`-C ${dir}: not a directory`);
}

function checkName(name: string, from: string): string {
  if (!appNamePattern.test(name))
    throw new UserError(
      `${from}: '${name}' is not a valid app name (lower-case letters, digits, '.', '_' and '-', starting with a letter or digit)`,
    );
  return name;
}

function describeDetection(d: Detection): string[] {
  const lines: string[] = [];
  for (const f of d.dockerfiles)
    lines.push(
      `found ${f.context === "." ? "" : `${f.context}/`}${f.dockerfile}: build service '${f.service}'`,
    );
  if (d.compose)
    lines.push(
      `found ${d.compose.file}: deploy services ${d.compose.services.map((s) => `'${s}'`).join(", ")}`,
    );
  if (d.start)
    lines.push(
      d.dockerfiles.length || d.compose
        ? "found package.json's start script: not used (the app is deployed from its images)"
        : `found package.json's start script: deploy service 'web' runs npm start (${d.start})`,
    );
  if (d.workflows.length)
    lines.push(`found ${d.workflows.length} workflow(s): they run as they are with \`slipway run\``);
  if (!lines.length) lines.push("found no Dockerfile, compose file or package.json start script");
  return lines;
}

const processIo = (): InitIo => ({
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
});

/** Runs init; returns the exit code (user errors are thrown, as every command's are). */
export async function runInit(flags: InitFlags, io: InitIo = processIo()): Promise<number> {
  const dir = resolve(flags.directory);
  checkDirectory(flags.directory);
  const file = join(flags.directory, "slipway.yaml");
  const refuse = () =>
    new UserError(
      `${file} exists: slipway init never replaces it (check it with \`slipway config validate\`, or move it away to start again)`,
    );
  try {
    statSync(file);
    throw refuse();
  } catch (err) {
    if (err instanceof UserError) throw err;
  }

  // Compose's own default project name is the directory's; a `name:` in the compose file overrides it.
  let app = flags.name
    ? checkName(flags.name, "--name")
    : (composeAppName(dir) ?? toName(basename(dir), "app"));
  const ask = flags.yes || flags.json ? undefined : io.ask;
  if (ask && !flags.name) {
    const answer = (await ask(`App name [${app}]: `)).trim();
    if (answer) app = checkName(answer, "app name");
  }
  const detection = await detectProject(dir, app, flags.directory);
  for (const w of detection.compose?.warnings ?? []) io.stderr(`warning: ${w}\n`);
  if (!flags.json) for (const line of describeDetection(detection)) io.stderr(`${line}\n`);
  if (ask) {
    const answer = (await ask(`Write ${file}? [Y/n] `)).trim().toLowerCase();
    if (answer && answer !== "y" && answer !== "yes") {
      io.stderr("nothing written\n");
      return exitCodes.failure;
    }
  }

  const text = renderConfig(detection);
  try {
    // wx: a slipway.yaml that appeared since the check above is still never replaced.
    writeFileSync(file, text, { flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw refuse();
    throw new UserError(`cannot write ${file}: ${(err as Error).message}`);
  }
  const sections = writtenSections(detection);
  if (flags.json) {
    const detected = {
      app,
      dockerfiles: detection.dockerfiles,
      compose: detection.compose
        ? {
            file: detection.compose.file,
            services: detection.compose.services,
            warnings: detection.compose.warnings,
          }
        : null,
      start: detection.start ?? null,
      workflows: detection.workflows,
    };
    io.stdout(`${JSON.stringify({ path: file, sections, detected }, null, 2)}\n`);
    return exitCodes.success;
  }
  io.stdout(`wrote ${file}${sections.length ? ` (${sections.join(", ")})` : ""}\n`);
  io.stderr(
    sections.length
      ? `next: review it, then \`slipway config validate${flags.directory === "." ? "" : ` -C ${flags.directory}`}\`\n`
      : "next: fill in a build or deploy section (examples are in the file as comments)\n",
  );
  return exitCodes.success;
}

/** Whether init may ask: a terminal on stdin, not CI. */
export const canAsk = (env: NodeJS.ProcessEnv = process.env) => !!process.stdin.isTTY && !env.CI;

export function registerInit(program: Command): void {
  program
    .command("init")
    .description(
      "write a commented slipway.yaml from the repository's Dockerfiles, compose file, package.json and workflows",
    )
    .option("-C, --directory <dir>", "the repository's directory", ".")
    .option("--name <app>", "the app's name (default: the directory's name)")
    .option("-y, --yes", "ask nothing: take the detected defaults")
    .option("--json", "print what was detected and the path written, as JSON")
    .action(async (flags) => {
      const io = processIo();
      if (canAsk() && !flags.yes && !flags.json) {
        const { createInterface } = await import("node:readline/promises");
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        try {
          process.exitCode = await runInit(flags, { ...io, ask: (q) => rl.question(q) });
        } finally {
          rl.close();
        }
        return;
      }
      process.exitCode = await runInit(flags, io);
    });
}
