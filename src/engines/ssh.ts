// The Engine API of another machine over SSH, as the docker CLI does it: each HTTP connection is an SSH
// channel running `docker system dial-stdio` on the remote host, which pipes it to the engine there.
// Starting that command costs a remote shell (hundreds of ms), so HTTP connections are kept alive and reused,
// and channels share SSH connections; idle ones close after a while and never keep the process alive. The host key is checked against known_hosts like OpenSSH does; every failure says
// which host it was and what went wrong.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { Agent, type ClientRequestArgs } from "node:http";
import { connect, type Socket } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { Duplex } from "node:stream";
import type { AnyAuthMethod, ClientChannel, ConnectConfig, Client as SshClient } from "ssh2";
import ssh2 from "ssh2";
import { UserError } from "../lib/errors.js";

export type SshTarget = { host: string; port: number; username: string };

export type SshFailure =
  | "refused"
  | "unreachable"
  | "timeout"
  | "auth"
  | "host-key"
  | "no-docker"
  | "dial-stdio"
  | "closed"
  | "other";

/** A connection that failed, or a remote `docker system dial-stdio` that did not start. */
export class SshError extends Error {
  readonly kind: SshFailure;
  constructor(message: string, kind: SshFailure, options?: ErrorOptions) {
    super(message, options);
    this.name = "SshError";
    this.kind = kind;
  }
}

// --- known_hosts ---

export type KnownHost = {
  file: string;
  line: number;
  marker?: "revoked" | "cert-authority";
  /** The host field as written: patterns (`a,b,[c]:2222,!d,*.e`) or one hashed name (`|1|salt|hash`). */
  hosts: string;
  keyType: string;
  key: Buffer;
};

/** The entries of a known_hosts file; lines that are not entries (comments, garbage) are skipped as OpenSSH does. */
export function parseKnownHosts(text: string, file = "known_hosts"): KnownHost[] {
  const entries: KnownHost[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith("#")) return;
    let marker: KnownHost["marker"];
    if (fields[0] === "@revoked" || fields[0] === "@cert-authority") {
      marker = fields[0] === "@revoked" ? "revoked" : "cert-authority";
      fields.shift();
    }
    const [hosts, keyType, base64] = fields;
    if (!hosts || !keyType || !base64) return;
    const key = Buffer.from(base64, "base64");
    if (key.length === 0) return;
    entries.push({ file, line: i + 1, ...(marker ? { marker } : {}), hosts, keyType, key });
  });
  return entries;
}

/** How known_hosts names a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, name: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${re}$`, "i").test(name);
}

/** Whether an entry's host field names `name` (OpenSSH's rules: hashed names, wildcards, `!` negation). */
export function hostFieldMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith("|1|")) {
    const [, , salt, hash] = hosts.split("|");
    if (!salt || !hash) return false;
    const expected = Buffer.from(hash, "base64");
    const actual = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest();
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
  let matched = false;
  for (const pattern of hosts.split(",")) {
    if (pattern.startsWith("!")) {
      if (globMatch(pattern.slice(1), name)) return false;
    } else if (globMatch(pattern, name)) matched = true;
  }
  return matched;
}

/** The type inside an SSH public key blob (`ssh-ed25519`, `ssh-rsa`, …). */
export function keyType(key: Buffer): string {
  if (key.length < 4) return "unknown";
  const length = key.readUInt32BE(0);
  return key.subarray(4, 4 + length).toString("latin1");
}

/** As `ssh-keygen -l` prints it: `ssh-ed25519 SHA256:…`. */
export function keyFingerprint(key: Buffer): string {
  const digest = createHash("sha256").update(key).digest("base64").replace(/=+$/, "");
  return `${keyType(key)} SHA256:${digest}`;
}

export type HostKeyVerdict =
  | { status: "known"; entry: KnownHost }
  | { status: "unknown"; otherTypes: string[] }
  | { status: "changed"; entry: KnownHost }
  | { status: "revoked"; entry: KnownHost };

/**
 * What known_hosts says about the key a host presented: revoked, known, changed (an entry of the same key
 * type holds another key: a reinstalled host, or someone in between), or unknown.
 */
