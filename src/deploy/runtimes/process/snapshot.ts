// Snapshots of an app's directory: instances run from a content-addressed copy, not from the directory
// itself (a workflow's workspace is deleted after the run, and a checkout changes under a running release).
import { createHash } from "node:crypto";
import {
  chmod,
  copyFile,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
} from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export function isWithin(parent: string, child: string): boolean {
  const r = relative(parent, child);
  return r === "" || (!r.startsWith("..") && !isAbsolute(r));
}

/**
 * Top-level entries never copied into a snapshot: version control, slipway's own state, and slipway.yaml
 * itself (the spec is compared service by service; an edit for one service must not roll out the others).
 */
const snapshotSkip = new Set([".git", ".slipway", ".hg", ".svn", "slipway.yaml", "slipway.yml"]);

/**
 * Copies `source` to `<into>/<hash>` unless that snapshot exists. The hash covers every file's relative
 * path, mode and content, except under node_modules, where path, size and mode stand for the content
 * (installed packages are large and change with the lock file anyway).
 */
export async function snapshotDirectory(
  source: string,
  into: string,
  exclude: string[] = [],
): Promise<{ dir: string; hash: string }> {
  // Excluded paths inside the source (relative, "/"-separated); a snapshot never copies itself.
  const skipped = new Set(
    [into, ...exclude]
      .map((p) => relative(source, resolve(p)).split(sep).join("/"))
      .filter((r) => r !== "" && !r.startsWith("..") && !isAbsolute(r)),
  );
  const skip = (r: string) => skipped.has(r) || (!r.includes("/") && snapshotSkip.has(r));
  const h = createHash("sha256");
  // What to copy, found by the same walk that hashes (fs.cp refuses a destination inside the source).
  const items: { r: string; kind: "dir" | "file" | "link"; mode: number; target?: string }[] = [];
  const walk = async (dir: string, rel: string, deps: boolean) => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const abs = join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (skip(r)) continue;
      if (e.isDirectory()) {
        items.push({ r, kind: "dir", mode: (await stat(abs)).mode & 0o777 });
        await walk(abs, r, deps || e.name === "node_modules");
      } else if (e.isSymbolicLink()) {
        const target = await readlink(abs);
        h.update(`L ${r} ${target}\0`);
        items.push({ r, kind: "link", mode: 0, target });
      } else if (e.isFile()) {
        const st = await stat(abs);
        h.update(`F ${r} ${st.mode & 0o777} ${st.size}\0`);
        if (!deps) h.update(await readFile(abs));
        items.push({ r, kind: "file", mode: st.mode & 0o777 });
      }
    }
  };
  await walk(source, "", false);
  const hash = h.digest("hex").slice(0, 32);
  const dir = join(into, hash);
  if (await isDirectory(dir)) return { dir, hash };
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true, mode: 0o700 });
  for (const it of items) {
    const to = join(tmp, it.r);
    if (it.kind === "dir") await mkdir(to, { mode: it.mode | 0o700 });
    else if (it.kind === "link") await symlink(it.target!, to);
    else {
      await copyFile(join(source, it.r), to);
      await chmod(to, it.mode);
    }
  }
  await rename(tmp, dir).catch(async (err: NodeJS.ErrnoException) => {
    // Another deploy made the same snapshot meanwhile: theirs is as good.
    await rm(tmp, { recursive: true, force: true });
    if (!(await isDirectory(dir))) throw err;
  });
  return { dir, hash };
}

/**
 * Removes the snapshots in `<stateDir>/releases/<service>/<hash>` that hold none of the `keep` paths;
 * returns how many went.
 */
export async function pruneSnapshots(stateDir: string, keep: string[]): Promise<number> {
  const base = join(stateDir, "releases");
  let removed = 0;
  for (const service of await readdir(base).catch(() => [] as string[])) {
    for (const name of await readdir(join(base, service)).catch(() => [] as string[])) {
      const dir = join(base, service, name);
      if (keep.some((k) => k === dir || k.startsWith(`${dir}${sep}`))) continue;
      // A snapshot being made right now is left alone.
      if (
        name.includes(".tmp-") &&
        Date.now() - (await stat(dir).catch(() => ({ mtimeMs: 0 }))).mtimeMs < 3_600_000
      )
        continue;
      await rm(dir, { recursive: true, force: true });
      removed++;
    }
  }
  return removed;
}
