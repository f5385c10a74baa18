// Reading git objects without a git process per read: one long-lived `git cat-file --batch` per
// repository answers every request, one at a time, in order. It finds objects a later fetch adds (git
// looks for new packs when an object is missing), stops after a minute unused and never keeps slipway
// running. Revisions are passed as data on stdin, never as arguments, so none is taken for an option.
import { type ChildProcess, spawn } from "node:child_process";

export type GitObject = { oid: string; type: "blob" | "tree" | "commit" | "tag"; content: Buffer };

type Request = { rev: string; resolve: (o: GitObject | undefined) => void; reject: (e: Error) => void };

const idleMs = 60_000;

export class GitObjectReader {
  private readonly dir: string;
  private child: ChildProcess | undefined;
  private readonly queue: Request[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private idle: NodeJS.Timeout | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** The object `rev` names (`<sha>`, `<sha>:<path>`, `<sha>^{commit}`), or undefined when it names none. */
  read(rev: string): Promise<GitObject | undefined> {
    if (/[\n\r\0]/.test(rev) || rev === "") return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const child = this.process();
      this.queue.push({ rev, resolve, reject });
      this.refresh();
      child.stdin!.write(`${rev}\n`);
    });
  }

  close(): void {
    if (this.idle) clearTimeout(this.idle);
    this.child?.stdin?.end();
    this.child = undefined;
  }

  private process(): ChildProcess {
    if (this.child) return this.child;
    const child = spawn("git", ["-C", this.dir, "cat-file", "--batch"], {
      env: { ...process.env, LC_ALL: "C", GIT_TERMINAL_PROMPT: "0", GIT_OPTIONAL_LOCKS: "0" },
      stdio: ["pipe", "pipe", "ignore"],
    });
    this.child = child;
    this.buf = Buffer.alloc(0);
    const fail = (err: Error) => {
      if (this.child === child) this.child = undefined;
      for (const r of this.queue.splice(0)) r.reject(err);
    };
    child.on("error", (e) => fail(new Error(`cannot run git cat-file in ${this.dir}: ${e.message}`)));
    child.on("exit", () => fail(new Error(`git cat-file in ${this.dir} exited`)));
    child.stdin!.on("error", () => {});
    child.stdout!.on("data", (chunk: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      this.parse();
    });
    return child;
  }

  private parse(): void {
    for (;;) {
      const nl = this.buf.indexOf(10);
      if (nl < 0) return;
      const header = this.buf.subarray(0, nl).toString();
      const request = this.queue[0];
      if (!request) return;
      if (header.endsWith(" missing") || header.endsWith(" ambiguous")) {
        this.buf = this.buf.subarray(nl + 1);
        this.queue.shift();
        request.resolve(undefined);
      } else {
        const [oid, type, size] = header.split(" ");
        const end = nl + 1 + Number(size);
        if (this.buf.length < end + 1) return; // the content and its newline are not all here yet
        const content = Buffer.from(this.buf.subarray(nl + 1, end));
        this.buf = this.buf.subarray(end + 1);
        this.queue.shift();
        request.resolve({ oid, type: type as GitObject["type"], content });
      }
      this.refresh();
    }
  }

  /** Busy: keeps the process referenced; idle: unreferenced, and stopped after a while. */
  private refresh(): void {
    const c = this.child;
    if (!c) return;
    const busy = this.queue.length > 0;
    for (const s of [c, c.stdout, c.stdin] as { ref(): void; unref(): void }[]) {
      if (busy) s.ref();
      else s.unref();
    }
    if (this.idle) clearTimeout(this.idle);
    this.idle = undefined;
    if (!busy) {
      this.idle = setTimeout(() => this.close(), idleMs);
      this.idle.unref();
    }
  }
}

/** The entries of a tree object; `idBytes` is 20 (SHA-1) or 32 (SHA-256), half its oid's length. */
export function treeEntries(content: Buffer, idBytes: number): { mode: string; name: string; oid: string }[] {
  const out: { mode: string; name: string; oid: string }[] = [];
  let i = 0;
  while (i < content.length) {
    const sp = content.indexOf(32, i);
    const nul = content.indexOf(0, sp);
    out.push({
      mode: content.subarray(i, sp).toString(),
      name: content.subarray(sp + 1, nul).toString(),
      oid: content.subarray(nul + 1, nul + 1 + idBytes).toString("hex"),
    });
    i = nul + 1 + idBytes;
  }
  return out;
}

/** What `git show -s --format=%B%x00%an%x00%ae%x00%cI` says of a commit object. */
export function commitFields(content: Buffer): {
  message: string;
  author: string;
  email: string;
  timestamp: string;
} {
  const text = content.toString("utf8");
  const split = text.indexOf("\n\n");
  const headers = (split < 0 ? text : text.slice(0, split)).split("\n");
  const message = split < 0 ? "" : text.slice(split + 2);
  const person = (name: string) => {
    const line = headers.find((h) => h.startsWith(`${name} `));
    const m = line && /^\S+ (.*) <([^>]*)> (\d+) ([+-])(\d\d)(\d\d)$/.exec(line);
    return m ? { name: m[1], email: m[2], seconds: Number(m[3]), sign: m[4], hh: m[5], mm: m[6] } : undefined;
  };
  const author = person("author");
  const committer = person("committer");
  let timestamp = "";
  if (committer) {
    const offsetMin = (committer.sign === "-" ? -1 : 1) * (Number(committer.hh) * 60 + Number(committer.mm));
    const local = new Date((committer.seconds + offsetMin * 60) * 1000).toISOString().slice(0, 19);
    timestamp = `${local}${committer.sign}${committer.hh}:${committer.mm}`;
  }
  return { message: message.trim(), author: author?.name ?? "", email: author?.email ?? "", timestamp };
}