export function verifyHostKey(entries: KnownHost[], host: string, port: number, key: Buffer): HostKeyVerdict {
  const name = knownHostName(host, port);
  const revoked = entries.find((e) => e.marker === "revoked" && e.key.equals(key));
  if (revoked) return { status: "revoked", entry: revoked };
  const forHost = entries.filter((e) => !e.marker && hostFieldMatches(e.hosts, name));
  const known = forHost.find((e) => e.key.equals(key));
  if (known) return { status: "known", entry: known };
  const type = keyType(key);
  const changed = forHost.find((e) => keyType(e.key) === type);
  if (changed) return { status: "changed", entry: changed };
  return { status: "unknown", otherTypes: [...new Set(forHost.map((e) => keyType(e.key)))] };
}

/** Host key algorithms ssh2 offers by default, in its order. */
const hostKeyAlgorithms = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
];

/**
 * The algorithms to offer, those of the keys known_hosts holds for the host first (as OpenSSH orders them),
 * so that a host known by its RSA key is not reported as unknown because it also has an ed25519 one.
 */
export function preferredHostKeyAlgorithms(entries: KnownHost[], host: string, port: number): string[] {
  const name = knownHostName(host, port);
  const types = new Set(
    entries.filter((e) => !e.marker && hostFieldMatches(e.hosts, name)).map((e) => keyType(e.key)),
  );
  const known = hostKeyAlgorithms.filter((a) => types.has(a.startsWith("rsa-sha2-") ? "ssh-rsa" : a));
  return [...known, ...hostKeyAlgorithms.filter((a) => !known.includes(a))];
}

// --- credentials and settings ---

export type SshSettings = {
  /** Tried in this order. */
  auth: AnyAuthMethod[];
  /** What `auth` holds, for messages: `key /root/.ssh/id_ed25519`, `ssh-agent`. */
  tried: string[];
  /** Keys that were found but could not be used (encrypted, not a key), for messages. */
  skipped: string[];
  insecure: boolean;
  knownHosts: KnownHost[];
  knownHostsFiles: string[];
};

const truthy = (v: string | undefined) =>
  v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";

