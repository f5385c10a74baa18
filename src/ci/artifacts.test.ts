// The server's artifact store on SQLite and PostgreSQL: names that would become paths elsewhere are
// refused, a hostile archive stores nothing, retention is clamped to the server's, and the sweep
// deletes expired artifacts' files and rows.
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import tar from "tar-stream";
import { describe, expect, it } from "vitest";
import { testBackends, useStore } from "../../test/support/store.js";
import { insertTestJob } from "../store/testing.js";
import { artifactRunRefusal, ServerArtifacts } from "./artifacts.js";

const backends = await testBackends();

function archive(
  entries: { name: string; body?: string; type?: "file" | "symlink"; linkname?: string }[],
): Readable {
  const pack = tar.pack();
  for (const e of entries)
    pack.entry(
      { name: e.name, type: e.type ?? "file", ...(e.linkname ? { linkname: e.linkname } : {}) },
      e.body ?? "",
    );
  pack.finalize();
  return pack;
}

describe.each(backends)("server artifacts on %s", (backend) => {
  const ctx = useStore(backend);
  const dataDir = mkdtempSync(join(tmpdir(), "slipway-artifacts-"));
  const root = join(dataDir, "artifacts");

  const newJob = () => insertTestJob(ctx.store);
  /** Directories below the store other than the staging one, and what staging holds. */
  const onDisk = () => ({
    artifacts: existsSync(root) ? readdirSync(root).filter((n) => n !== ".tmp") : [],
    staging: existsSync(join(root, ".tmp")) ? readdirSync(join(root, ".tmp")) : [],
  });

  it("refuses names that are paths or hold NUL, before reading anything", async () => {
    const store = new ServerArtifacts(ctx.store, dataDir);
    const job = await newJob();
    const before = onDisk();
    for (const name of ["../../etc/x", "a/b", "nul\0name", "..", ".", "back\\slash", ""])
      await expect(
        store.upload(
          { runId: job.runId, jobRowId: job.id, name, overwrite: false },
          archive([{ name: "f", body: "x" }]),
        ),
      ).rejects.toThrow(/artifact name/);
    expect(onDisk()).toEqual(before);
    expect(await store.list(job.runId)).toEqual([]);
  });

  it("stores nothing from a hostile archive", async () => {
    const store = new ServerArtifacts(ctx.store, dataDir);
    const job = await newJob();
    const before = onDisk();
    await expect(
      store.upload(
        { runId: job.runId, jobRowId: job.id, name: "evil", overwrite: false },
        archive([
          { name: "ok.txt", body: "fine" },
          { name: "../../escape", body: "x" },
        ]),
      ),
    ).rejects.toThrow(/refusing archive entry/);
    await expect(
      store.upload(
        { runId: job.runId, jobRowId: job.id, name: "evil", overwrite: false },
        archive([{ name: "link", type: "symlink", linkname: "/etc" }]),
      ),
    ).rejects.toThrow(/a symlink, not a file/);
    expect(existsSync(join(dataDir, "escape"))).toBe(false);
    expect(onDisk()).toEqual(before);
    expect(await store.list(job.runId)).toEqual([]);
  });

  it("clamps retention to the server's, replaces on overwrite, and sweeps expired artifacts", async () => {
    const store = new ServerArtifacts(ctx.store, dataDir, { retentionDays: 5 });
    const job = await newJob();
    const t0 = Date.now();
    const a = await store.upload(
      { runId: job.runId, jobRowId: job.id, name: "dist", retentionDays: 30, overwrite: false },
      archive([{ name: "a.txt", body: "one" }]),
      t0,
    );
    expect(a.expiresAt - a.createdAt).toBe(5 * 86_400_000);
    await expect(
      store.upload({ runId: job.runId, jobRowId: job.id, name: "dist", overwrite: false }, archive([]), t0),
    ).rejects.toThrow(/already exists in this run/);
    const b = await store.upload(
      { runId: job.runId, jobRowId: job.id, name: "dist", retentionDays: 1, overwrite: true },
      archive([{ name: "a.txt", body: "two!" }]),
      t0,
    );
    expect(b).toMatchObject({ name: "dist", size: 4, files: 1 });
    expect(b.expiresAt - b.createdAt).toBe(86_400_000);
    // The replaced one's files went with it.
    expect(existsSync(join(root, String(a.id)))).toBe(false);
    expect(existsSync(join(root, String(b.id), "files", "a.txt"))).toBe(true);
    expect(await store.sweep(t0 + 3_600_000)).toBe(0);
    expect((await store.list(job.runId)).map((x) => x.id)).toEqual([b.id]);
    expect(await store.sweep(t0 + 86_400_000 + 1)).toBeGreaterThanOrEqual(1);
    expect(existsSync(join(root, String(b.id)))).toBe(false);
    expect(await ctx.store.artifacts.knownIds([b.id])).toEqual(new Set());
    await expect(store.open(job.runId, "dist")).rejects.toThrow(/has no artifact named "dist"/);
  });
});

describe("which runs' artifacts a job may download (run-id)", () => {
  const pr = (number: number) => ({ number, title: "t", author: "a", url: "u" });
  const push = { id: 1, repoId: 1, fork: false, eventName: "push", pullRequest: null };
  const release = { id: 2, repoId: 1, fork: false, eventName: "release", pullRequest: null };
  const forkPr7 = { id: 3, repoId: 1, fork: true, eventName: "pull_request", pullRequest: pr(7) };
  const forkPr7Again = { id: 4, repoId: 1, fork: true, eventName: "pull_request", pullRequest: pr(7) };
  const forkPr8 = { id: 5, repoId: 1, fork: true, eventName: "pull_request", pullRequest: pr(8) };
  const target7 = { id: 6, repoId: 1, fork: true, eventName: "pull_request_target", pullRequest: pr(7) };
  const ownPr = { id: 7, repoId: 1, fork: false, eventName: "pull_request", pullRequest: pr(9) };
  const otherRepo = { id: 8, repoId: 2, fork: false, eventName: "push", pullRequest: null };

  it("a trusted run reads any run of its repository, a fork's too; never another repository's", () => {
    for (const own of [push, release, target7, ownPr])
      for (const other of [push, release, forkPr7, forkPr8, target7, ownPr])
        expect(artifactRunRefusal(own, other), `${own.id} → ${other.id}`).toBeUndefined();
    expect(artifactRunRefusal(push, otherRepo)).toBe(
      "run 8 is another repository's: a job downloads artifacts only of its own repository's runs (slipway has no token of another repository for github-token to stand for)",
    );
  });

  it("a fork's pull request reads only its own pull request's fork runs: not the base's, another fork's, nor pull_request_target's", () => {
    expect(artifactRunRefusal(forkPr7, forkPr7Again)).toBeUndefined();
    for (const other of [push, release, forkPr8, target7, ownPr, otherRepo])
      expect(artifactRunRefusal(forkPr7, other), `→ ${other.id}`).toMatch(
        other === otherRepo
          ? /another repository's/
          : /^run \d+ is not a run of this fork's pull request: .*never of runs that had the repository's secrets$/,
      );
  });
});
