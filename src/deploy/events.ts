// A deploy's events: each goes to the caller at once (the CLI's stream) and to the release's record in
// the order emitted, masked on the way out.
import type { Release, Store } from "../store/index.js";
import type { DeployMasker } from "./masking.js";
import type { DeployProgress } from "./state.js";

/** Events go to the caller at once and to the store in order (one chain, so seqs follow emission). */
export class EventLog {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly store: Store;
  private readonly release: Release;
  private readonly onEvent: ((e: DeployProgress) => void) | undefined;
  private readonly log: (line: string) => void;
  private readonly masker: DeployMasker;
  constructor(
    store: Store,
    release: Release,
    onEvent: ((e: DeployProgress) => void) | undefined,
    log: (line: string) => void,
    masker: DeployMasker,
  ) {
    this.store = store;
    this.release = release;
    this.onEvent = onEvent;
    this.log = log;
    this.masker = masker;
  }
  emit = (
    type: string,
    message: string,
    data?: unknown,
    level: "info" | "warn" | "error" = "info",
    service?: string,
  ) => {
    const e: DeployProgress = this.masker.redact({
      at: Date.now(),
      level,
      type,
      message,
      release: this.release.number,
      data,
      service,
    });
    this.log(`#${this.release.number} ${e.message}`);
    try {
      this.onEvent?.(e);
    } catch {
      // A client that went away does not stop the deploy.
    }
    this.chain = this.chain
      .then(() =>
        this.store.releases.addEvent(this.release.id, {
          type: e.type,
          message: e.message,
          level,
          service: e.service,
          data: e.data,
          now: e.at,
        }),
      )
      .catch(() => {});
  };
  flush(): Promise<unknown> {
    return this.chain;
  }
}

export type Emit = EventLog["emit"];