function readOptional(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/**
 * Keys, agent and known_hosts for a target, from the environment: SLIPWAY_SSH_KEY (a private key file),
 * else ~/.ssh/id_ed25519 and ~/.ssh/id_rsa; the agent at SSH_AUTH_SOCK; SLIPWAY_SSH_KNOWN_HOSTS, else
 * ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts; SLIPWAY_SSH_INSECURE=1 skips the host key check.
 */
export function sshSettings(target: SshTarget, env: NodeJS.ProcessEnv = process.env): SshSettings {
  const home = env.HOME || homedir();
  const username = target.username;
  const auth: AnyAuthMethod[] = [];
  const tried: string[] = [];
  const skipped: string[] = [];
  const agent = env.SSH_AUTH_SOCK;
  const explicit = env.SLIPWAY_SSH_KEY;
  if (explicit) {
    let data: Buffer;
    try {
      data = readFileSync(explicit);
    } catch (err) {
      throw new UserError(`SLIPWAY_SSH_KEY ${explicit} cannot be read: ${(err as Error).message}`);
    }
    const parsed = ssh2.utils.parseKey(data);
    if (parsed instanceof Error || !parsed.isPrivateKey())
      throw new UserError(
        `SLIPWAY_SSH_KEY ${explicit} is not a usable private key (${parsed instanceof Error ? parsed.message : "a public key"}); ` +
          "an encrypted key must be loaded into ssh-agent instead",
      );
    auth.push({ type: "publickey", username, key: data });
    tried.push(`key ${explicit}`);
  }
  // As OpenSSH: the agent's keys before the default files.
  if (agent) {
    auth.push({ type: "agent", username, agent });
    tried.push("ssh-agent");
  }
  if (!explicit) {
    for (const name of ["id_ed25519", "id_rsa"]) {
      const path = join(home, ".ssh", name);
      const data = readOptional(path);
      if (!data) continue;
      const parsed = ssh2.utils.parseKey(data);
      if (parsed instanceof Error || !parsed.isPrivateKey()) {
        skipped.push(`${path} (${parsed instanceof Error ? parsed.message : "not a private key"})`);
        continue;
      }
      auth.push({ type: "publickey", username, key: data });
      tried.push(`key ${path}`);
    }
  }
  if (auth.length === 0)
    throw new UserError(
      `ssh to ${username}@${target.host}:${target.port}: no key to authenticate with: set SLIPWAY_SSH_KEY to a private key file, ` +
        `create ${join(home, ".ssh", "id_ed25519")} or start ssh-agent (SSH_AUTH_SOCK)` +
        (skipped.length ? `; unusable: ${skipped.join(", ")}` : ""),
    );
  const insecure = truthy(env.SLIPWAY_SSH_INSECURE);
  const knownHostsFiles = env.SLIPWAY_SSH_KNOWN_HOSTS
    ? [env.SLIPWAY_SSH_KNOWN_HOSTS]
    : [join(home, ".ssh", "known_hosts"), "/etc/ssh/ssh_known_hosts"];
  const knownHosts = insecure
    ? []
    : knownHostsFiles.flatMap((f) => {
        const text = readOptional(f);
        return text ? parseKnownHosts(text.toString(), f) : [];
      });
  return { auth, tried, skipped, insecure, knownHosts, knownHostsFiles };
}

// --- the transport ---

/** Channels per SSH connection: below OpenSSH's default MaxSessions (10). */
const channelsPerConnection = 8;
/** An SSH connection that carried no request for this long is closed. */
const idleMs = 15_000;

type Connection = {
  client: SshClient;
  sock: Socket;
  ready: Promise<void>;
  isReady: boolean;
  open: boolean;
  /** Channels open or opening (at most channelsPerConnection). */
  channels: number;
  /** Of those, the ones carrying a request (not kept alive for the next one). */
  busy: number;
  idle?: NodeJS.Timeout;
  /** Why the host key was refused, when it was. */
  hostKeyProblem?: string;
};

export type SshDialerOptions = {
  env?: NodeJS.ProcessEnv;
  /** How long the TCP connect and SSH handshake may take (default 20 s). */
  readyTimeoutMs?: number;
};

/**
 * An http.Agent whose connections are `docker system dial-stdio` on the target host. Settings (keys,
 * known_hosts) are read on the first connection, so creating one does no I/O.
 */
export class SshDialer extends Agent {
  readonly target: SshTarget;
  private readonly env: NodeJS.ProcessEnv;
  private readonly readyTimeoutMs: number;
  private settings?: SshSettings;
  private connections: Connection[] = [];

  constructor(target: SshTarget, opts: SshDialerOptions = {}) {
    super({ keepAlive: true });
    this.target = target;
    this.env = opts.env ?? process.env;
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;
  }

  /** `ssh to user@host:port`, how every message starts. */
  get label(): string {
    const { username, host, port } = this.target;
    return `ssh to ${username}@${host.includes(":") ? `[${host}]` : host}:${port}`;
  }

  override createConnection(
    _options: ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): undefined {
    this.openChannel().then(
      (stream) => callback?.(null, stream),
      (err: Error) => callback?.(err, undefined as unknown as Duplex),
    );
    return undefined;
  }

  /** Closes every SSH connection (open requests fail). */
  override destroy(): void {
    for (const conn of this.connections) this.drop(conn);
    super.destroy();
  }

  /** A channel to the remote engine. */
  async openChannel(): Promise<Duplex> {
    this.settings ??= sshSettings(this.target, this.env);
    for (let attempt = 0; ; attempt++) {
      const conn =
        this.connections.find((c) => c.open && c.channels < channelsPerConnection) ?? this.connect();
      const wasReady = conn.isReady;
      this.reserve(conn);
      try {
        await conn.ready;
        return await this.exec(conn);
      } catch (err) {
        this.setBusy(conn, -1);
        this.release(conn);
        // A connection that was fine a moment ago may have been closed by the server meanwhile: one retry.
        if (attempt === 0 && wasReady && !conn.open) continue;
        throw err;
      }
    }
  }

  private connect(): Connection {
    const settings = this.settings!;
    const { host, port } = this.target;
    const sock = connect({ host, port });
    const client = new ssh2.Client();
    const conn = { client, sock, isReady: false, open: true, channels: 0, busy: 0 } as Connection;
    conn.ready = new Promise<void>((resolve, reject) => {
      client.once("ready", () => {
        conn.isReady = true;
        resolve();
      });
      // Errors after the handshake end the connection; its channels fail on their own.
      client.on("error", (err) => {
        this.drop(conn);
        if (!conn.isReady) reject(this.describe(err, conn));
      });
      client.on("close", () => {
        this.drop(conn);
        if (!conn.isReady)
          reject(this.describe(new Error("the connection closed during the handshake"), conn));
      });
    });
    // Never an unhandled rejection: every caller awaits it, this only keeps Node quiet when none is left.
    conn.ready.catch(() => {});
    const config: ConnectConfig = {
      sock,
      username: this.target.username,
      authHandler: settings.auth,
      readyTimeout: this.readyTimeoutMs,
      hostVerifier: (key: Buffer) => this.checkHostKey(conn, key),
    };
    if (!settings.insecure)
      config.algorithms = {
        serverHostKey: preferredHostKeyAlgorithms(settings.knownHosts, host, port) as never,
      };
    client.connect(config);
    this.connections.push(conn);
    return conn;
  }

  private checkHostKey(conn: Connection, key: Buffer): boolean {
    const settings = this.settings!;
    if (settings.insecure) return true;
    const { host, port } = this.target;
    const verdict = verifyHostKey(settings.knownHosts, host, port, key);
    if (verdict.status === "known") return true;
    const name = knownHostName(host, port);
    const got = keyFingerprint(key);
    const where = (e: KnownHost) => `${e.file}:${e.line}`;
    const skip = "set SLIPWAY_SSH_INSECURE=1 to skip the check (not recommended)";
    if (verdict.status === "revoked")
      conn.hostKeyProblem = `host key ${got} is revoked (${where(verdict.entry)})`;
    else if (verdict.status === "changed")
      conn.hostKeyProblem =
        `host key mismatch: ${name} presented ${got} but ${where(verdict.entry)} holds ${keyFingerprint(verdict.entry.key)} ` +
        `(was the host reinstalled, or is someone intercepting the connection? if the new key is right, replace the line; or ${skip})`;
    else
      conn.hostKeyProblem =
        `unknown host key: ${name} presented ${got}, which is not in ${settings.knownHostsFiles.join(" or ")}` +
        (verdict.otherTypes.length ? ` (it holds a ${verdict.otherTypes.join(", ")} key for it)` : "") +
        `; after checking the fingerprint, add it with \`ssh-keyscan${port === 22 ? "" : ` -p ${port}`} ${host} >> ${settings.knownHostsFiles[0]}\`, or ${skip}`;
    return false;
  }

  /** An ssh2 error as what a user can act on. */
  private describe(err: Error & { level?: string; code?: string }, conn: Connection): SshError {
    const settings = this.settings!;
    const fail = (reason: string, kind: SshFailure) =>
      new SshError(`${this.label} failed: ${reason}`, kind, { cause: err });
    if (conn.hostKeyProblem) return fail(conn.hostKeyProblem, "host-key");
    if (err.level === "client-authentication")
      return fail(
        `authentication failed (tried ${settings.tried.join(", ")}` +
          (settings.skipped.length ? `; unusable: ${settings.skipped.join(", ")}` : "") +
          `); is the public key in ~${this.target.username}/.ssh/authorized_keys on the remote host?`,
        "auth",
      );
    if (err.level === "client-timeout")
      return fail(`no SSH handshake within ${Math.round(this.readyTimeoutMs / 1000)} s`, "timeout");
    switch (err.code) {
      case "ECONNREFUSED":
        return fail("connection refused (is sshd running and listening on that port?)", "refused");
      case "ENOTFOUND":
      case "EAI_AGAIN":
        return fail(`host ${this.target.host} not found`, "unreachable");
      case "EHOSTUNREACH":
      case "ENETUNREACH":
        return fail("host unreachable", "unreachable");
      case "ETIMEDOUT":
        return fail("connection timed out", "timeout");
      case "ECONNRESET":
        return fail("connection reset by the remote host", "closed");
    }
    return fail(err.message, "other");
  }

  private reserve(conn: Connection): void {
    conn.channels++;
    this.setBusy(conn, 1);
  }

  /** A channel closed. */
  private release(conn: Connection): void {
    conn.channels = Math.max(0, conn.channels - 1);
  }

  /**
   * A channel started or stopped carrying a request. A connection without requests is kept for the next
   * one, but must not keep the process alive, and is closed when nothing comes for a while.
   */
  private setBusy(conn: Connection, delta: 1 | -1): void {
    conn.busy = Math.max(0, conn.busy + delta);
    if (conn.idle) clearTimeout(conn.idle);
    conn.idle = undefined;
    if (conn.busy > 0) {
      conn.sock.ref();
      return;
    }
    if (!conn.open) return;
    conn.sock.unref();
    conn.idle = setTimeout(() => this.drop(conn), idleMs);
    conn.idle.unref();
  }

  private drop(conn: Connection): void {
    if (conn.idle) clearTimeout(conn.idle);
    conn.open = false;
    this.connections = this.connections.filter((c) => c !== conn);
    conn.client.end();
    conn.sock.destroy();
  }

  private exec(conn: Connection): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const failed = (err: Error) =>
        reject(
          new SshError(
            `${this.label} failed: cannot run docker system dial-stdio: ${err.message}`,
            "dial-stdio",
            {
              cause: err,
            },
          ),
        );
      try {
        conn.client.exec("docker system dial-stdio", (err, channel) => {
          if (err) return failed(err);
          resolve(
            new DialStdioSocket(channel, this.label, {
              busy: (busy) => this.setBusy(conn, busy ? 1 : -1),
              closed: () => this.release(conn),
            }),
          );
        });
      } catch (err) {
        // ssh2 throws when the connection closed since it was picked.
        conn.open = false;
        failed(err as Error);
      }
    });
  }
}

