// BuildKit's progress, as the Engine API streams it: each `moby.buildkit.trace` message carries a base64
// protobuf StatusResponse (vertexes = build steps, logs = their output, warnings). This turns them into
// the plain lines `docker build --progress=plain` prints ("#5 [2/4] RUN make", "#5 CACHED", "#5 DONE 1.2s")
// and remembers the step that failed, so a failed build names its instruction as the legacy builder's did.
import protobuf from "protobufjs";

// The fields slipway reads, with BuildKit's field numbers (api/services/control/control.proto).
const timestamp = { fields: { seconds: { type: "int64", id: 1 }, nanos: { type: "int32", id: 2 } } };
const root = protobuf.Root.fromJSON({
  nested: {
    Timestamp: timestamp,
    Vertex: {
      fields: {
        digest: { type: "string", id: 1 },
        name: { type: "string", id: 3 },
        cached: { type: "bool", id: 4 },
        started: { type: "Timestamp", id: 5 },
        completed: { type: "Timestamp", id: 6 },
        error: { type: "string", id: 7 },
      },
    },
    VertexLog: {
      fields: { vertex: { type: "string", id: 1 }, msg: { type: "bytes", id: 4 } },
    },
    VertexWarning: {
      fields: { vertex: { type: "string", id: 1 }, short: { type: "bytes", id: 3 } },
    },
    StatusResponse: {
      fields: {
        vertexes: { rule: "repeated", type: "Vertex", id: 1 },
        logs: { rule: "repeated", type: "VertexLog", id: 3 },
        warnings: { rule: "repeated", type: "VertexWarning", id: 4 },
      },
    },
  },
});
/** The StatusResponse message type (exported for tests that encode progress). */
export const statusType = root.lookupType("StatusResponse");

type Time = { seconds?: number | string; nanos?: number };
type Vertex = {
  digest: string;
  name?: string;
  cached?: boolean;
  started?: Time;
  completed?: Time;
  error?: string;
};
type Status = {
  vertexes?: Vertex[];
  logs?: { vertex: string; msg: Uint8Array }[];
  warnings?: { vertex: string; short: Uint8Array }[];
};

export function decodeStatus(base64: string): Status {
  const message = statusType.decode(Buffer.from(base64, "base64"));
  return statusType.toObject(message, { longs: Number, defaults: false }) as Status;
}

const seconds = (t: Time) => Number(t.seconds ?? 0) + (t.nanos ?? 0) / 1e9;

/** What a failed vertex said: its name (`[stage-0 3/4] RUN make`) and error. */
export type FailedStep = { step?: string; instruction: string; error: string };

/**
 * Turns a stream of status messages into numbered plain lines. One instance per build: the numbers
 * (#1, #2, …) are assigned in the order vertexes first appear, as BuildKit's plain printer does.
 */
export class BuildKitPrinter {
  private readonly numbers = new Map<string, number>();
  private readonly names = new Map<string, string>();
  private readonly announced = new Set<string>();
  private readonly finished = new Set<string>();
  private partial = new Map<string, string>();
  failed?: FailedStep;

  private readonly print: (line: string) => void;

  constructor(print: (line: string) => void) {
    this.print = print;
  }

  private number(digest: string): number {
    let n = this.numbers.get(digest);
    if (n === undefined) {
      n = this.numbers.size + 1;
      this.numbers.set(digest, n);
    }
    return n;
  }

  /** Feeds one decoded `moby.buildkit.trace` payload. */
  write(base64: string): void {
    const status = decodeStatus(base64);
    for (const v of status.vertexes ?? []) {
      const n = this.number(v.digest);
      if (v.name) this.names.set(v.digest, v.name);
      const name = this.names.get(v.digest) ?? v.digest.slice(0, 19);
      if (!this.announced.has(v.digest) && (v.started || v.cached)) {
        this.announced.add(v.digest);
        this.print(`#${n} ${name}`);
      }
      if (this.finished.has(v.digest)) continue;
      if (v.error) {
        this.finished.add(v.digest);
        this.flush(v.digest);
        this.print(`#${n} ERROR: ${v.error}`);
        // The first failure is the cause; later ones are usually its consequences ("canceled").
        if (!this.failed) {
          const m = /^\[(?:[^\]]*?\s)?(\d+\/\d+)\]\s*(.*)$/.exec(name);
          this.failed = { step: m?.[1], instruction: m ? m[2] : name, error: v.error };
        }
      } else if (v.cached) {
        this.finished.add(v.digest);
        this.print(`#${n} CACHED`);
      } else if (v.completed && v.started) {
        this.finished.add(v.digest);
        this.flush(v.digest);
        this.print(`#${n} DONE ${(seconds(v.completed) - seconds(v.started)).toFixed(1)}s`);
      }
    }
    for (const l of status.logs ?? []) {
      const n = this.number(l.vertex);
      const text = (this.partial.get(l.vertex) ?? "") + Buffer.from(l.msg).toString("utf8");
      const lines = text.split(/\r?\n/);
      this.partial.set(l.vertex, lines.pop() ?? "");
      for (const line of lines) this.print(`#${n} ${line}`);
    }
    for (const w of status.warnings ?? []) {
      this.print(`#${this.number(w.vertex)} WARNING: ${Buffer.from(w.short).toString("utf8")}`);
    }
  }

  private flush(digest: string): void {
    const rest = this.partial.get(digest);
    if (rest) this.print(`#${this.number(digest)} ${rest}`);
    this.partial.delete(digest);
  }
}
