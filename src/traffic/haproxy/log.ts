// HAProxy's request log lines (see the log-format in config.ts): following them on the admin socket,
// and turning each into the router's per-version counts: what counts as a 5xx of an instance, a
// failure of the proxy, a client abort, a retry.
import { connect, type Socket } from "node:net";

/**
 * Follows the ring's new lines (`show events <ring> -w -n`) and hands them over in batches; reconnects
 * when the connection drops while haproxy runs (lines written meanwhile are lost). Resolves once
 * following, so requests made after it are all seen.
 */
export function followLog(
  socketPath: string,
  ring: string,
  onLines: (text: string) => void,
): Promise<{ stop(): void }> {
  let stopped = false;
  let current: Socket | undefined;
  let rest = "";
  const open = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = connect(socketPath);
      current = s;
      s.setEncoding("latin1");
      s.once("connect", () => {
        s.write(`show events ${ring} -w -n\n`);
        resolve();
      });
      s.on("data", (chunk: string) => {
        const text = rest + chunk;
        const end = text.lastIndexOf("\n");
        if (end === -1) {
          rest = text;
          return;
        }
        rest = text.slice(end + 1);
        onLines(text.slice(0, end));
      });
      s.once("error", reject);
      s.once("close", () => {
        rest = "";
        if (!stopped) setTimeout(() => void open().catch(() => {}), 100).unref();
      });
    });
  return open().then(() => ({
    stop() {
      stopped = true;
      current?.destroy();
    },
  }));
}

export type LogEntry = {
  version: string;
  backend: string;
  server: string;
  status: number;
  /** Termination state, two characters: who ended the session and in which phase ("--" is normal). */
  termination: string;
  retries: number;
  /** Time from the request received to the response's end, ms. */
  activeMs: number;
};

/**
 * `slw <version> <backend> <server> <status> <termination> <retries> <µs>`; undefined for other lines.
 * The version is "-" when none was chosen (no route): HAProxy answered itself, and it counts.
 */
export function parseLogLine(line: string): LogEntry | undefined {
  const f = line.trimEnd().split(" ");
  if (f.length < 8 || f[0] !== "slw") return undefined;
  return {
    version: f[1],
    backend: f[2],
    server: f[3],
    status: Number(f[4]),
    termination: f[5],
    // "+1" when the retry was redispatched to another server.
    retries: Math.abs(Number.parseInt(f[6], 10)) || 0,
    activeMs: Number(f[7]) / 1000,
  };
}

export type Outcome = {
  /** The client left before the response was complete (not a failure). */
  aborted: boolean;
  /** HAProxy could not complete it: connect error after the retry, no server, timeout, reset, cut. */
  failed: boolean;
  /** A status >= 500 sent by an instance. */
  error5xx: boolean;
  websocket: boolean;
  /** Latency sample in ms, or -1 (failures and websocket tunnels have none). */
  latencyMs: number;
};

export function outcomeOf(e: LogEntry): Outcome {
  const who = e.termination[0] ?? "-";
  const aborted = who === "C" || who === "c";
  const failed = !aborted && who !== "-";
  const websocket = e.status === 101;
  return {
    aborted,
    failed,
    error5xx: !failed && !aborted && e.status >= 500,
    websocket,
    latencyMs: failed || websocket || e.activeMs < 0 ? -1 : e.activeMs,
  };
}
