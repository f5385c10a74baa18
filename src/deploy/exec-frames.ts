// The frames of `slipway exec` on the agent's socket, after the HTTP upgrade: `[type: u8][length: u32 BE]
// [payload]`, both ways (Docker's attach format, with a type for each message). Client → agent: stdin data,
// the end of stdin, terminal sizes; agent → client: stdout, stderr, and last the exit (JSON).
export const frameTypes = {
  stdin: 0,
  stdout: 1,
  stderr: 2,
  /** JSON: {exitCode} or {error: StreamedError}; the last frame. */
  exit: 3,
  stdinEnd: 4,
  /** JSON: {rows, cols}. */
  resize: 5,
} as const;

export type FrameType = (typeof frameTypes)[keyof typeof frameTypes];

/** The largest payload accepted (a frame longer than this is a broken peer). */
const maxFrame = 8 << 20;

export function encodeFrame(type: FrameType, payload: Buffer | string): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Feeds chunks in, calls onFrame per whole frame (frames may span chunks); throws on a broken stream. */
export function frameDecoder(onFrame: (type: number, payload: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 5) {
      const size = pending.readUInt32BE(1);
      if (size > maxFrame) throw new Error(`exec frame of ${size} bytes: the peer is not a slipway exec`);
      if (pending.length < 5 + size) break;
      const type = pending[0];
      const payload = pending.subarray(5, 5 + size);
      pending = pending.subarray(5 + size);
      onFrame(type, payload);
    }
  };
}
