// Record files of process instances (`<stateDir>/process/<app>/<env>/<id>.json`), from which a restarted
// slipway re-adopts what an earlier one started. Written 0600 and replaced, never rewritten in place.
import { randomBytes } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { UserError } from "../../../lib/errors.js";
import type { InstanceLabels } from "../../types.js";

/** What the record file of an instance holds. */
export type ProcessRecord = {
  id: string;
  labels: InstanceLabels;
  pid: number;
  pgid: number;
  /** Field 22 of /proc/<pid>/stat when it started ("" where there is no /proc). */
  procStart: string;
  port?: number;
  cwd: string;
  command: string[];
  startedAt: number;
  logPath: string;
  /** The pid of the instance's log writer (process/log-writer.ts), when it has one. */
  logWriterPid?: number;
  /**
   * The names of the instance's environment variables, so that exec runs beside it with the same values
   * (read back from the running instance); never the values.
   */
  envNames: string[];
  /** Written when the slipway that spawned it saw it exit. */
  exitCode?: number;
};

export const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** App, environment and instance names become path components: nothing that could leave the directory. */
export function checkName(kind: string, value: string): string {
  if (!namePattern.test(value) || value.includes(".."))
    throw new UserError(
      `${kind} '${value}' cannot name a file: use letters, digits, '.', '_' and '-' (not starting with '.' or '-')`,
    );
  return value;
}

export const recordPath = (dir: string, id: string) => join(dir, `${id}.json`);

export async function writeRecord(dir: string, record: ProcessRecord): Promise<void> {
  const path = recordPath(dir, record.id);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(tmp, JSON.stringify(record, null, 2), { mode: 0o600 });
  await rename(tmp, path);
}

export async function readRecord(path: string): Promise<ProcessRecord | undefined> {
  let record: ProcessRecord & { env?: Record<string, string> };
  try {
    record = JSON.parse(await readFile(path, "utf8"));
  } catch {
    return undefined;
  }
  if (record.env) {
    // A record from before records kept names only: its values (secrets) are scrubbed from the disk.
    const { env, ...rest } = record;
    record = { ...rest, envNames: Object.keys(env) };
    await writeRecord(dirname(path), record).catch(() => {});
  }
  return { ...record, envNames: record.envNames ?? [] };
}
