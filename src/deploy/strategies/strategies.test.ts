// Each strategy's story as the sequence of operations it asks of a Rollout (nothing runs: the fake
// records them), and what it undoes when a step fails: after any failure the previous revision serves
// with all its instances, the new revision has none, and the error reaches the caller.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { OperationError } from "../../lib/errors.js";
import { CanaryAborted, HealthError } from "../errors.js";
import { testService as svc } from "../runtimes/testing.js";
import { fakeRollout } from "../testing.js";
import type { StrategySpec } from "../types.js";
import { strategies } from "./index.js";

const service = (strategy: StrategySpec, replicas = 3) => svc({ name: "api", replicas, strategy });
const rolling = service({ type: "rolling", maxSurge: 1, maxUnavailable: 0 });
const blueGreen = service({ type: "blue-green", keepOldMs: 60_000, warmup: { path: "/warm", requests: 2 } });
const recreate = service({ type: "recreate" });
const canary = service({
  type: "canary",
  steps: [{ setWeight: 20 }, { pause: { durationMs: 1000 } }, { setWeight: 50 }, { pause: {} }],
  analysis: { intervalMs: 1000, maxErrorRate: 0.05, minRequests: 10 },
  match: { header: "x-canary", value: "1" },
});

const fromR1 = (count = 3) => ({ revision: "r1", count });

/** Runs the strategy; returns the fake and what it threw (undefined when it succeeded). */
async function run(r: ReturnType<typeof fakeRollout>) {
  const err = await strategies[r.service.strategy.type](r).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { r, err };
}

/** How many start() calls the successful run makes: each is a step that can fail. */
async function startsOf(options: Parameters<typeof fakeRollout>[0]) {
  const { r } = await run(fakeRollout(options));
  return r.ops.filter((op) => op.startsWith("start")).length;
}

/** A failure at each start() restores the previous revision fully and leaves nothing of the new one. */
async function expectUndoAtEachStart(options: Parameters<typeof fakeRollout>[0]) {
  const n = await startsOf(options);
  expect(n).toBeGreaterThan(0);
  for (let failStart = 0; failStart < n; failStart++) {
    const { r, err } = await run(fakeRollout({ ...options, failStart }));
    expect(err, `start #${failStart}`).toBeInstanceOf(HealthError);
    expect(r.counts(), `start #${failStart}: ${r.ops.join(" → ")}`).toEqual({ r1: options.previous!.count });
    const routes = r.ops.filter((op) => op.startsWith("route"));
    if (routes.length > 0) expect(routes.at(-1), r.ops.join(" → ")).toBe("route {r1:100}");
  }
}

describe("rolling", () => {
  it("replaces one instance at a time, never below the desired count, traffic following the counts", async () => {
    const { r, err } = await run(fakeRollout({ service: rolling, revision: "r2", previous: fromR1() }));
    expect(err).toBeUndefined();
    expect(r.ops).toEqual([
      "start r2 ×1",
      "route {r2:25,r1:75}",
      "stop r1 ×1",
      "route {r2:33,r1:67}",
      "start r2 ×1",
      "route {r2:50,r1:50}",
      "stop r1 ×1",
      "route {r2:67,r1:33}",
      "start r2 ×1",
      "route {r2:75,r1:25}",
      "stop r1 ×1",
      "route {r2:100}",
      "route {r2:100}",
    ]);
    expect(r.counts()).toEqual({ r2: 3 });
  });

  it("on the first deploy starts everything it may at once", async () => {
    const { r } = await run(fakeRollout({ service: rolling, revision: "r1" }));
    expect(r.ops).toEqual(["start r1 ×3", "route {r1:100}", "route {r1:100}"]);
  });

  it("when the second new instance fails: restarts the retired old one, routes back, stops the new", async () => {
    const { r, err } = await run(
      fakeRollout({ service: rolling, revision: "r2", previous: fromR1(), failStart: 1 }),
    );
    expect(err).toBeInstanceOf(HealthError);
    expect(r.ops).toEqual([
      "start r2 ×1",
      "route {r2:25,r1:75}",
      "stop r1 ×1",
      "route {r2:33,r1:67}",
      "start r2 ×1 ✗",
      "start r1 ×1",
      "route {r1:100}",
      "stop r2 ×1",
    ]);
  });

  it("undoes a failure at each step", () =>
    expectUndoAtEachStart({ service: rolling, revision: "r2", previous: fromR1() }));
});

