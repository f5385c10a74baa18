// Real git servers on loopback holding real repositories, for the code that fetches from one (remote
// actions, reusable workflows): git's smart HTTP (`git http-backend` behind a small node:http CGI
// server, with optional token auth), `git daemon` (git://), and git's dumb HTTP (a plain static file
// server over bare repositories after `git update-server-info`). Repositories live at
// `<root>/<owner>/<repo>` (bare, no `.git` suffix) so all three serve `<url>/<owner>/<repo>`.
import { type ChildProcess, spawn } from "node:child_process";
import { createReadStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, normalize, sep } from "node:path";
import { gunzipSync } from "node:zlib";
import { execa } from "execa";
import { isolatedGitEnv } from "./git.js";
import { freePort } from "./ports.js";
import { waitFor } from "./wait.js";

const gitEnv = {
  ...isolatedGitEnv,
  GIT_AUTHOR_NAME: "Action Author",
  GIT_AUTHOR_EMAIL: "author@example.test",
  GIT_COMMITTER_NAME: "Action Author",
  GIT_COMMITTER_EMAIL: "author@example.test",
};

async function git(dir: string, ...args: string[]): Promise<string> {
  return (await execa("git", ["-C", dir, ...args], { env: gitEnv })).stdout;
}

export type RepoVersion = {
  files: Record<string, string>;
  /** Tags put on this commit (lightweight unless `annotated`). */
  tags?: string[];
  annotated?: boolean;
  /** Files made executable. */
  executable?: string[];
};

/**
 * Makes (or adds commits to) the bare repository `<root>/<owner>/<repo>`: each version is one commit on
 * `main` holding exactly its files, tagged as it says. Returns the commits' shas in order.
 */
export async function publishRepo(root: string, name: string, versions: RepoVersion[]): Promise<string[]> {
  const bare = join(root, name);
  const work = mkdtempSync(join(tmpdir(), "slipway-action-src-"));
  try {
    let existed = true;
    try {
      statSync(join(bare, "HEAD"));
    } catch {
      existed = false;
    }
    if (!existed) {
      mkdirSync(dirname(bare), { recursive: true });
      await execa("git", ["init", "--quiet", "--bare", "--initial-branch=main", bare], { env: gitEnv });
      await execa("git", ["init", "--quiet", "--initial-branch=main", work], { env: gitEnv });
    } else {
      rmSync(work, { recursive: true, force: true });
      await execa("git", ["clone", "--quiet", bare, work], { env: gitEnv });
    }
    const shas: string[] = [];
    for (const v of versions) {
      await git(work, "rm", "-r", "--quiet", "--ignore-unmatch", ".");
      for (const [path, content] of Object.entries(v.files)) {
        mkdirSync(dirname(join(work, path)), { recursive: true });
        writeFileSync(join(work, path), content, { mode: v.executable?.includes(path) ? 0o755 : 0o644 });
      }
      await git(work, "add", "--all");
      await git(work, "commit", "--quiet", "--allow-empty", "-m", `version ${shas.length + 1}`);
      for (const tag of v.tags ?? []) {
        if (v.annotated) await git(work, "tag", "--force", "-a", "-m", tag, tag);
        else await git(work, "tag", "--force", tag);
      }
      shas.push(await git(work, "rev-parse", "HEAD"));
    }
    await git(work, "push", "--quiet", "--force", "--tags", bare, "HEAD:refs/heads/main");
    // For dumb HTTP: the info/refs and objects/info/packs a static server hands out.
    await git(bare, "update-server-info");
    return shas;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export type GitServer = {
  /** The base URL: `<url>/<owner>/<repo>` is a repository. */
  url: string;
  /** Fetches (object transfers, not ref listings) the server has answered, per repository path. */
  fetches: Map<string, number>;
  /** Requests seen, with their Authorization header (for checks that a token was sent, or not). */
  requests: { path: string; authorization?: string }[];
  stop(): Promise<void>;
};

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function count(fetches: Map<string, number>, path: string): void {
  const repo = path.replace(/^\//, "").split("/").slice(0, 2).join("/");
  fetches.set(repo, (fetches.get(repo) ?? 0) + 1);
}

export type SmartHttpOptions = {
  /** Requests must carry HTTP basic auth with this password (any user), as GitHub takes a token. */
  token?: string;
  /** Listen on this port (to start a stopped server again at the same URL); default: a free one. */
  port?: number;
  /** Cut the connection in the middle of every object transfer (a server or network failing mid-fetch). */
  breakFetches?: boolean;
};

/** git's smart HTTP: `git http-backend` run as a CGI program for each request. */
export async function startSmartHttp(root: string, opts: SmartHttpOptions = {}): Promise<GitServer> {
  const fetches = new Map<string, number>();
  const requests: GitServer["requests"] = [];
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    requests.push({ path: url.pathname, authorization: req.headers.authorization });
    if (opts.token) {
      const auth = req.headers.authorization ?? "";
      const given = /^basic /i.test(auth)
        ? Buffer.from(auth.slice(6), "base64").toString().split(":")[1]
        : "";
      if (given !== opts.token) {
        res.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"' }).end("authentication required\n");
        return;
      }
    }
    const body = await readBody(req);
    if (req.method === "POST" && url.pathname.endsWith("/git-upload-pack")) {
      const text = (req.headers["content-encoding"] === "gzip" ? gunzipSync(body) : body).toString("latin1");
      if (/command=fetch|^[0-9a-f]{4}want /m.test(text)) {
        count(fetches, url.pathname);
        if (opts.breakFetches) {
          res.writeHead(200, { "Content-Type": "application/x-git-upload-pack-result" });
          res.write("0008NAK\n0031\x01PACK\x00\x00\x00\x02\x00\x00\x00\x05");
          res.socket?.destroy();
          return;
        }
      }
    }
    const child = spawn("/usr/lib/git-core/git-http-backend", [], {
      env: {
        ...isolatedGitEnv,
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: "1",
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.replace(/^\?/, ""),
        REQUEST_METHOD: req.method ?? "GET",
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        CONTENT_LENGTH: String(body.length),
        REMOTE_ADDR: "127.0.0.1",
        ...(req.headers["content-encoding"]
          ? { HTTP_CONTENT_ENCODING: String(req.headers["content-encoding"]) }
          : {}),
        ...(req.headers["git-protocol"] ? { GIT_PROTOCOL: String(req.headers["git-protocol"]) } : {}),
      },
      stdio: ["pipe", "pipe", "ignore"],
    });
    child.stdin.on("error", () => {}); // A refused request ends before reading all of its body.
    child.stdin.end(body);
    const out: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.on("close", () => {
      const all = Buffer.concat(out);
      let split = all.indexOf("\r\n\r\n");
      let sepLen = 4;
      if (split < 0) {
        split = all.indexOf("\n\n");
        sepLen = 2;
      }
      if (split < 0) {
        res.writeHead(502).end("bad CGI output\n");
        return;
      }
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of all.subarray(0, split).toString("latin1").split(/\r?\n/)) {
        const i = line.indexOf(":");
        if (i < 0) continue;
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === "status") status = Number.parseInt(v, 10);
        else headers[k] = v;
      }
      res.writeHead(status, headers).end(all.subarray(split + sepLen));
    });
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.writeHead(500).end());
  });
  const port = opts.port ?? (await freePort());
  await listen(server, port);
  return { url: `http://127.0.0.1:${port}`, fetches, requests, stop: () => close(server) };
}

