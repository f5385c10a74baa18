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
import { ServerArtifacts } from "./artifacts.js";

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
