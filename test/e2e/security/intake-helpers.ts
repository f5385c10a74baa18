// Helpers of the webhook-intake security tests: a server with a repository that runs a workflow on
// push, raw HTTP posts whose bodies are streamed (and may be held back), the server's resident memory,
// and running a command as another local user.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { addRepo, type Harness, makeRepo } from "../server/helpers.js";

/** A workflow that runs on push: one job, `build`, whose one step prints "built". */
const pushWorkflow = `name: CI
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo built
`;

/**
 * Starts a server (on `dataDir` when given) and adds a repository as `fullName` whose first commit holds
 * pushWorkflow as `.github/workflows/ci.yml` and `files`; returns both and the repository's webhook secret.
 */
export async function serverWithPushRepo(
  h: Harness,
  fullName: string,
  o: { dataDir?: string; files?: Record<string, string> } = {},
) {
  const server = await h.startServer({ dataDir: o.dataDir });
  const repo = makeRepo({ ".github/workflows/ci.yml": pushWorkflow, ...o.files });
  const secret = await addRepo(server, repo, fullName);
  return { server, repo, secret };
}

export type RawResponse = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
};

/**
 * POSTs `size` bytes (`head` first, then `fill` bytes) to `url` in 1 MiB writes, honouring
 * backpressure. Resolves with the response as soon as it is complete, also when the server answers
 * before the body was sent and closes the connection (the upload then fails, which is the point).
 * `hold` keeps the last `hold` bytes back until `release()` is called.
 */
export function streamPost(
  url: string,
  headers: Record<string, string>,
  head: string,
  size: number,
  opts: { hold?: number; fill?: string } = {},
): { response: Promise<RawResponse>; release: () => void; sent: () => number } {
  let sent = 0;
  let releaseHeld: () => void = () => {};
  const held = new Promise<void>((r) => {
    releaseHeld = r;
  });
  const response = new Promise<RawResponse>((resolve, reject) => {
    const req = request(url, {
      method: "POST",
      headers: { ...headers, "content-length": String(size) },
    });
    let answered = false;
    req.on("response", (res) => {
      answered = true;
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on("error", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    req.flushHeaders();
    const chunk = Buffer.alloc(1024 * 1024, opts.fill ?? "x");
    const first = Buffer.from(head);
    const write = async () => {
      const waitDrain = () => new Promise<void>((r) => req.once("drain", r));
      const put = async (b: Buffer) => {
        if (answered || req.destroyed) return false;
        sent += b.length;
        if (!req.write(b)) await Promise.race([waitDrain(), new Promise((r) => req.once("close", r))]);
        return true;
      };
      if (!(await put(first))) return;
      const hold = opts.hold ?? 0;
      let left = size - first.length;
      while (left > hold) {
        const n = Math.min(chunk.length, left - hold);
        if (!(await put(chunk.subarray(0, n)))) return;
        left -= n;
      }
      if (hold > 0) await held;
      while (left > 0) {
        const n = Math.min(chunk.length, left);
        if (!(await put(chunk.subarray(0, n)))) return;
        left -= n;
      }
      if (!answered && !req.destroyed) req.end();
    };
    write().catch(() => {});
  });
  return { response, release: () => releaseHeld(), sent: () => sent };
}

/** The resident set size of a process in bytes (VmRSS). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** Samples a process's RSS every `everyMs` until stopped; returns the peak. */
export function sampleRss(pid: number, everyMs = 20): { stop: () => number } {
  let peak = rssOf(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(pid));
    } catch {
      // exited
    }
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}

/** Runs a command as the local user `nobody`: its exit code and stderr. */
export function asNobody(cmd: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", ...cmd], {
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
