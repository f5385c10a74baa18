// Masking for deploys: the runner's masker (the same values, encodings and merge rules as a run's log),
// fed with every secret value the deployer resolved for the environment (env and file secrets), applied
// where a deploy's text leaves the deployer: its store writes (release rows and events), the progress
// events it streams, its notices, its log lines and the errors it throws. Everything downstream (the
// agent's socket stream, the server's API, notifications) only ever sees what passed through here.
import type { Release, Store } from "../store/index.js";
import { Masker } from "../runner/index.js";

export class DeployMasker {
  readonly #masker = new Masker();

  /** Registers resolved secret values (whole, line by line, and in their encoded forms). */
  add(values: Iterable<string>): void {
    for (const v of values) this.#masker.add(v);
  }

  get size(): number {
    return this.#masker.size;
  }

  mask(text: string): string {
    return this.#masker.mask(text);
  }

  /** A copy of a JSON-like value with every string (keys included) masked. */
  redact<T>(value: T): T {
    if (this.#masker.size === 0) return value;
    return this.#redact(value, 0) as T;
  }

  #redact(value: unknown, depth: number): unknown {
    if (typeof value === "string") return this.#masker.mask(value);
    if (value === null || typeof value !== "object" || depth > 32) return value;
    if (Array.isArray(value)) return value.map((v) => this.#redact(v, depth + 1));
    if (value instanceof Error) {
      value.message = this.#masker.mask(value.message);
      return value;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[this.#masker.mask(k)] = this.#redact(v, depth + 1);
    return out;
  }

  /** An error with its message (and its causes' messages) masked; the class is kept. */
  error<E>(err: E): E {
    for (let e: unknown = err, n = 0; e instanceof Error && n < 8; e = e.cause, n++) {
      e.message = this.mask(e.message);
      const extra = e as Error & { problems?: unknown; release?: Release };
      if (extra.problems) extra.problems = this.redact(extra.problems);
      if (extra.release) extra.release = this.redact(extra.release);
    }
    return err;
  }

  /**
   * The store as the deployer writes through it: every release's text (error, phase) and every event is
   * masked on the way in, so no code path of the deployer (deploys, rollbacks, recovery, self-healing)
   * can store a clear secret. The spec is not touched: it is the desired state from slipway.yaml (secret
   * *names*), which a rollback deploys again as it was.
   */
  store(store: Store): Store {
    const releases = store.releases;
    const text = <T extends { error?: string | null; phase?: string }>(o: T): T => ({
      ...o,
      ...(typeof o.error === "string" ? { error: this.mask(o.error) } : {}),
      ...(typeof o.phase === "string" ? { phase: this.mask(o.phase) } : {}),
    });
    const masked: Store["releases"] = {
      ...releases,
      update: (id, patch) => releases.update(id, text(patch)),
      finish: (id, status, extra) => releases.finish(id, status, extra && text(extra)),
      addEvent: (id, input) => releases.addEvent(id, this.redact(input)),
    };
    return { ...store, releases: masked };
  }
}
