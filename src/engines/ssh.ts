// The Engine API of another machine over SSH, as the docker CLI does it: each HTTP connection is an SSH
// channel running `docker system dial-stdio` on the remote host, which pipes it to the engine there.
// Starting that command costs a remote shell (hundreds of ms), so HTTP connections are kept alive and reused,
// and channels share SSH connections; idle ones close after a while and never keep the process alive. The
// host key is checked against known_hosts like OpenSSH does (ssh-known-hosts.ts, with the keys and files of
// ssh-settings.ts); every failure is an SshError (ssh-error.ts) saying which host it was and what went wrong.
import { Agent, type ClientRequestArgs } from "node:http";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { ConnectConfig, Client as SshClient } from "ssh2";
import ssh2 from "ssh2";
import { DialStdioSocket } from "./ssh-dial-stdio.js";
import { type SshFailure, SshError } from "./ssh-error.js";
import {
  type KnownHost,
  keyFingerprint,
  knownHostName,
  preferredHostKeyAlgorithms,
  verifyHostKey,
} from "./ssh-known-hosts.js";
import { type SshSettings, type SshTarget, sshSettings } from "./ssh-settings.js";

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
