// `slipway registry tags|latest|prune <repository>`: read and tidy a registry (Docker Registry API v2).
// Credentials come from the docker config (`docker login`) or SLIPWAY_REGISTRY_USERNAME/_PASSWORD (never argv).
import type { Command } from "@commander-js/extra-typings";
import {
  type Credentials,
  latestTag,
  type OrderBy,
  type PruneResult,
  pruneRepository,
  registryFor,
} from "../images/index.js";
import { OperationError, UserError } from "../lib/errors.js";
import { type CommandIo, processIo, withInterrupt } from "./build.js";
import { collect } from "./options.js";
import { type ConfirmIo, confirm, processConfirmIo } from "./confirm.js";

export type RegistryFlags = { json?: boolean; insecure: string[] };
export type LatestFlags = RegistryFlags & { match?: string; by: string; ref?: boolean };
export type PruneFlags = RegistryFlags & {
  keep: string;
  protect: string[];
  match?: string;
  by: string;
  dryRun?: boolean;
  yes?: boolean;
};

function credentialsFromEnv(env: NodeJS.ProcessEnv): Credentials | undefined {
  const username = env.SLIPWAY_REGISTRY_USERNAME;
  const password = env.SLIPWAY_REGISTRY_PASSWORD;
  if (username && password) return { username, password };
  if (username || password)
    throw new UserError("set both SLIPWAY_REGISTRY_USERNAME and SLIPWAY_REGISTRY_PASSWORD, or neither");
  return undefined;
}

function open(repository: string, flags: RegistryFlags, io: CommandIo) {
  const insecure = [
    ...flags.insecure.flatMap((s) => s.split(",")),
    ...(io.env.SLIPWAY_INSECURE_REGISTRIES ?? "").split(","),
  ].filter(Boolean);
  const r = registryFor(repository, { insecure, credentials: credentialsFromEnv(io.env), env: io.env });
  if (r.tag) throw new UserError(`'${repository}': give a repository without a tag`);
  return r;
}

function orderBy(value: string): OrderBy {
  if (value !== "semver" && value !== "time")
    throw new UserError(`--by must be semver or time, got '${value}'`);
  return value;
}

export async function runRegistryTags(repository: string, flags: RegistryFlags, io: CommandIo = processIo()) {
  const { client, repository: repo } = open(repository, flags, io);
  const tags = (await client.tags(repo, { signal: io.signal })).sort();
  io.stdout(
    flags.json ? `${JSON.stringify({ repository, tags }, null, 2)}\n` : tags.map((t) => `${t}\n`).join(""),
  );
  return 0;
}

export async function runRegistryLatest(repository: string, flags: LatestFlags, io: CommandIo = processIo()) {
  const { client, repository: repo } = open(repository, flags, io);
  const by = orderBy(flags.by);
  const latest = await latestTag(client, repo, { match: flags.match, by, signal: io.signal });
  if (!latest)
    throw new OperationError(
      `no tag of ${repository}${flags.match ? ` matches '${flags.match}'` : ""}${by === "semver" ? " and carries a version (try --by time)" : ""}`,
    );
  const reference = `${repository}:${latest.tag}`;
  if (flags.json) io.stdout(`${JSON.stringify({ repository, ...latest, reference }, null, 2)}\n`);
  else io.stdout(`${flags.ref ? reference : latest.tag}\n`);
  return 0;
}

export function renderPrune(repository: string, r: PruneResult): string {
  const lines: string[] = [];
  const verb = r.dryRun ? "would delete" : "deleted";
  for (const d of r.delete) lines.push(`${verb} ${repository}@${d.digest} (${d.tags.join(", ")})`);
  for (const s of r.spared) lines.push(`kept ${s.tags.join(", ")}: same image as ${s.heldBy.join(", ")}`);
  lines.push(`kept newest: ${r.kept.join(", ") || "-"}; protected: ${r.protected.join(", ") || "-"}`);
  return `${lines.join("\n")}\n`;
}

export async function runRegistryPrune(
  repository: string,
  flags: PruneFlags,
  io: CommandIo = processIo(),
  confirmIo: ConfirmIo = processConfirmIo(),
) {
  const { client, repository: repo } = open(repository, flags, io);
  const keep = Number(flags.keep);
  if (!Number.isInteger(keep) || keep < 0)
    throw new UserError(`--keep must be a whole number ≥ 0, got '${flags.keep}'`);
  if (!flags.dryRun)
    await confirm(
      `Delete the tags of ${repository} beyond the newest ${keep} (see them first with --dry-run)?`,
      flags,
      confirmIo,
    );
  const result = await pruneRepository(client, repo, {
    keep,
    protect: flags.protect.flatMap((p) => p.split(",")).filter(Boolean),
    match: flags.match,
    by: orderBy(flags.by),
    dryRun: flags.dryRun,
    signal: io.signal,
    onLog: (l) => io.stderr(`slipway: ${l}\n`),
  });
  io.stdout(
    flags.json ? `${JSON.stringify({ repository, ...result }, null, 2)}\n` : renderPrune(repository, result),
  );
  return 0;
}

export function registerRegistry(program: Command): void {
  const registry = program
    .command("registry")
    .description("read and tidy an image registry (Docker Registry API v2)");
  const insecureHelp = "speak plain http to this registry host (loopback hosts always are)";

  registry
    .command("tags")
    .description("list the tags of a repository (host/name)")
    .argument("<repository>", "e.g. registry.example.com:5000/team/app")
    .option("--json", "print JSON on stdout")
    .option("--insecure <host>", insecureHelp, collect, [] as string[])
    .action(async (repository: string, flags: RegistryFlags) => {
      process.exitCode = await withInterrupt((signal) =>
        runRegistryTags(repository, flags, { ...processIo(), signal }),
      );
    });

  registry
    .command("latest")
    .description("print the newest tag of a repository, optionally among tags matching a glob")
    .argument("<repository>", "e.g. registry.example.com:5000/team/app")
    .option("--match <glob>", "only tags matching this glob, e.g. '*-main'")
    .option("--by <order>", "semver (the version in the tag) or time (image creation)", "semver")
    .option("--ref", "print repository:tag instead of the tag")
    .option("--json", "print JSON on stdout")
    .option("--insecure <host>", insecureHelp, collect, [] as string[])
    .action(async (repository: string, flags: LatestFlags) => {
      process.exitCode = await withInterrupt((signal) =>
        runRegistryLatest(repository, flags, { ...processIo(), signal }),
      );
    });

  registry
    .command("prune")
    .description(
      "delete old tags by digest, keeping the newest N and never an image a protected tag points to",
    )
    .argument("<repository>", "e.g. registry.example.com:5000/team/app")
    .requiredOption("--keep <n>", "how many of the newest tags to keep")
    .option(
      "--protect <tags>",
      "tags (globs, comma-separated or repeated) never deleted",
      collect,
      [] as string[],
    )
    .option("--match <glob>", "only prune tags matching this glob")
    .option("--by <order>", "time (image creation) or semver", "time")
    .option("-n, --dry-run", "say what would be deleted without deleting")
    .option("-y, --yes", "do not ask for confirmation (needed when not on a terminal)")
    .option("--json", "print JSON on stdout")
    .option("--insecure <host>", insecureHelp, collect, [] as string[])
    .action(async (repository: string, flags: PruneFlags) => {
      process.exitCode = await withInterrupt((signal) =>
        runRegistryPrune(repository, flags, { ...processIo(), signal }),
      );
    });
}
