// The server's artifact store: what actions/upload-artifact sends from a server run (by the server's
// own runner or a remote one over the runner protocol), kept under `<data dir>/artifacts/<id>/files/`
// (directories 0700, files 0600) with a row in the store saying what it is. An upload arrives as a tar
// stream, is unpacked into a private staging directory (lib/tar: no entry can leave it), counted
// against the run's size cap as it arrives, and only then takes its name: an upload that fails, or is
// over the cap, leaves nothing behind. Expired artifacts are deleted by the background sweep.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { ConflictError, NotFoundError, RefusalError, UserError } from "../lib/errors.js";
import { ArchiveTooLargeError, extractTar, packDirectory } from "../lib/tar.js";
import { zipDirectory } from "../lib/zip.js";
import { type ServerArtifact, validateArtifactName } from "../runner/index.js";
import type { Artifact, Run, Store } from "../store/index.js";
import { runsForkCode } from "./forks.js";

export const defaultArtifactRetentionDays = 90;
export const defaultMaxRunArtifactBytes = 10 * 1024 ** 3;
/** An upload whose writer has not finished after this long died (a crash, a runner gone). */
const stalePendingMs = 6 * 3_600_000;
const maxFilesPerArtifact = 100_000;

export type ArtifactSettings = {
  /** Days an artifact is kept, and the most an upload's `retention-days` may ask (default 90). */
  retentionDays?: number;
  /** Bytes all of a run's artifacts may hold together (default 10 GiB). */
  maxRunBytes?: number;
};

export function artifactView(a: Artifact): ServerArtifact {
  return {
    id: a.id,
    name: a.name,
    size: a.size,
    files: a.files,
    digest: a.digest,
    createdAt: a.createdAt,
    expiresAt: a.expiresAt,
    url: `/api/v1/runs/${a.runId}/artifacts/${encodeURIComponent(a.name)}`,
  };
}

/**
 * Why a job of run `own` may not read the artifacts of run `other` (download-artifact's `run-id`), or
 * undefined when it may. Never another repository's run: slipway holds no token of that repository for
 * the step's `github-token` to stand for, and its artifacts may hold what its workflows keep from this
 * one. A fork pull request's own workflow reads only the runs of the same pull request's own workflow:
 * GitHub lets anyone read a public repository's artifacts, but a slipway repository may be private, and
 * the artifacts of its trusted runs (pushes, releases, pull_request_target) were made with its secrets;
 * the fork's code gets none of those, so nothing made from them either. The other way round is allowed
 * (a trusted run may read a fork's artifacts, as a workflow_run job does on GitHub): it must treat them
 * as the fork's output, untrusted.
 */
export function artifactRunRefusal(
  own: Pick<Run, "id" | "repoId" | "fork" | "eventName" | "pullRequest">,
  other: Pick<Run, "id" | "repoId" | "fork" | "eventName" | "pullRequest">,
): string | undefined {
  if (other.repoId !== own.repoId)
    return `run ${other.id} is another repository's: a job downloads artifacts only of its own repository's runs (slipway has no token of another repository for github-token to stand for)`;
  if (!runsForkCode(own)) return undefined;
  const samePullRequest =
    runsForkCode(other) && own.pullRequest !== null && other.pullRequest?.number === own.pullRequest.number;
  if (samePullRequest) return undefined;
  return `run ${other.id} is not a run of this fork's pull request: a pull request from a fork downloads artifacts only of its own pull request's runs, never of runs that had the repository's secrets`;
}

export class ServerArtifacts {
  private readonly store: Store;
  private readonly root: string;
  readonly retentionDays: number;
  readonly maxRunBytes: number;

  constructor(store: Store, dataDir: string, settings: ArtifactSettings = {}) {
    this.store = store;
    this.root = join(dataDir, "artifacts");
    this.retentionDays = settings.retentionDays ?? defaultArtifactRetentionDays;
    this.maxRunBytes = settings.maxRunBytes ?? defaultMaxRunArtifactBytes;
  }

  private filesDir(id: number): string {
    return join(this.root, String(id), "files");
  }

