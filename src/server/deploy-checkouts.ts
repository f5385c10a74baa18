// The trees the server deploys from: a commit of a registered repository's mirror, extracted once into
// `<dataDir>/deploy-checkouts/<repo>/<sha>` (commits are immutable, so a finished directory is never
// written again). Process-runtime services run from these directories and rollbacks go back to them,
// so a checkout is kept while a recent release of an environment deployed from the repository (the
// serving one among them) refers to it or a deploy is using it; the others are pruned after a deploy.
// A rollback to a release whose checkout was pruned extracts it again from the mirror.
//
// A fetch may meet the CI service's fetch of the same mirror, so it is retried.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { retry } from "../lib/async.js";
import { OperationError, UserError } from "../lib/errors.js";
import { FileTooLargeError, fetchMirror, readFileAt, resolveCommit } from "../lib/git.js";
import type { Release, Store } from "../store/index.js";

const exec = promisify(execFile);
const shaPattern = /^[0-9a-f]{40}$/;
/** Branch, tag, full ref or (abbreviated) commit: what `ref` may be; never an option to git. */
const refPattern = /^(?!-)[A-Za-z0-9._/@+-]+$/;
/** How many of an environment's newest releases keep their checkouts (rollback targets). */
const keptReleases = 5;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export type ResolvedCommit = { sha: string; ref: string };

export class DeployCheckouts {
  readonly root: string;
  /** Checkout directory → deploys using it now (not yet recorded as releases, or still streaming). */
  private readonly inUse = new Map<string, number>();
  private readonly extracting = new Map<string, Promise<string>>();

  constructor(dataDir: string) {
    this.root = join(dataDir, "deploy-checkouts");
  }

  dirOf(repo: string, sha: string): string {
    return join(this.root, repo, sha);
  }

  /**
   * The commit `ref` names in the mirror (a branch, a tag, a full ref or a commit), fetched first unless
   * it is a full commit id the mirror already has. A ref the repository does not have is a UserError.
   */
  async resolveCommit(mirror: string, repo: string, ref: string): Promise<ResolvedCommit> {
    if (!refPattern.test(ref)) throw new UserError(`'ref' is not a branch, tag or commit: '${ref}'`);
    if (!(shaPattern.test(ref) && (await resolveCommit(mirror, ref)))) await this.fetch(mirror);
    const candidates = ref.startsWith("refs/")
      ? [ref]
      : [`refs/heads/${ref}`, `refs/tags/${ref}`, ...(/^[0-9a-f]{7,40}$/.test(ref) ? [ref] : [])];
    for (const candidate of candidates) {
      const sha = await resolveCommit(mirror, candidate);
      if (sha) return { sha, ref: candidate };
    }
    throw new UserError(`no branch, tag or commit '${ref}' in ${repo}`);
  }

  /** A file's text at a commit, or undefined when the commit has no such file. */
  async readFile(
    mirror: string,
    sha: string,
    path: string,
    maxBytes = 1024 * 1024,
  ): Promise<string | undefined> {
    try {
      return await readFileAt(mirror, sha, path, { maxBytes });
    } catch (err) {
      // Asked for by the API's caller: too large is their input's problem.
      if (err instanceof FileTooLargeError) throw new UserError(err.message, [], { cause: err });
      throw err;
    }
  }

  /** Extracts the commit's tree (once; concurrent callers share the work) and returns its directory. */
  async materialise(mirror: string, repo: string, sha: string): Promise<string> {
    const dest = this.dirOf(repo, sha);
    if (existsSync(dest)) return dest;
    let pending = this.extracting.get(dest);
    if (!pending) {
      pending = this.extract(mirror, dest, sha).finally(() => this.extracting.delete(dest));
      this.extracting.set(dest, pending);
    }
    return pending;
  }

  /** Marks a checkout as used by a deploy until the returned function is called. */
  hold(dir: string): () => void {
    this.inUse.set(dir, (this.inUse.get(dir) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.inUse.get(dir) ?? 1) - 1;
      if (n > 0) this.inUse.set(dir, n);
      else this.inUse.delete(dir);
    };
  }

