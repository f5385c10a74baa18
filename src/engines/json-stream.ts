// The Engine API streams progress of builds, pushes and pulls as JSON messages, one per line.

/** One message of a build, push or pull stream (Docker and Podman share the shape). */
export type StreamMessage = {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  error?: string;
  errorDetail?: { message?: string; code?: number };
  aux?: Record<string, unknown>;
};

/** Reads a stream to its end, calling `onMessage` for each JSON message; non-JSON lines become `stream` text. */
export async function readJsonStream(
  stream: NodeJS.ReadableStream,
  onMessage: (m: StreamMessage) => void,
  signal?: AbortSignal,
): Promise<void> {
  let buffered = "";
  const flush = (line: string) => {
    const text = line.trim();
    if (!text) return;
    let m: StreamMessage;
    try {
      m = JSON.parse(text) as StreamMessage;
    } catch {
      m = { stream: `${text}\n` };
    }
    onMessage(m);
  };
  await new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      (stream as unknown as { destroy?: (e?: Error) => void }).destroy?.();
      reject(signal?.reason ?? new Error("aborted"));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const done = (err?: Error) => {
      signal?.removeEventListener("abort", onAbort);
      if (err) return reject(err);
      try {
        flush(buffered);
        buffered = "";
        resolve();
      } catch (e) {
        reject(e);
      }
    };
    stream.on("data", (chunk: Buffer | string) => {
      buffered += chunk.toString();
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          flush(line);
        } catch (e) {
          done(e as Error);
          return;
        }
        nl = buffered.indexOf("\n");
      }
    });
    stream.on("end", () => done());
    stream.on("error", (err: Error) => done(err));
  });
}

/** The error a message carries, if any. */
export function messageError(m: StreamMessage): string | undefined {
  if (m.errorDetail?.message) return m.errorDetail.message;
  if (m.error) return m.error;
  return undefined;
}
