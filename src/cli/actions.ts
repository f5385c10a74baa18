// `slipway actions add|list|update|prune|rm`: the action cache (runner/actions/cache.ts). Remote actions
// are fetched on demand by commit; `add` puts one there by hand for machines that cannot reach a server.
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
import {
  ActionCache,
  actionSource,
  type CachedAction,
  defaultDataDir,
  listCachedActions,
  parseRemoteRef,
  prune,
  pruneCandidates,
  remoteActionDir,
  serverKeyOf,
  validateActionsUrl,
} from "../runner/index.js";
import { validateActionRef } from "../workflow/index.js";
import { formatBytes, formatTimestamp, textTable } from "../lib/format.js";
import { type ConfirmFlags, confirm, yesOption } from "./confirm.js";
import { gitResult, resolveCommit } from "../lib/git.js";

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

/** The `owner/repo` of `actions update`'s argument. */
function repoOf(spec: string): { owner: string; repo: string } {
  const r = parseRemoteRef(spec.includes("@") ? spec : `${spec}@main`);
  if (!r || r.path) throw new UserError(`'${spec}' is not an action repository of the form owner/repo`);
  validateActionRef(r);
  return { owner: r.owner, repo: r.repo };
}

function renderList(entries: CachedAction[]): string {
  const rows = entries.map((e) => [
    e.action,
    e.kind === "added" ? "(added)" : e.sha.slice(0, 12),
    e.refs.join(",") || "-",
    formatBytes(e.bytes),
    formatTimestamp(e.lastUsed),
    e.server || "-",
  ]);
  return textTable([["ACTION", "SHA", "REFS", "SIZE", "LAST USED", "SERVER"], ...rows]);
}

const listJson = (e: CachedAction) => ({
  kind: e.kind,
  action: e.action,
  sha: e.sha || null,
  refs: e.refs,
  bytes: e.bytes,
  lastUsed: new Date(e.lastUsed).toISOString(),
  server: e.server || null,
});