type SocketEvents = { busy: (busy: boolean) => void; closed: () => void };

/**
 * One `docker system dial-stdio` as the socket of HTTP requests. The end of its output is held back until
 * the command's exit status is known: a command that fails before answering (no docker there, no engine)
 * becomes an error naming the cause rather than an HTTP "socket hang up". The agent unrefs a socket it
 * keeps alive between requests and refs it again for the next: that is what `busy` reports.
 */
class DialStdioSocket extends Duplex {
  private readonly channel: ClientChannel;
  private readonly label: string;
  private readonly events: SocketEvents;
  private isBusy = true;
  private channelClosed = false;
  private received = 0;
  private stderr = "";
  private exit?: { code: number | null; signal?: string };
  private timeoutMs = 0;
  private timer?: NodeJS.Timeout;

  constructor(channel: ClientChannel, label: string, events: SocketEvents) {
    super({ allowHalfOpen: false });
    this.channel = channel;
    this.label = label;
    this.events = events;
    channel.on("data", (chunk: Buffer) => {
      this.received += chunk.length;
      this.touch();
      if (!this.push(chunk)) channel.pause();
    });
    channel.stderr.on("data", (chunk: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += chunk.toString();
    });
    channel.on("exit", (code: number | null, signal?: string) => {
      this.exit = { code, signal };
    });
    channel.on("error", (err: Error) => this.destroy(err));
    channel.once("close", () => {
      this.channelClosed = true;
      this.unref();
      this.events.closed();
      this.clearTimer();
      if (this.destroyed) return;
      const failedEarly =
        this.received === 0 && (this.exit === undefined || this.exit.code !== 0 || this.exit.signal);
      if (failedEarly) this.destroy(this.dialError());
      else this.push(null);
    });
  }

