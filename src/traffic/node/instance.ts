// An instance as the router sees it (its keep-alive agent, what is in flight on it, whether it is
// draining or was found down) and the choice of an instance within a version.
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import { backoffDelay } from "../../lib/async.js";
import type { Balance, InstanceState } from "../types.js";

/** Something that holds an instance busy until it ends: a websocket tunnel. */
export type Closable = { goAway(): void; destroy(): void };

const DOWN_MIN_MS = 500;
const DOWN_MAX_MS = 10_000;

export class Instance {
  readonly id: string;
  readonly url: string;
  readonly version: string;
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  /** Host header for requests that came without one (HTTP/1.0). */
  readonly authority: string;
  readonly agent: http.Agent;
  inflight = 0;
  readonly websockets = new Set<Closable>();
  draining = false;
  /** No longer in the backends: close the agent once idle. */
  retired = false;
  downUntil = 0;
  private failures = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    id: string,
    url: string,
    version: string,
    options: { idleMs: number; maxSockets: number; connectTimeoutMs: number },
  ) {
    const u = new URL(url);
    this.id = id;
    this.url = url;
    this.version = version;
    this.secure = u.protocol === "https:";
    this.host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
    this.port = u.port ? Number(u.port) : this.secure ? 443 : 80;
    this.authority = u.host;
    const agentOptions: http.AgentOptions = {
      keepAlive: true,
      // Hot connections first; the extra ones of a burst then sit idle and time out.
      scheduling: "lifo",
      timeout: options.idleMs,
      maxSockets: options.maxSockets,
      maxFreeSockets: 1024,
      noDelay: true,
    };
    this.agent = this.secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    armConnectTimeout(this.agent, options.connectTimeoutMs);
    // Runs after the agent has pooled the socket: a draining instance keeps no idle connection.
    this.agent.on("free", (socket: Socket) => {
      if (this.draining || this.retired) socket.destroy();
    });
  }

  get idle(): boolean {
    return this.inflight === 0 && this.websockets.size === 0;
  }

  /** A connect error: skip this instance for a while (doubling up to 10 s while it keeps failing). */
  markDown(now: number): void {
    this.failures++;
    this.downUntil = now + backoffDelay(this.failures, { baseMs: DOWN_MIN_MS, maxMs: DOWN_MAX_MS });
  }

  markUp(): void {
    this.failures = 0;
    this.downUntil = 0;
  }

  /** Called when a request or websocket on this instance ends. */
  released(): void {
    if (!this.idle) return;
    if (this.draining || this.retired) this.agent.destroy();
    if (this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  state(): InstanceState {
    return {
      id: this.id,
      url: this.url,
      version: this.version,
      inflight: this.inflight,
      websockets: this.websockets.size,
      draining: this.draining,
      downUntil: this.downUntil,
    };
  }
}

/**
 * New upstream connections that are not established within `ms` fail with ECONNECTTIMEOUT, a connect
 * error like ECONNREFUSED (retried elsewhere). Done in the agent so reused connections cost nothing.
 */
function armConnectTimeout(agent: http.Agent, ms: number): void {
  type Create = (
    options: object,
    callback: (err: Error | null, socket: Socket) => void,
  ) => Socket | undefined;
  const a = agent as unknown as { createConnection: Create };
  const create = a.createConnection;
  a.createConnection = function (this: unknown, options, callback) {
    const socket = create.call(this, options, callback);
    if (socket?.connecting) {
      const timer = setTimeout(() => {
        socket.destroy(
          Object.assign(new Error(`connect timeout after ${ms} ms`), { code: "ECONNECTTIMEOUT" }),
        );
      }, ms);
      const clear = () => clearTimeout(timer);
      socket.once("connect", clear);
      socket.once("close", clear);
    }
    return socket;
  };
}

/** The instances of one version and the balancing state over them. */
export class VersionPool {
  readonly version: string;
  readonly instances: Instance[];
  private readonly leastConnections: boolean;
  private cursor = 0;

  constructor(version: string, instances: Instance[], balance: Balance) {
    this.version = version;
    this.instances = instances;
    this.leastConnections = balance === "least-connections";
  }

  /**
   * The next instance for a request: not draining, not `exclude` (the one that just failed), and not
   * marked down unless every candidate is (then the one down the longest gets a chance).
   */
  pick(exclude?: Instance): Instance | undefined {
    const list = this.instances;
    const n = list.length;
    let best: Instance | undefined;
    let bestAt = -1;
    let fallback: Instance | undefined;
    let now = 0;
    for (let k = 0; k < n; k++) {
      const i = (this.cursor + k) % n;
      const inst = list[i];
      if (inst.draining || inst === exclude) continue;
      if (inst.downUntil !== 0) {
        if (now === 0) now = Date.now();
        if (inst.downUntil > now) {
          if (!fallback || inst.downUntil < fallback.downUntil) fallback = inst;
          continue;
        }
      }
      if (!this.leastConnections) {
        best = inst;
        bestAt = i;
        break;
      }
      if (!best || inst.inflight < best.inflight) {
        best = inst;
        bestAt = i;
      }
    }
    if (best) {
      this.cursor = bestAt + 1;
      return best;
    }
    return fallback;
  }
}
