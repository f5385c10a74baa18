// Releases: the next semver of a repository from its release tags and what was merged since (markers in
// the PR title or conventional commits), a tag named by a template (`v{version}`, `v{version}-{sha7}`),
// and a changelog grouped by type. `planRelease` is pure (tags and commits in, plan out); `readReleaseInputs`
// reads those inputs from git; `applyRelease` creates the annotated tag and pushes it. Invariants: a tag
// is never moved, overwritten or deleted (an existing one is an error, locally or on the remote, checked
// before anything is created); tags that do not parse through the template are not releases; the
// previous release is the highest semver reachable from the commit, not the newest tag.
export { type ApplyReleaseOptions, type ApplyReleaseResult, applyRelease, releaseCommands } from "./apply.js";
export { type ReadReleaseOptions, readReleaseInputs, webUrlOfRemote } from "./git.js";
export {
  type Bump,
  defaultInitialVersion,
  defaultMarkers,
  defaultTemplate,
  describeCommit,
  findPreviousRelease,
  isValidTagName,
  type Markers,
  parseMarkers,
  parseTagTemplate,
  planRelease,
  type ReleaseCommit,
  type ReleaseInput,
  type ReleasePlan,
  summarizePlan,
  type TagTemplate,
  type TagVersion,
} from "./plan.js";