export function registerActions(program: Command): void {
  const actionsDir = () => join(defaultDataDir(), "actions");
  const actions = program
    .command("actions")
    .description("manage the cache of remote actions and reusable workflows");
  actions
    .command("add")
    .description(
      "add owner/repo@ref to the cache from a directory, a local git repository or a git URL (air-gapped machines)",
    )
    .argument("<action>", "owner/repo@ref")
    .requiredOption("--from <dir-or-url>", "where the action's files come from")
    .option("--json", "print {action, dir} on stdout")
    .action(async (spec: string, flags: { from: string; json?: boolean }) => {
      const dest = await addAction(spec, flags.from, actionsDir());
      if (flags.json) process.stdout.write(`${JSON.stringify({ action: spec, dir: dest })}\n`);
      else process.stderr.write(`added ${spec} (${dest})\n`);
    });
  actions
    .command("list")
    .description("list the cached actions: commit, the refs that name it, size and last use")
    .option("--json", "print JSON")
    .action((flags: { json?: boolean }) => {
      const list = listCachedActions(actionsDir());
      process.stdout.write(
        flags.json ? `${JSON.stringify(list.map(listJson), null, 2)}\n` : renderList(list),
      );
    });
  actions
    .command("update")
    .description(
      "resolve the cached refs (tags, branches) of the actions server again and fetch the commits that moved",
    )
    .argument("[repos...]", "only these owner/repo (default: every cached one of the server)")
    .option("--actions-url <url>", "the actions server (env SLIPWAY_ACTIONS_URL; default https://github.com)")
    .option("--json", "print the changes as JSON")
    .action(async (repos: string[], flags: { actionsUrl?: string; json?: boolean }) => {
      const source = actionSource({
        ...(flags.actionsUrl !== undefined
          ? { url: validateActionsUrl(flags.actionsUrl, "--actions-url") }
          : {}),
        offline: false,
      });
      const cache = new ActionCache(actionsDir(), source);
      const server = serverKeyOf(source.url);
      const targets = repos.length
        ? repos.map(repoOf)
        : [
            ...new Map(
              listCachedActions(actionsDir())
                .filter((e) => e.kind === "fetched" && e.server === server)
                .map((e) => {
                  const [owner, repo] = e.action.split("/");
                  return [e.action, { owner, repo }] as const;
                }),
            ).values(),
          ];
      const changes: { action: string; ref: string; from: string; to: string }[] = [];
      for (const t of targets) {
        for (const c of await cache.update(t)) changes.push({ action: `${t.owner}/${t.repo}`, ...c });
      }
      if (flags.json) process.stdout.write(`${JSON.stringify(changes, null, 2)}\n`);
      else
        for (const c of changes)
          process.stdout.write(`${c.action}@${c.ref}: ${c.from.slice(0, 12)} -> ${c.to.slice(0, 12)}\n`);
      process.stderr.write(
        `${targets.length} repositories checked on ${cache.server}, ${changes.length} refs moved\n`,
      );
    });
  yesOption(
    actions
      .command("prune")
      .description(
        "remove cached commits no ref names any more and entries unused for --older-than days (and dead fetches' temp dirs)",
      )
      .option("--older-than <days>", "remove entries unused for this many days", "30")
      .option("-n, --dry-run", "only list what would be removed")
      .option("--json", "print what is (or would be) removed as JSON"),
  ).action(async (flags: { olderThan: string; dryRun?: boolean; yes?: boolean; json?: boolean }) => {
    const days = Number(flags.olderThan);
    if (!(Number.isFinite(days) && days >= 0))
      throw new UserError(`--older-than must be a number of days (0 or more), got '${flags.olderThan}'`);
    const candidates = pruneCandidates(actionsDir(), days * 86_400_000);
    const bytes = candidates.reduce((n, c) => n + c.entry.bytes, 0);
    const lines = candidates.map(
      (c) =>
        `${c.entry.action}@${c.entry.sha.slice(0, 12) || c.entry.refs[0]} (${formatBytes(c.entry.bytes)}): ${c.why}`,
    );
    const report = () =>
      flags.json
        ? process.stdout.write(
            `${JSON.stringify({ removed: candidates.map((c) => ({ ...listJson(c.entry), why: c.why })), bytes, dryRun: !!flags.dryRun }, null, 2)}\n`,
          )
        : process.stdout.write(lines.map((l) => `${l}\n`).join(""));
    if (flags.dryRun) {
      report();
      process.stderr.write(`would remove ${candidates.length} entries, ${formatBytes(bytes)}\n`);
      return;
    }
    if (candidates.length)
      await confirm(`Remove ${candidates.length} cached actions (${formatBytes(bytes)})?`, flags);
    prune(actionsDir(), candidates);
    report();
    process.stderr.write(`removed ${candidates.length} entries, ${formatBytes(bytes)}\n`);
  });
  yesOption(
    actions
      .command("rm")
      .description("remove an action added with `actions add` (asks first; --yes when not on a terminal)")
      .argument("<action>", "owner/repo@ref")
      .option("--json", "print {action, removed} on stdout"),
  ).action(async (spec: string, flags: ConfirmFlags & { json?: boolean }) => {
    const ref = parseRemoteRef(spec);
    if (!ref) throw new UserError(`'${spec}' is not an action reference of the form owner/repo@ref`);
    const dir = remoteActionDir(actionsDir(), ref);
    if (!existsSync(dir)) throw new UserError(`${spec} is not in the cache`);
    await confirm(`remove ${spec} from the action cache?`, flags);
    rmSync(dir, { recursive: true, force: true });
    if (flags.json) process.stdout.write(`${JSON.stringify({ action: spec, removed: true })}\n`);
    else process.stderr.write(`removed ${spec}\n`);
  });
}
