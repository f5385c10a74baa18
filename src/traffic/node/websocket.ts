// A proxied WebSocket: two sockets joined byte for byte, plus just enough framing knowledge to close
// it gracefully on drain. Both directions are followed frame by frame (headers only, payloads are
// skipped) so that a close frame can be slipped in between two frames instead of into the middle of one.
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import type { Closable } from "./instance.js";

/** Follows frame boundaries in one direction of a WebSocket byte stream. */
export class FrameBoundary {
  private remaining = 0;
  private readonly header = Buffer.alloc(14);
  private headerLen = 0;

  get atBoundary(): boolean {
    return this.remaining === 0 && this.headerLen === 0;
  }

  /** Moves over `chunk`; with `stopAtBoundary`, stops at the first boundary. Returns the bytes moved over. */
  advance(chunk: Buffer, stopAtBoundary = false): number {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (stopAtBoundary && this.remaining === 0 && this.headerLen === 0) return i;
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, n - i);
        this.remaining -= take;
        i += take;
        continue;
      }
      this.header[this.headerLen++] = chunk[i++];
      if (this.headerLen < 2) continue;
      const len7 = this.header[1] & 0x7f;
      const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (this.header[1] & 0x80 ? 4 : 0);
      if (this.headerLen < need) continue;
      this.remaining =
        len7 === 126
          ? this.header.readUInt16BE(2)
          : len7 === 127
            ? Number(this.header.readBigUInt64BE(2))
            : len7;
      this.headerLen = 0;
    }
    return i;
  }
}

/** A close frame with status 1001 "going away": unmasked to the client, masked to the instance. */
function closeFrame(masked: boolean): Buffer {
  const payload = Buffer.from([0x03, 0xe9]);
  if (!masked) return Buffer.concat([Buffer.from([0x88, 0x02]), payload]);
  const mask = randomBytes(4);
  for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
  return Buffer.concat([Buffer.from([0x88, 0x82]), mask, payload]);
}

const GO_AWAY_GRACE_MS = 2000;

export class WebSocketTunnel implements Closable {
  private readonly client: Socket;
  private readonly upstream: Socket;
  private readonly toClient = new FrameBoundary();
  private readonly toUpstream = new FrameBoundary();
  private goingAway = false;
  private clientClosed = false;
  private upstreamClosed = false;
  private sentToClient = false;
  private sentToUpstream = false;
  private ended = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly onEnd: () => void;

  constructor(client: Socket, upstream: Socket, clientHead: Buffer, upstreamHead: Buffer, onEnd: () => void) {
    this.client = client;
    this.upstream = upstream;
    this.onEnd = onEnd;
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      s.setTimeout(0);
    }
    upstream.on("data", (chunk: Buffer) => this.fromUpstream(chunk));
    client.on("data", (chunk: Buffer) => this.fromClient(chunk));
    client.on("drain", () => upstream.resume());
    upstream.on("drain", () => client.resume());
    upstream.on("end", () => client.end());
    client.on("end", () => upstream.end());
    client.on("error", () => this.destroy());
    upstream.on("error", () => this.destroy());
    client.on("close", () => {
      this.clientClosed = true;
      upstream.destroySoon();
      this.settle();
    });
    upstream.on("close", () => {
      this.upstreamClosed = true;
      client.destroySoon();
      this.settle();
    });
    if (upstreamHead.length > 0) this.fromUpstream(upstreamHead);
    if (clientHead.length > 0) this.fromClient(clientHead);
  }

  private fromUpstream(chunk: Buffer): void {
    if (this.sentToClient) return;
    if (!this.goingAway) {
      this.toClient.advance(chunk);
      if (!this.client.write(chunk)) this.upstream.pause();
      return;
    }
    const n = this.toClient.advance(chunk, true);
    if (n > 0) this.client.write(chunk.subarray(0, n));
    if (this.toClient.atBoundary) this.closeClientSide();
  }

  private fromClient(chunk: Buffer): void {
    if (this.sentToUpstream) return;
    if (!this.goingAway) {
      this.toUpstream.advance(chunk);
      if (!this.upstream.write(chunk)) this.client.pause();
      return;
    }
    const n = this.toUpstream.advance(chunk, true);
    if (n > 0) this.upstream.write(chunk.subarray(0, n));
    if (this.toUpstream.atBoundary) this.closeUpstreamSide();
  }

  private closeClientSide(): void {
    if (this.sentToClient) return;
    this.sentToClient = true;
    this.client.end(closeFrame(false));
    this.upstream.resume();
  }

  private closeUpstreamSide(): void {
    if (this.sentToUpstream) return;
    this.sentToUpstream = true;
    this.upstream.end(closeFrame(true));
    this.client.resume();
  }

  /** Closes both sides with 1001 "going away" between frames; destroys them if that takes over 2 s. */
  goAway(): void {
    if (this.goingAway || this.ended) return;
    this.goingAway = true;
    if (this.toClient.atBoundary) this.closeClientSide();
    if (this.toUpstream.atBoundary) this.closeUpstreamSide();
    this.timer = setTimeout(() => this.destroy(), GO_AWAY_GRACE_MS);
  }

  destroy(): void {
    this.client.destroy();
    this.upstream.destroy();
  }

  private settle(): void {
    if (this.ended || !this.clientClosed || !this.upstreamClosed) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.onEnd();
  }
}