  /** Remembers that `app/env` is deployed from `repo`: its releases decide which checkouts stay. */
  addTarget(repo: string, app: string, env: string): void {
    const targets = this.targets(repo);
    const key = `${app}/${env}`;
    if (targets.includes(key)) return;
    mkdirSync(join(this.root, repo), { recursive: true });
    writeFileSync(this.targetsFile(repo), `${JSON.stringify([...targets, key])}\n`);
  }

  /**
   * Removes the checkouts of `repo` that no deploy is using and none of the newest releases (nor the
   * current or an unfinished one) of the environments deployed from it refers to. Returns what it removed.
   */
  async prune(repo: string, store: Store): Promise<string[]> {
    const dir = join(this.root, repo);
    if (!existsSync(dir)) return [];
    const referenced: string[] = [];
    for (const target of this.targets(repo)) {
      const slash = target.lastIndexOf("/");
      const app = target.slice(0, slash);
      const env = target.slice(slash + 1);
      const releases: (Release | undefined)[] = [
        ...(await store.releases.list({ app, env, limit: keptReleases })),
        await store.releases.current(app, env),
        ...(await store.releases.unfinished({ app, env })),
      ];
      for (const r of releases) if (r) referenced.push(JSON.stringify(r.spec ?? null));
    }
    const removed: string[] = [];
    for (const name of readdirSync(dir)) {
      if (!shaPattern.test(name)) continue;
      const checkout = join(dir, name);
      if (this.inUse.has(checkout) || this.extracting.has(checkout)) continue;
      const used = new RegExp(`${escapeRegExp(JSON.stringify(checkout).slice(1, -1))}(?=[/"])`);
      if (referenced.some((text) => used.test(text))) continue;
      rmSync(checkout, { recursive: true, force: true });
      removed.push(checkout);
    }
    return removed;
  }

  /** The (repo, sha) checkouts a release's spec refers to (its services' cwd, bind volumes). */
  referencedBy(spec: unknown): { repo: string; sha: string; dir: string }[] {
    const text = JSON.stringify(spec ?? null);
    const root = escapeRegExp(JSON.stringify(this.root).slice(1, -1));
    const found = new Map<string, { repo: string; sha: string; dir: string }>();
    for (const m of text.matchAll(new RegExp(`${root}/(.+?)/([0-9a-f]{40})(?=[/"])`, "g"))) {
      const [repo, sha] = [m[1], m[2]];
      found.set(`${repo}@${sha}`, { repo, sha, dir: this.dirOf(repo, sha) });
    }
    return [...found.values()];
  }

  private targetsFile(repo: string): string {
    return join(this.root, repo, ".targets.json");
  }

  private targets(repo: string): string[] {
    try {
      const list = JSON.parse(readFileSync(this.targetsFile(repo), "utf8")) as unknown;
      return Array.isArray(list) ? list.filter((t): t is string => typeof t === "string") : [];
    } catch {
      return [];
    }
  }

  private async fetch(mirror: string): Promise<void> {
    // The CI service may be fetching the same mirror (ref locks): a few tries before giving up.
    await retry(() => fetchMirror(mirror), { attempts: 3, backoff: { baseMs: 300 } }).catch((err) => {
      throw new OperationError(`cannot fetch the repository's mirror: ${(err as Error).message}`, {
        cause: err,
      });
    });
  }

  private async extract(mirror: string, dest: string, sha: string): Promise<string> {
    const tmp = `${dest}.tmp-${process.pid}-${Date.now()}`;
    mkdirSync(tmp, { recursive: true });
    try {
      await exec("sh", ["-c", 'git archive --format=tar "$1" | tar -x -C "$2"', "sh", sha, tmp], {
        cwd: mirror,
        maxBuffer: 16 * 1024 * 1024,
      });
      renameSync(tmp, dest);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      if (existsSync(dest)) return dest;
      const e = err as { stderr?: string; message: string };
      throw new OperationError(`cannot extract ${sha.slice(0, 7)}: ${(e.stderr || e.message).trim()}`, {
        cause: err,
      });
    }
    return dest;
  }
}
