// The Engine API's multiplexed stream format (an 8-byte header per frame: stream, then payload size), as
// logs, exec and attach send it without a TTY; with one, the output is a single raw stream. Kept apart from
// the client so that the framing is read the same way by every caller, chunk by chunk or in one buffer.

/** A reader of the multiplexed stream format fed chunk by chunk (frames may span chunks). */
export function frameReader(onOut: (b: Buffer) => void, onErr: (b: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 8) {
      const size = pending.readUInt32BE(4);
      if (pending.length < 8 + size) break;
      const payload = pending.subarray(8, 8 + size);
      if (pending[0] === 2) onErr(payload);
      else onOut(payload);
      pending = pending.subarray(8 + size);
    }
  };
}

/** Splits the Engine API's multiplexed stream format held in one buffer (logs without follow). */
export function demuxBuffer(
  buf: Buffer,
  tty: boolean,
  onOut: (b: Buffer) => void,
  onErr: (b: Buffer) => void,
): void {
  if (tty) {
    if (buf.length) onOut(buf);
    return;
  }
  let i = 0;
  while (i + 8 <= buf.length) {
    const kind = buf[i];
    const size = buf.readUInt32BE(i + 4);
    const chunk = buf.subarray(i + 8, i + 8 + size);
    if (kind === 2) onErr(chunk);
    else onOut(chunk);
    i += 8 + size;
  }
}

/**
 * Reads a stream (multiplexed unless `tty`) to its end, handing on its output; resolves when it ends, closes
 * or `signal` aborts (the stream is destroyed then), rejects when it fails otherwise.
 */
export function demuxStream(
  stream: NodeJS.ReadableStream,
  tty: boolean,
  onOut: (b: Buffer) => void,
  onErr: (b: Buffer) => void,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      (stream as unknown as { destroy?: () => void }).destroy?.();
      resolve();
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    if (tty) stream.on("data", (b: Buffer) => onOut(Buffer.from(b)));
    else {
      // Frames are handed on in the order they come, stdout and stderr interleaved as written.
      const frames = frameReader(onOut, onErr);
      stream.on("data", (b: Buffer) => frames(Buffer.from(b)));
    }
    const done = () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    };
    stream.on("end", done);
    stream.on("close", done);
    stream.on("error", (err: Error) => {
      signal?.removeEventListener("abort", onAbort);
      if (signal?.aborted) resolve();
      else reject(err);
    });
  });
}
