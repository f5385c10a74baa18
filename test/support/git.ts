// Real git repositories for tests: isolated from the machine's git configuration, with a fixed identity and
// no signing. The code lives in src/release/testing.ts, where the release tests (and a runner test) took it
// from first; tests of other domains take it from here.
export { isolatedGitEnv, makeRepo, makeTempDir, repoAt, type TestRepo } from "../../src/release/testing.js";
