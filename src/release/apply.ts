// Applying a release plan: an annotated tag on the planned commit, pushed (that tag only) when asked.
// A tag is never moved or overwritten: one that exists locally or on the remote is an error, checked
// before anything is created; a failed push keeps the local tag and says so.
import { OperationError, UserError } from "../lib/errors.js";
import { gitResult } from "../lib/git.js";
import { isValidTagName, type ReleasePlan } from "./plan.js";

export type ApplyReleaseOptions = {
  /** Push the tag to the remote after creating it. */
  push?: boolean;
  /** The remote to push to (default origin). */
  remote?: string;
  signal?: AbortSignal;
};

export type ApplyReleaseResult = {
  /** null when the plan has nothing to release. */
  tag: string | null;
  created: boolean;
  pushed: boolean;
};

/** The git commands of a release, as argument arrays (nothing runs). */
export function releaseCommands(
  plan: Pick<ReleasePlan, "tag" | "sha" | "changelog">,
  remote = "origin",
): { tag: string[]; push: string[] } | null {
  if (plan.tag === null) return null;
  const message = ["-m", `Release ${plan.tag}`];
  if (plan.changelog.trim() !== "") message.push("-m", plan.changelog.trim());
  return {
    // `whitespace`, not the default `strip`: the changelog's `### Features` lines are not comments.
    tag: ["tag", "--annotate", "--cleanup=whitespace", ...message, plan.tag, plan.sha],
    push: ["push", "--porcelain", remote, `refs/tags/${plan.tag}:refs/tags/${plan.tag}`],
  };
}

function gitError(r: { stderr: string; stdout: string }): string {
  return (r.stderr.trim() || r.stdout.trim()).split("\n").slice(-3).join("\n");
}

export async function applyRelease(
  repoDir: string,
  plan: ReleasePlan,
  opts: ApplyReleaseOptions = {},
): Promise<ApplyReleaseResult> {
  const remote = opts.remote ?? "origin";
  // git takes an argument starting with '-' for an option, wherever it stands.
  if (remote.startsWith("-"))
    throw new UserError(`invalid remote ${JSON.stringify(remote)}: it starts with '-'`);
  const commands = releaseCommands(plan, remote);
  if (commands === null || plan.tag === null) return { tag: null, created: false, pushed: false };
  const { tag } = plan;
  const { signal } = opts;
  if (!isValidTagName(tag)) throw new OperationError(`'${tag}' is not a valid git tag name`);

  const local = await gitResult(repoDir, ["rev-parse", "--verify", "--quiet", `refs/tags/${tag}^{commit}`], {
    signal,
  });
  if (local.exitCode === 0)
    throw new OperationError(
      `tag ${tag} already exists (on ${local.stdout.trim().slice(0, 7)}); slipway never moves or overwrites a tag`,
    );
  if (opts.push) {
    const r = await gitResult(repoDir, ["ls-remote", "--tags", remote, `refs/tags/${tag}`], { signal });
    if (r.exitCode !== 0)
      throw new OperationError(
        `cannot check for tag ${tag} on ${remote}; nothing was created:\n${gitError(r)}`,
      );
    if (r.stdout.trim() !== "")
      throw new OperationError(
        `tag ${tag} already exists on ${remote}; slipway never moves or overwrites a tag`,
      );
  }

  // A tagger is needed; a CI workspace may have no identity configured.
  const ident = await gitResult(repoDir, ["var", "GIT_COMMITTER_IDENT"], { signal });
  const args =
    ident.exitCode === 0
      ? commands.tag
      : ["-c", "user.name=slipway", "-c", "user.email=slipway@localhost", ...commands.tag];
  const created = await gitResult(repoDir, args, { signal });
  if (created.exitCode !== 0) throw new OperationError(`cannot create tag ${tag}:\n${gitError(created)}`);
  if (!opts.push) return { tag, created: true, pushed: false };

  const pushed = await gitResult(repoDir, commands.push, { signal });
  if (pushed.exitCode !== 0)
    throw new OperationError(
      `tag ${tag} was created locally, but pushing it to ${remote} failed:\n${gitError(pushed)}\n` +
        `The local tag is kept: push it with 'git push ${remote} refs/tags/${tag}' or delete it with 'git tag -d ${tag}'.`,
    );
  return { tag, created: true, pushed: true };
}