  /**
   * Stores an upload of the run's job. Refused with a 413 over the run's cap, a 409 when the name is
   * taken (and `overwrite` is not set), a 400 for a bad name or archive; in every case nothing is kept.
   */
  async upload(
    u: { runId: number; jobRowId: number; name: string; retentionDays?: number; overwrite: boolean },
    tar: Readable,
    now = Date.now(),
  ): Promise<ServerArtifact> {
    validateArtifactName(u.name);
    if (u.retentionDays !== undefined && (!Number.isInteger(u.retentionDays) || u.retentionDays < 1))
      throw new UserError(`retention-days must be a whole number of days above 0, got ${u.retentionDays}`);
    const days = Math.min(u.retentionDays ?? this.retentionDays, this.retentionDays);
    const used = await this.store.artifacts.usedBytes(u.runId, now);
    const replaced = u.overwrite ? await this.store.artifacts.get(u.runId, u.name, now) : null;
    const room = Math.max(0, this.maxRunBytes - used + (replaced?.size ?? 0));
    await mkdir(join(this.root, ".tmp"), { recursive: true, mode: 0o700 });
    const staging = join(this.root, ".tmp", `${process.pid}-${randomBytes(8).toString("hex")}`);
    try {
      let extracted: Awaited<ReturnType<typeof extractTar>>;
      try {
        extracted = await extractTar(tar, join(staging, "files"), {
          maxBytes: room,
          maxFiles: maxFilesPerArtifact,
        });
      } catch (err) {
        if (err instanceof ArchiveTooLargeError) throw this.tooLarge(u.name, used);
        throw err;
      }
      // The digest actions/upload-artifact gives: over the sorted `<sha256>  <path>` lines.
      const digest = createHash("sha256");
      for (const f of extracted.files) digest.update(`${f.sha256}  ${f.rel}\n`);
      const begun = await this.store.artifacts.begin(
        {
          runId: u.runId,
          jobRowId: u.jobRowId,
          name: u.name,
          size: extracted.size,
          files: extracted.files.length,
          digest: digest.digest("hex"),
          expiresAt: now + days * 86_400_000,
          maxRunBytes: this.maxRunBytes,
          overwrite: u.overwrite,
        },
        now,
      );
      if (!begun.ok && begun.reason === "exists")
        throw new ConflictError(
          `an artifact named '${u.name}' already exists in this run (set \`overwrite: true\` to replace it)`,
        );
      if (!begun.ok) throw this.tooLarge(u.name, begun.reason === "too-large" ? begun.usedBytes : used);
      try {
        await rename(staging, join(this.root, String(begun.id)));
      } catch (err) {
        await this.store.artifacts.remove(begun.id);
        throw err;
      }
      await this.store.artifacts.finish(begun.id, begun.replaces);
      if (begun.replaces !== null)
        await rm(join(this.root, String(begun.replaces)), { recursive: true, force: true });
      const stored = await this.store.artifacts.get(u.runId, u.name, now);
      if (!stored) throw new Error(`artifact ${begun.id} vanished after it was stored`);
      return artifactView(stored);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  private tooLarge(name: string, used: number): RefusalError {
    return new RefusalError(
      413,
      `artifact '${name}' was not stored: the run's artifacts may hold ${this.maxRunBytes} bytes in all (the server's --max-run-artifacts) and ${used} are used`,
    );
  }

  async list(runId: number): Promise<ServerArtifact[]> {
    return (await this.store.artifacts.list(runId)).map(artifactView);
  }

  /** The artifact and a tar stream of its files; a NotFoundError for no (or an expired) artifact. */
  async open(runId: number, name: string): Promise<{ artifact: ServerArtifact; tar: Readable }> {
    const a = await this.store.artifacts.get(runId, name);
    if (!a)
      throw new NotFoundError(`run ${runId} has no artifact named ${JSON.stringify(name.slice(0, 200))}`);
    return { artifact: artifactView(a), tar: packDirectory(this.filesDir(a.id)) };
  }

  /** The artifact and a zip stream of its files, as GitHub serves one; a NotFoundError as `open`. */
  async openZip(runId: number, name: string): Promise<{ artifact: ServerArtifact; zip: Readable }> {
    const a = await this.store.artifacts.get(runId, name);
    if (!a)
      throw new NotFoundError(`run ${runId} has no artifact named ${JSON.stringify(name.slice(0, 200))}`);
    return { artifact: artifactView(a), zip: zipDirectory(this.filesDir(a.id)) };
  }

  /**
   * Deletes expired artifacts and the leftovers of uploads that died (pending rows, staging
   * directories, directories no row names). Returns how many artifacts went.
   */
  async sweep(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const a of await this.store.artifacts.sweepable(now, stalePendingMs)) {
      // Files first: a row without files would be listed but not downloadable.
      await rm(join(this.root, String(a.id)), { recursive: true, force: true });
      await this.store.artifacts.remove(a.id);
      removed++;
    }
    let names: string[] = [];
    try {
      names = await readdir(this.root);
    } catch {
      return removed;
    }
    const ids = names.filter((n) => /^[1-9]\d*$/.test(n)).map(Number);
    const known = await this.store.artifacts.knownIds(ids);
    const leftovers = [
      ...ids.filter((id) => !known.has(id)).map((id) => join(this.root, String(id))),
      ...(await readdir(join(this.root, ".tmp")).catch(() => [] as string[])).map((n) =>
        join(this.root, ".tmp", n),
      ),
    ];
    for (const dir of leftovers) {
      // Only old ones: a directory this young may belong to an upload finishing right now.
      const st = await stat(dir).catch(() => undefined);
      if (st && now - st.mtimeMs > stalePendingMs) await rm(dir, { recursive: true, force: true });
    }
    return removed;
  }
}
