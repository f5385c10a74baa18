// What GitHub's runner gives every step of a job without being asked: the default GITHUB_* and RUNNER_*
// variables and the `runner` context, made from the github context and the job's directories. Plain
// functions of their inputs, kept apart from job-state.ts, which holds what changes while the job runs.
import type { Json } from "../expressions/index.js";
import type { JobDirs } from "./job-dirs.js";

type Paths = Pick<JobDirs, "dir" | "workspace" | "temp" | "toolCache" | "eventPath">;

const runnerArch = () => (process.arch === "arm64" ? "ARM64" : "X64");

/** The `runner` context. */
export function runnerContextOf(paths: Paths, verbose: boolean): Record<string, Json> {
  return {
    os: "Linux",
    arch: runnerArch(),
    name: "slipway",
    environment: "self-hosted",
    temp: paths.temp,
    tool_cache: paths.toolCache,
    workspace: paths.dir,
    debug: verbose ? "1" : "",
  };
}

/** The default variables GitHub sets for every step, from the job's github context `g`. */
export function defaultStepEnv(
  g: Record<string, Json>,
  jobId: string,
  paths: Paths,
  verbose: boolean,
): Record<string, string> {
  const s = (v: Json | undefined) => (v === undefined || v === null ? "" : String(v));
  return {
    CI: "true",
    GITHUB_ACTIONS: "true",
    GITHUB_ACTOR: s(g.actor),
    GITHUB_ACTOR_ID: s(g.actor_id),
    GITHUB_API_URL: s(g.api_url),
    GITHUB_BASE_REF: s(g.base_ref),
    GITHUB_EVENT_NAME: s(g.event_name),
    GITHUB_EVENT_PATH: paths.eventPath,
    GITHUB_GRAPHQL_URL: s(g.graphql_url),
    GITHUB_HEAD_REF: s(g.head_ref),
    GITHUB_JOB: jobId,
    GITHUB_REF: s(g.ref),
    GITHUB_REF_NAME: s(g.ref_name),
    GITHUB_REF_PROTECTED: "false",
    GITHUB_REF_TYPE: s(g.ref_type),
    GITHUB_REPOSITORY: s(g.repository),
    GITHUB_REPOSITORY_ID: s(g.repository_id),
    GITHUB_REPOSITORY_OWNER: s(g.repository_owner),
    GITHUB_REPOSITORY_OWNER_ID: s(g.repository_owner_id),
    GITHUB_RETENTION_DAYS: s(g.retention_days),
    GITHUB_RUN_ATTEMPT: s(g.run_attempt),
    GITHUB_RUN_ID: s(g.run_id),
    GITHUB_RUN_NUMBER: s(g.run_number),
    GITHUB_SERVER_URL: s(g.server_url),
    GITHUB_SHA: s(g.sha),
    GITHUB_TRIGGERING_ACTOR: s(g.triggering_actor),
    GITHUB_WORKFLOW: s(g.workflow),
    GITHUB_WORKFLOW_REF: s(g.workflow_ref),
    GITHUB_WORKFLOW_SHA: s(g.workflow_sha),
    GITHUB_WORKSPACE: paths.workspace,
    RUNNER_ARCH: runnerArch(),
    RUNNER_ENVIRONMENT: "self-hosted",
    RUNNER_NAME: "slipway",
    RUNNER_OS: "Linux",
    RUNNER_TEMP: paths.temp,
    RUNNER_TOOL_CACHE: paths.toolCache,
    RUNNER_WORKSPACE: paths.dir,
    ...(verbose ? { RUNNER_DEBUG: "1" } : {}),
  };
}
