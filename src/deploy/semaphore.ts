// The host's start limit (spec.maxStarting): at most this many instances are starting at once, across
// services; a waiter gives up when its signal aborts.
export class Semaphore {
  private free: number;
  private waiters: (() => void)[] = [];
  size = 1;
  constructor(n: number) {
    this.free = Math.max(1, n);
  }
  resize(n: number) {
    this.free += Math.max(1, n) - this.size;
    this.size = Math.max(1, n);
    while (this.free > 0 && this.waiters.length > 0) {
      this.free--;
      this.waiters.shift()!();
    }
  }
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.free > 0) this.free--;
    else
      await new Promise<void>((resolve, reject) => {
        const go = () => {
          signal?.removeEventListener("abort", stop);
          resolve();
        };
        const stop = () => {
          this.waiters = this.waiters.filter((w) => w !== go);
          reject(signal!.reason);
        };
        this.waiters.push(go);
        signal?.addEventListener("abort", stop, { once: true });
      });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.free++;
    };
  }
}
