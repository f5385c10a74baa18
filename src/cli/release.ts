// `slipway release next` (until this release also `slipway version next`): the next release of a repository (version, tag, changelog), and with --tag or
// --push the annotated tag itself. stdout: the tag (or one JSON document with --json); stderr: the rest.
import { resolve } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import {
  type ApplyReleaseResult,
  applyRelease,
  defaultTemplate,
  parseMarkers,
  planRelease,
  type ReleasePlan,
  readReleaseInputs,
  summarizePlan,
} from "../release/index.js";

export type VersionFlags = {
  directory?: string;
  template?: string;
  prTitle?: string;
  initial?: string;
  prerelease?: string;
  markers?: string;
  repoUrl?: string;
  eventpath?: string;
  tag?: boolean;
  push?: boolean;
  json?: boolean;
};

export type VersionIo = { stdout(s: string): void; stderr(s: string): void };

const processIo: VersionIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

/**
 * Plans the release of `flags.directory` and prints it; creates (and pushes) the tag when asked.
 * Throws UserError for bad input (exit 2) and OperationError when tagging or pushing fails (exit 1).
 */
export async function runVersionCommand(
  flags: VersionFlags,
  io: VersionIo = processIo,
): Promise<{ plan: ReleasePlan; applied: ApplyReleaseResult }> {
  const dir = resolve(flags.directory ?? ".");
  const input = await readReleaseInputs(dir, {
    template: flags.template ?? defaultTemplate,
    prTitle: flags.prTitle,
    eventPath: flags.eventpath,
    repoUrl: flags.repoUrl,
    markers: flags.markers === undefined ? undefined : parseMarkers(flags.markers),
    initialVersion: flags.initial,
    prerelease: flags.prerelease,
  });
  const plan = planRelease(input);
  for (const w of plan.warnings) io.stderr(`warning: ${w}\n`);

  let applied: ApplyReleaseResult = { tag: plan.tag, created: false, pushed: false };
  if ((flags.tag || flags.push) && plan.tag !== null) {
    applied = await applyRelease(dir, plan, { push: flags.push });
    io.stderr(`created tag ${plan.tag} on ${plan.sha.slice(0, 7)}\n`);
    if (applied.pushed) io.stderr(`pushed tag ${plan.tag} to origin\n`);
  }

  if (flags.json) {
    const { version, tag, previous, bump, changelog, warnings, reasons, sha } = plan;
    const { created, pushed } = applied;
    const doc = { version, tag, previous, bump, changelog, warnings, reasons, sha, created, pushed };
    io.stdout(`${JSON.stringify(doc, null, 2)}\n`);
  } else if (plan.tag === null) {
    io.stderr(`${summarizePlan(plan)}\n`);
  } else {
    io.stdout(`${summarizePlan(plan)}\n`);
  }
  return { plan, applied };
}

export function registerRelease(program: Command): void {
  const release = program.command("release").description("compute release versions, tags and changelogs");
  releaseNextCommand(release.command("next"));
}

/** The options and action of `release next`, also behind the deprecated `version next`. */
export function releaseNextCommand(command: Command): Command {
  return command
    .description("the next version from the latest release tag and what was merged since")
    .option("-C, --directory <dir>", "the repository", ".")
    .option("--template <template>", "tag template: {version}, {sha7}, {sha}, {date}", defaultTemplate)
    .option("--pr-title <title>", "the merged pull request's title (markers like [minor])")
    .option("-e, --eventpath <file>", "a GitHub webhook payload with pull_request.title")
    .option("--initial <version>", "the first release's version when there is no release tag", "0.1.0")
    .option("--prerelease <id>", "make a prerelease (rc, beta, ...)")
    .option("--markers <spec>", "PR title markers, e.g. 'major:[breaking], minor:[feature]'")
    .option("--repo-url <url>", "https://host/owner/name for PR links in the changelog")
    .option("--tag", "create the annotated tag")
    .option("--push", "create the tag and push it to origin")
    .option("--json", "print one JSON document (version, tag, previous, bump, changelog, warnings)")
    .action(async (flags: VersionFlags) => {
      await runVersionCommand(flags);
    }) as unknown as Command;
}