describe("blue-green", () => {
  it("starts the whole green set, warms it, switches in one swap and keeps blue idle", async () => {
    const { r, err } = await run(fakeRollout({ service: blueGreen, revision: "r2", previous: fromR1() }));
    expect(err).toBeUndefined();
    expect(r.ops).toEqual(["start r2 ×3", "warm up r2 ×3 2 × /warm", "route {r2:100}", "keep r1 ×3 60000ms"]);
    expect(r.counts()).toEqual({ r2: 3 });
  });

  it("when green fails to become ready: blue was never touched", async () => {
    const { r, err } = await run(
      fakeRollout({ service: blueGreen, revision: "r2", previous: fromR1(), failStart: 0 }),
    );
    expect(err).toBeInstanceOf(HealthError);
    expect(r.ops).toEqual(["start r2 ×3 ✗"]);
    expect(r.counts()).toEqual({ r1: 3 });
  });

  it("when aborted before the switch: green is stopped, blue still serves", async () => {
    const r = fakeRollout({ service: blueGreen, revision: "r2", previous: fromR1() });
    const warmUp = r.warmUp;
    r.warmUp = async (...args) => {
      await warmUp(...args);
      r.abort(new CanaryAborted("aborted (slipway abort)"));
    };
    const { err } = await run(r);
    expect(err).toBeInstanceOf(CanaryAborted);
    expect(r.ops).toEqual(["start r2 ×3", "warm up r2 ×3 2 × /warm", "stop r2 ×3"]);
    expect(r.counts()).toEqual({ r1: 3 });
  });

  it("undoes a failure at each step", () =>
    expectUndoAtEachStart({ service: blueGreen, revision: "r2", previous: fromR1() }));
});

describe("recreate", () => {
  it("stops everything old, then starts the new set", async () => {
    const { r, err } = await run(fakeRollout({ service: recreate, revision: "r2", previous: fromR1() }));
    expect(err).toBeUndefined();
    expect(r.ops).toEqual(["route {}", "stop r1 ×3", "start r2 ×3", "route {r2:100}"]);
    expect(r.events).toContain("strategy.recreate");
  });

  it("when the new set fails: starts the old set again and routes to it", async () => {
    const { r, err } = await run(
      fakeRollout({ service: recreate, revision: "r2", previous: fromR1(), failStart: 0 }),
    );
    expect(err).toBeInstanceOf(HealthError);
    expect(r.ops).toEqual(["route {}", "stop r1 ×3", "start r2 ×3 ✗", "start r1 ×3", "route {r1:100}"]);
  });

  it("undoes a failure at each step", () =>
    expectUndoAtEachStart({ service: recreate, revision: "r2", previous: fromR1() }));
});

describe("canary", () => {
  // The canary's pauses read Date.now(): a wait that elapses moves the (fake) clock by its length.
  beforeEach(() => void vi.useFakeTimers({ toFake: ["Date"] }));
  afterEach(() => void vi.useRealTimers());
  const advance = (ms: number) => vi.setSystemTime(Date.now() + ms);
  const healthy = { requests: 100, errors: 0, errorRate: 0, p99: 12 };
  const failing = { requests: 100, errors: 30, errorRate: 0.3, p99: 12 };

  it("steps the weight, holds, analyses, and on promote rolls the rest out and stops the old set", async () => {
    const { r, err } = await run(
      fakeRollout({
        service: canary,
        revision: "r2",
        previous: fromR1(),
        advance,
        commands: ["elapsed", "promote"],
        figures: [healthy],
      }),
    );
    expect(err).toBeUndefined();
    expect(r.ops).toEqual([
      "start r2 ×1",
      "route {r2:20,r1:80} +1 rule(s)",
      "wait 1000ms → elapsed",
      "start r2 ×1",
      "route {r2:50,r1:50} +1 rule(s)",
      "wait 1000ms → promote",
      "start r2 ×1",
      "route {r2:100}",
      "stop r1 ×3",
    ]);
    expect(r.events).toContain("canary.promote");
  });

  it("aborts when the analysis finds too many errors: all traffic back, canary stopped", async () => {
    const { r, err } = await run(
      fakeRollout({ service: canary, revision: "r2", previous: fromR1(), advance, figures: [failing] }),
    );
    expect(err).toBeInstanceOf(CanaryAborted);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toContain("error rate 30.00%");
    expect(r.ops).toEqual(["start r2 ×1", "route {r2:20,r1:80} +1 rule(s)", "route {r1:100}", "stop r2 ×1"]);
  });

  it("aborts at a pause on `slipway abort`", async () => {
    const { r, err } = await run(
      fakeRollout({
        service: canary,
        revision: "r2",
        previous: fromR1(),
        advance,
        commands: ["elapsed", "abort"],
      }),
    );
    expect(err).toBeInstanceOf(CanaryAborted);
    expect(r.ops.slice(-3)).toEqual(["wait 1000ms → abort", "route {r1:100}", "stop r2 ×2"]);
    expect(r.counts()).toEqual({ r1: 3 });
  });

  it("aborts when the analysis fails at each later check", async () => {
    for (let healthyReads = 1; healthyReads <= 3; healthyReads++) {
      const figures = [...Array(healthyReads).fill(healthy), failing];
      const { r, err } = await run(
        fakeRollout({
          service: canary,
          revision: "r2",
          previous: fromR1(),
          advance,
          commands: ["elapsed", "elapsed"],
          figures,
        }),
      );
      expect(err, `after ${healthyReads} good read(s)`).toBeInstanceOf(CanaryAborted);
      expect(r.counts()).toEqual({ r1: 3 });
      expect(r.ops.at(-2)).toBe("route {r1:100}");
    }
  });

  it("undoes a failure at each step", () =>
    expectUndoAtEachStart({
      service: canary,
      revision: "r2",
      previous: fromR1(),
      advance,
      commands: ["elapsed", "promote"],
    }));
});