/** git's dumb HTTP: files of the bare repositories, as any static web server would hand them out. */
export async function startDumbHttp(root: string): Promise<GitServer> {
  const fetches = new Map<string, number>();
  const requests: GitServer["requests"] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://127.0.0.1").pathname);
    requests.push({ path, authorization: req.headers.authorization });
    const file = normalize(join(root, path));
    if (req.method !== "GET" || (file !== root && !file.startsWith(root + sep))) {
      res.writeHead(404).end();
      return;
    }
    if (
      /\/objects\/(pack\/pack-[0-9a-f]+\.pack|[0-9a-f]{2}\/[0-9a-f]{38})$/.test(path) &&
      !path.endsWith(".idx")
    )
      count(fetches, path);
    try {
      if (!statSync(file).isFile()) throw new Error("not a file");
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": "application/octet-stream" });
    createReadStream(file).pipe(res);
  });
  const port = await freePort();
  await listen(server, port);
  return { url: `http://127.0.0.1:${port}`, fetches, requests, stop: () => close(server) };
}

/** `git daemon` serving every repository under root on git://127.0.0.1:<port>. */
export async function startGitDaemon(root: string): Promise<GitServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    "git",
    [
      "daemon",
      "--reuseaddr",
      "--export-all",
      `--base-path=${root}`,
      "--listen=127.0.0.1",
      `--port=${port}`,
      root,
    ],
    { env: { ...process.env, ...isolatedGitEnv }, stdio: "ignore" },
  );
  await waitFor(
    `git daemon on port ${port}`,
    () =>
      new Promise<boolean>((resolve) => {
        const s = connect(port, "127.0.0.1");
        s.once("connect", () => {
          s.destroy();
          resolve(true);
        });
        s.once("error", () => resolve(false));
      }),
  );
  return {
    url: `git://127.0.0.1:${port}`,
    fetches: new Map(),
    requests: [],
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
