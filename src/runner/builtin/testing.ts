// Test support for built-in actions: a real BuiltinActionContext over temporary directories that records
// what the action logs, warns, outputs and saves, so tests can run main and post like the job executor does.

import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { BuiltinActionContext } from "./types.js";

export type Recorder = {
  logs: string[];
  warnings: string[];
  outputs: Record<string, string>;
  saved: Record<string, string>;
};

export type ContextOptions = Partial<
  Omit<BuiltinActionContext, "log" | "warning" | "setOutput" | "saveState">
>;

/** A context whose callbacks record into the returned recorder; unset fields get test defaults. */
export function makeContext(options: ContextOptions): { ctx: BuiltinActionContext; rec: Recorder } {
  const rec: Recorder = { logs: [], warnings: [], outputs: {}, saved: {} };
  const ctx: BuiltinActionContext = {
    inputs: {},
    workspace: "/nonexistent/workspace",
    dataDir: "/nonexistent/data",
    repository: "octo/repo",
    runId: "1",
    ref: "refs/heads/main",
    defaultBranch: "main",
    home: "/nonexistent/home",
    state: {},
    jobStatus: "success",
    signal: new AbortController().signal,
    ...options,
    log: (line) => rec.logs.push(line),
    warning: (message) => rec.warnings.push(message),
    setOutput: (name, value) => {
      rec.outputs[name] = value;
    },
    saveState: (name, value) => {
      rec.saved[name] = value;
    },
  };
  return { ctx, rec };
}

/** A temporary directory and its removal, for beforeEach/afterEach. */
export async function makeTempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `slipway-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