  private dialError(): SshError {
    const said = this.stderr.trim().split("\n").slice(-3).join(" ").trim();
    const exit = this.exit;
    if (!exit)
      return new SshError(`${this.label} failed: the connection closed before the engine answered`, "closed");
    if (exit.code === 127 || /docker: (command )?not found|'docker': No such file/i.test(said))
      return new SshError(
        `${this.label} failed: docker not found on the remote host (${said || "exit 127"}); install the docker CLI there, on the PATH of non-interactive SSH sessions`,
        "no-docker",
      );
    const status = exit.code !== null ? `exited with ${exit.code}` : `was killed by ${exit.signal}`;
    return new SshError(
      `${this.label} failed: docker system dial-stdio on the remote host ${status}${said ? `: ${said}` : ""}`,
      "dial-stdio",
    );
  }

  override _read(): void {
    this.channel.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.touch();
    this.channel.write(chunk, encoding, callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (!this.channelClosed) this.channel.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.clearTimer();
    if (!this.channelClosed) this.channel.destroy();
    callback(err);
  }

  // What http.ClientRequest may call on its socket.
  setTimeout(ms: number, callback?: () => void): this {
    this.timeoutMs = ms;
    if (callback) this.once("timeout", callback);
    this.touch();
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    if (!this.isBusy && !this.channelClosed) {
      this.isBusy = true;
      this.events.busy(true);
    }
    return this;
  }

  unref(): this {
    if (this.isBusy) {
      this.isBusy = false;
      this.events.busy(false);
    }
    return this;
  }

  private touch(): void {
    this.clearTimer();
    if (this.timeoutMs > 0) {
      this.timer = setTimeout(() => this.emit("timeout"), this.timeoutMs);
      this.timer.unref();
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
