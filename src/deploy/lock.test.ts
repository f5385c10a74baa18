// The deploy lock with --wait, on a real store: the wait says whom it waits for and for how long, when it
// starts and every 5 s (not every poll), and the lock is taken as soon as the holder lets go.
import { describe, expect, it } from "vitest";
import { useStore } from "../../test/support/store.js";
import type { Release } from "../store/index.js";
import { takeDeployLock } from "./lock.js";
import type { DeployContext } from "./state.js";

describe("waiting for the deploy lock", () => {
  const ctx = useStore("sqlite");

  it("says whom it waits for and how long so far, every 5 s, then takes the lock", async () => {
    const store = ctx.store;
    const held = await store.deployLocks.acquire({
      app: "shop",
      env: "production",
      holder: "agent-a",
      ttlMs: 60_000,
      releaseId: 7,
    });
    expect(held.acquired).toBe(true);
    const deploy = { app: "shop", env: "production", o: { store, holder: "agent-b", lockTtlMs: 60_000 } };
    const said: string[] = [];
    const letGo = setTimeout(() => {
      void store.deployLocks.release({ app: "shop", env: "production", holder: "agent-a" });
    }, 6_500);
    const started = Date.now();
    const stop = await takeDeployLock(deploy as unknown as DeployContext, { id: 8 } as Release, {
      wait: true,
      signal: new AbortController().signal,
      emit: (_kind: string, message: string) => said.push(message),
    });
    const waited = Date.now() - started;
    clearTimeout(letGo);
    stop();
    expect(said[0]).toBe("waiting for agent-a to finish its deploy (release 7), 0 s so far");
    // Once when the wait starts, then once per 5 s at most (it polls every second).
    expect(said.length).toBeGreaterThanOrEqual(2);
    expect(said.length).toBeLessThanOrEqual(Math.floor(waited / 5000) + 1);
    const seconds = said.map((m) => Number(/, (\d+) s so far$/.exec(m)?.[1]));
    expect(seconds[1]).toBeGreaterThanOrEqual(5);
    const now = await store.deployLocks.acquire({
      app: "shop",
      env: "production",
      holder: "agent-c",
      ttlMs: 60_000,
      releaseId: 9,
    });
    expect(now).toMatchObject({ acquired: false, holder: "agent-b" });
  }, 30_000);
});
