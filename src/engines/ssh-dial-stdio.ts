// One `docker system dial-stdio` channel dressed as the socket of an HTTP connection, so that node:http's
// Agent can keep it alive and reuse it; it turns a remote command that failed before answering into an
// SshError naming the cause, and reports to the dialer when it carries a request and when it closes.
import { Duplex } from "node:stream";
import type { ClientChannel } from "ssh2";
import { SshError } from "./ssh-error.js";

export type SocketEvents = { busy: (busy: boolean) => void; closed: () => void };

/**
 * One `docker system dial-stdio` as the socket of HTTP requests. The end of its output is held back until
 * the command's exit status is known: a command that fails before answering (no docker there, no engine)
 * becomes an error naming the cause rather than an HTTP "socket hang up". The agent unrefs a socket it
 * keeps alive between requests and refs it again for the next: that is what `busy` reports.
 */
export class DialStdioSocket extends Duplex {
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
