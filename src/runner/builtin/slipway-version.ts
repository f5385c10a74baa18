// `uses: slipway/version@v1`: the next release of the job's workspace (a clone made by actions/checkout),
// as step outputs, and with `tag: true` / `push: true` the annotated tag. The workspace's `origin` is the
// repository the run came from, so `push: true` puts the tag there.
//
// Inputs: `template` (default v{version}), `pr-title` (markers such as [minor]; pass
// `${{ github.event.pull_request.title }}` for pull_request events — otherwise the PR title is read from
// a GitHub merge or squash commit), `markers` ('major:[breaking], minor:[feature]'), `initial` (first
// release, default 0.1.0), `prerelease` (rc, beta, ...), `repo-url` (for PR links), `tag`, `push`.
// Outputs: version, tag, previous (tag), previous-version, bump, changelog; version and tag are empty
// when there is nothing to release (bump `none`).
import { UserError } from "../../lib/errors.js";
import { getBooleanInput, getInput } from "./inputs.js";
import type { BuiltinAction } from "./types.js";

export const slipwayVersion: BuiltinAction = {
  async main(ctx) {
    // Pushing a tag uses the server's git credentials: never on a fork's behalf (computing is fine).
    if (ctx.untrusted && getBooleanInput(ctx, "push", false))
      throw new UserError(
        "slipway/version cannot push a tag for a pull request from a fork: its code gets no push access",
      );
    // Loaded on use, like every slipway step.
    const { applyRelease, parseMarkers, planRelease, readReleaseInputs, summarizePlan } = await import(
      "../../release/index.js"
    );
    const markers = getInput(ctx, "markers");
    const input = await readReleaseInputs(ctx.workspace, {
      template: getInput(ctx, "template") || undefined,
      prTitle: getInput(ctx, "pr-title") || undefined,
      markers: markers === "" ? undefined : parseMarkers(markers),
      initialVersion: getInput(ctx, "initial") || undefined,
      prerelease: getInput(ctx, "prerelease") || undefined,
      repoUrl: getInput(ctx, "repo-url") || undefined,
      signal: ctx.signal,
    });
    const push = getBooleanInput(ctx, "push", false);
    const tag = getBooleanInput(ctx, "tag", false) || push;
    const plan = planRelease(input);
    for (const w of plan.warnings) ctx.warning(w);
    ctx.log(summarizePlan(plan));

    ctx.setOutput("version", plan.version ?? "");
    ctx.setOutput("tag", plan.tag ?? "");
    ctx.setOutput("previous", plan.previous?.tag ?? "");
    ctx.setOutput("previous-version", plan.previous?.version ?? "");
    ctx.setOutput("bump", plan.bump);
    ctx.setOutput("changelog", plan.changelog);

    if (tag && plan.tag !== null) {
      const applied = await applyRelease(ctx.workspace, plan, { push, signal: ctx.signal });
      ctx.log(`Created tag ${plan.tag} on ${plan.sha.slice(0, 7)}`);
      if (applied.pushed) ctx.log(`Pushed tag ${plan.tag} to origin`);
    }
  },
};
