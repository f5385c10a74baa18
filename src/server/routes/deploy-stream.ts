// The NDJSON answer of a deploy or rollback: a first line, the agent's lines as they come, a keepalive
// while nothing else is said, and the result or an error last. The status went out with the first line, so
// an error travels as a line; like the server's error answers, it names a failure without the server's
// paths and hides an internal error's detail (logged under the id the line gives).
import { randomBytes } from "node:crypto";
import { errorKind, type StreamedError, streamedError } from "../../lib/errors.js";
import type { Release } from "../../store/index.js";
import { withoutLocalPaths } from "../http.js";

const keepaliveMs = 15_000;

export type StreamOptions = {
  /** The server's data directory, named rather than spelled out in error messages. */
  dataDir: string;
  /** Where an error's detail goes (the server's log). */
  log: (line: string) => void;
};

/** A release as the API shows it: without the notify: section it carried (channels are the repository's). */
export function releaseForApi(r: Release): Release {
  const doc = r.spec as { notify?: unknown } | null;
  if (!doc || typeof doc !== "object" || !("notify" in doc)) return r;
  const { notify: _notify, ...rest } = doc;
  return { ...r, spec: rest };
}

/**
 * Lines from the agent as the API streams them: releases without their notify: section, and the agent's
 * error line as the server's own would read (a failure without local paths, a bug's detail logged).
 */
function apiLine(line: Record<string, unknown>, o: StreamOptions): Record<string, unknown> {
  if (line.release) return { ...line, release: releaseForApi(line.release as Release) };
  const error = line.error as (Partial<StreamedError> & { release?: Release }) | undefined;
  if (!error) return line;
  const out = { ...error, ...(error.release && { release: releaseForApi(error.release) }) };
  if (error.kind === "operation" && typeof error.message === "string")
    out.message = withoutLocalPaths(error.message, o.dataDir);
  else if (error.kind === "internal") {
    const id = randomBytes(6).toString("hex");
    o.log(`error ${id} from a deploy agent: ${error.message}`);
    out.message = `internal error in the deploy agent (id ${id})`;
  }
  return { ...line, error: out };
}

/**
 * An NDJSON response: `first`, then what `run` emits (and its result, when it was not emitted), then
 * `after` runs. A client that goes away does not stop the deploy: the agent is read to the end.
 */
export function ndjson(
  first: Record<string, unknown>,
  run: (emit: (line: Record<string, unknown>) => void) => Promise<Record<string, unknown>>,
  after: () => Promise<void>,
  o: StreamOptions,
): Response {
  const encoder = new TextEncoder();
  let closed = false;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const write = (line: unknown) => {
        if (closed) return;
        try {
          controller.enqueue(encoder.encode(`${JSON.stringify(line)}\n`));
        } catch {
          closed = true;
        }
      };
      write(first);
      let quietSince = Date.now();
      const keepalive = setInterval(() => {
        if (Date.now() - quietSince >= keepaliveMs) write({ keepalive: Date.now() });
      }, keepaliveMs / 3);
      let last: Record<string, unknown> | undefined;
      const emit = (line: Record<string, unknown>) => {
        last = line;
        quietSince = Date.now();
        write(apiLine(line, o));
      };
      void run(emit)
        .then((result) => {
          if (result !== last) write(apiLine(result, o));
        })
        .catch((err: unknown) => write({ error: clientError(err, o) }))
        .finally(async () => {
          clearInterval(keepalive);
          if (!closed) {
            closed = true;
            controller.close();
          }
          await after().catch(() => {});
        });
    },
    cancel() {
      closed = true;
    },
  });
  return new Response(stream, {
    status: 200,
    headers: { "content-type": "application/x-ndjson", "cache-control": "no-cache" },
  });
}

/** An error as a client may read it: a refusal as it is; a failure without local paths; a bug by its id. */
export function clientError(err: unknown, o: StreamOptions): ReturnType<typeof streamedError> {
  const kind = errorKind(err);
  if (kind !== "operation" && kind !== "internal") return streamedError(err);
  const id = randomBytes(6).toString("hex");
  o.log(`error ${id} in a deploy stream: ${(err as Error).stack ?? String(err)}`);
  const message =
    kind === "operation"
      ? `${withoutLocalPaths((err as Error).message, o.dataDir)} (error id ${id})`
      : `internal error (id ${id})`;
  return { kind, message, problems: [] };
}
