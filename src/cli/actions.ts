// `slipway actions add|list|rm`: the local cache of remote actions (owner/repo@ref) used offline.
import { execFile } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import type { Command } from "@commander-js/extra-typings";
import { OperationError, UserError } from "../lib/errors.js";
import { defaultDataDir, parseRemoteRef, remoteActionDir } from "../runner/index.js";
import { gitResult, resolveCommit } from "../lib/git.js";
import { confirm, type ConfirmFlags, yesOption } from "./confirm.js";

const exec = promisify(execFile);

function isGitUrl(s: string): boolean {
  return /^[a-z+]+:\/\//i.test(s) || /^[^/\s]+@[^:\s]+:/.test(s);
}

async function isGitRepo(dir: string): Promise<boolean> {
  return (await gitResult(dir, ["rev-parse", "--git-dir"])).exitCode === 0;
}

/** Copies the action into the cache; from a git repository, the files of `ref` (not the working tree). */
export async function addAction(spec: string, from: string, actionsDir: string): Promise<string> {
  const ref = parseRemoteRef(spec);
  if (!ref || ref.path)
    throw new UserError(`'${spec}' is not an action reference of the form owner/repo@ref`);
  if (from.startsWith("-"))
    throw new UserError(`--from ${JSON.stringify(from)}: a directory or git URL does not start with '-'`);
  const dest = remoteActionDir(actionsDir, ref);
  mkdirSync(join(dest, ".."), { recursive: true });
  const staging = mkdtempSync(join(tmpdir(), "slipway-action-"));
  try {
    if (isGitUrl(from)) {
      const cloned = await gitResult(".", [
        "clone",
        "--quiet",
        "--depth",
        "1",
        "--branch",
        ref.ref,
        "--",
        from,
        join(staging, "src"),
      ]);
      if (cloned.exitCode !== 0)
        throw new OperationError(`cannot clone ${from} at ${ref.ref}: ${cloned.stderr.trim()}`);
      rmSync(join(staging, "src", ".git"), { recursive: true, force: true });
    } else {
      const dir = resolve(from);
      if (!existsSync(dir) || !statSync(dir).isDirectory())
        throw new UserError(`--from ${from}: not a directory or git URL`);
      let exported = false;
      if ((await isGitRepo(dir)) && (await resolveCommit(dir, ref.ref)) !== undefined) {
        try {
          mkdirSync(join(staging, "src"));
          await exec(
            "sh",
            ["-c", `git archive --format=tar "$1" | tar -x -C "$2"`, "sh", ref.ref, join(staging, "src")],
            { cwd: dir },
          );
          exported = true;
        } catch {
          exported = false;
        }
      }
      if (!exported)
        cpSync(dir, join(staging, "src"), { recursive: true, filter: (p) => !p.split("/").includes(".git") });
    }
    const src = join(staging, "src");
    if (!["action.yml", "action.yaml"].some((f) => existsSync(join(src, f))) && !readdirSync(src).length) {
      throw new UserError(`--from ${from}: nothing to add`);
    }
    rmSync(dest, { recursive: true, force: true });
    renameSync(src, dest);
    return dest;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

export function listActions(actionsDir: string): string[] {
  if (!existsSync(actionsDir)) return [];
  return readdirSync(actionsDir)
    .flatMap((owner) => readdirSync(join(actionsDir, owner)).map((r) => `${owner}/${r}`))
    .sort();
}

export function registerActions(program: Command): void {
  const actions = program
    .command("actions")
    .description("manage the local cache of remote actions used offline");
  actions
    .command("add")
    .description("add owner/repo@ref to the cache from a directory, a local git repository or a git URL")
    .argument("<action>", "owner/repo@ref")
    .requiredOption("--from <dir-or-url>", "where the action's files come from")
    .option("--json", "print {action, dir} on stdout")
    .action(async (spec: string, flags: { from: string; json?: boolean }) => {
      const dest = await addAction(spec, flags.from, join(defaultDataDir(), "actions"));
      if (flags.json) process.stdout.write(`${JSON.stringify({ action: spec, dir: dest })}\n`);
      else process.stderr.write(`added ${spec} (${dest})\n`);
    });
  actions
    .command("list")
    .description("list the cached actions")
    .option("--json", "print JSON")
    .action((flags: { json?: boolean }) => {
      const list = listActions(join(defaultDataDir(), "actions"));
      process.stdout.write(flags.json ? `${JSON.stringify(list)}\n` : list.map((l) => `${l}\n`).join(""));
    });
  yesOption(
    actions
      .command("rm")
      .description("remove a cached action (asks first; --yes when not on a terminal)")
      .argument("<action>", "owner/repo@ref")
      .option("--json", "print {action, removed} on stdout"),
  ).action(async (spec: string, flags: ConfirmFlags) => {
    const ref = parseRemoteRef(spec);
    if (!ref) throw new UserError(`'${spec}' is not an action reference of the form owner/repo@ref`);
    const dir = remoteActionDir(join(defaultDataDir(), "actions"), ref);
    if (!existsSync(dir)) throw new UserError(`${spec} is not in the cache`);
    await confirm(`remove ${spec} from the action cache?`, flags);
    rmSync(dir, { recursive: true, force: true });
    if (flags.json) process.stdout.write(`${JSON.stringify({ action: spec, removed: true })}\n`);
    else process.stderr.write(`removed ${spec}\n`);
  });
}
