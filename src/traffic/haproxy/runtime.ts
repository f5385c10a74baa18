// The HAProxy runtime API (the admin socket): one connection per batch of commands, and the answers
// it gives. Commands are batched with `;` into lines well below the CLI's buffer size.
import { connect } from "node:net";

const MAX_LINE = 8000;

/** Answers that mean a command was refused (HAProxy prints free text, not status codes). */
const refused =
  /^(No such|Unknown|Require|Invalid|invalid|Can't|Cannot|Unable|Missing|Not found|unknown|Failed|failed|This command|Proxy|Server .* is not|'set server' expects|Regex|Unexpected)/m;

export class HaproxyCommandError extends Error {
  readonly commands: string[];
  constructor(message: string, commands: string[]) {
    super(message);
    this.name = "HaproxyCommandError";
    this.commands = commands;
  }
}

/** Sends one line (commands separated by `;`) and returns everything HAProxy answered. */
export function runtimeRequest(socketPath: string, line: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    let out = "";
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`haproxy admin socket: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    s.setEncoding("utf8");
    s.on("data", (t: string) => (out += t));
    s.on("end", () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`haproxy admin socket ${socketPath}: ${err.message}`, { cause: err }));
    });
    s.end(`${line}\n`);
  });
}

/** Runs commands in order (several per connection); rejects if HAProxy refused one. */
export async function runCommands(socketPath: string, commands: string[]): Promise<void> {
  let batch: string[] = [];
  let size = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const sent = batch;
    batch = [];
    size = 0;
    const answer = await runtimeRequest(socketPath, sent.join(";"));
    const bad = refused.exec(answer);
    if (bad) {
      const line = answer.slice(bad.index).split("\n")[0];
      throw new HaproxyCommandError(`haproxy refused a runtime command: ${line}`, sent);
    }
  };
  for (const c of commands) {
    if (size + c.length + 1 > MAX_LINE) await flush();
    batch.push(c);
    size += c.length + 1;
  }
  await flush();
}

/** `prepare map` → the new version's id. */
export async function prepareMap(socketPath: string, command: string): Promise<string> {
  const answer = await runtimeRequest(socketPath, command);
  const m = /New version created: (\d+)/.exec(answer);
  if (!m) throw new HaproxyCommandError(`haproxy: ${command}: ${answer.trim()}`, [command]);
  return m[1];
}

export type StatRow = {
  proxy: string;
  server: string;
  /** Current sessions (in-flight requests; open tunnels in a websocket backend). */
  scur: number;
  /** Sessions since start (cumulative). */
  stot: number;
  status: string;
};

/**
 * `show stat` as rows; `selectors` are its arguments, e.g. "-1 6 -1 no-maint" (backends and the servers
 * not in maintenance) or "ver0 4 -1" (one backend's servers). Several selectors go in one request.
 */
export async function showStat(socketPath: string, selectors: string[]): Promise<StatRow[]> {
  const text = await runtimeRequest(socketPath, selectors.map((s) => `show stat ${s}`).join(";"));
  const lines = text.split("\n");
  const header =
    lines
      .find((l) => l.startsWith("# "))
      ?.slice(2)
      .split(",") ?? [];
  const at = (name: string) => header.indexOf(name);
  const [px, sv, scur, stot, status] = ["pxname", "svname", "scur", "stot", "status"].map(at);
  if (px < 0 || scur < 0) throw new Error(`haproxy: unexpected show stat answer: ${text.slice(0, 200)}`);
  const rows: StatRow[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === "" || lines[i].startsWith("#")) continue;
    const f = lines[i].split(",");
    rows.push({
      proxy: f[px],
      server: f[sv],
      scur: Number(f[scur]) || 0,
      stot: Number(f[stot]) || 0,
      status: f[status] ?? "",
    });
  }
  return rows;
}

/**
 * An interactive admin session (`prompt` mode): commands over one connection that stays open, for
 * when new connections are no longer accepted (haproxy closes its admin socket on a soft stop).
 */
export async function openSession(socketPath: string): Promise<{
  run(command: string): Promise<string>;
  close(): void;
}> {
  const s = connect(socketPath);
  s.setEncoding("utf8");
  await new Promise<void>((resolve, reject) => {
    s.once("connect", resolve);
    s.once("error", reject);
  });
  s.on("error", () => {});
  let buffer = "";
  let waiting: ((text: string) => void) | undefined;
  let failWaiting: ((err: Error) => void) | undefined;
  s.on("close", () => failWaiting?.(new Error("haproxy admin session closed")));
  s.on("data", (t: string) => {
    buffer += t;
    const end = buffer.indexOf("\n> ");
    if (end !== -1 && waiting) {
      const text = buffer.slice(0, end + 1);
      buffer = buffer.slice(end + 3);
      const w = waiting;
      waiting = undefined;
      w(text);
    }
  });
  const ask = (command: string) =>
    new Promise<string>((resolve, reject) => {
      if (s.destroyed) return reject(new Error("haproxy admin session closed"));
      waiting = resolve;
      failWaiting = reject;
      s.write(`${command}\n`);
    });
  // The prompt itself answers with a first "> ".
  await ask("prompt");
  return { run: ask, close: () => s.destroy() };
}
