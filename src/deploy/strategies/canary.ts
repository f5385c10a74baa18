// canary: move traffic to the new revision in steps (setWeight), holding at each pause while the
// router's own figures for the canary are checked against the thresholds. A failed check or `slipway
// abort` sends everything back to the old revision; `slipway promote` skips the remaining steps.
// Requests matching the header/cookie rule go to the canary from the first step.
import type { RouteRule } from "../../traffic/index.js";
import { CanaryAborted, type Rollout } from "./types.js";

export async function canary(r: Rollout): Promise<void> {
  if (r.service.strategy.type !== "canary") throw new Error("canary() needs a canary strategy");
  const { steps, analysis, match } = r.service.strategy;
  const prev = r.previous?.revision;
  const desired = r.service.replicas;
  const rules: RouteRule[] = [];
  if (match?.header) rules.push({ header: match.header, value: match.value, version: r.revision });
  if (match?.cookie) rules.push({ cookie: match.cookie, value: match.value, version: r.revision });
  // Enough canary instances for the share of traffic they take (at least one).
  const scaleTo = async (weight: number) => {
    const want = Math.max(1, Math.ceil((desired * weight) / 100));
    const have = r.members(r.revision).length;
    if (want > have) await r.start(want - have);
  };
  const setWeight = async (weight: number) => {
    if (!prev || r.members(prev).length === 0) return r.route({ [r.revision]: 100 });
    await r.route({ [r.revision]: weight, [prev]: 100 - weight }, rules);
  };
  const check = () => {
    if (!analysis) return;
    const f = r.figures();
    if (f.requests < analysis.minRequests) return;
    if (analysis.maxErrorRate !== undefined && f.errorRate > analysis.maxErrorRate)
      throw new CanaryAborted(
        `canary ${r.revision}: error rate ${(f.errorRate * 100).toFixed(2)}% over ${f.requests} requests exceeds ${(analysis.maxErrorRate * 100).toFixed(2)}%`,
      );
    if (analysis.maxP99Ms !== undefined && f.p99 !== null && f.p99 > analysis.maxP99Ms)
      throw new CanaryAborted(
        `canary ${r.revision}: p99 ${f.p99.toFixed(1)} ms exceeds ${analysis.maxP99Ms} ms`,
      );
  };
  // Holds for ms (or until a command), checking the analysis every interval.
  const hold = async (ms: number | undefined): Promise<"promote" | "continue"> => {
    const until = ms === undefined ? undefined : Date.now() + ms;
    for (;;) {
      const left = until === undefined ? undefined : until - Date.now();
      if (left !== undefined && left <= 0) return "continue";
      const slice = analysis ? Math.min(analysis.intervalMs, left ?? analysis.intervalMs) : left;
      const cmd = await r.waitForCommand(slice);
      if (cmd === "abort") throw new CanaryAborted(`canary ${r.revision}: aborted (slipway abort)`);
      if (cmd === "promote") return "promote";
      check();
    }
  };

  try {
    let promoted = false;
    for (const step of steps) {
      r.signal.throwIfAborted();
      if ("setWeight" in step) {
        await scaleTo(step.setWeight);
        await setWeight(step.setWeight);
        r.emit("canary.weight", `${r.revision} takes ${step.setWeight}% of ${r.service.name}'s traffic`, {
          weight: step.setWeight,
        });
        check();
      } else {
        const ms = step.pause.durationMs;
        r.emit(
          "canary.pause",
          ms === undefined
            ? `paused until \`slipway promote\` (or \`slipway abort\`)`
            : `pausing ${Math.round(ms / 1000)} s while the canary is analysed`,
          { durationMs: ms ?? null },
        );
        if ((await hold(ms)) === "promote") {
          r.emit("canary.promote", `promoted ${r.revision}`);
          promoted = true;
          break;
        }
      }
    }
    if (!promoted) check();
    // Promotion starts the rest of the new set first: if one fails, the old set still serves it all.
    await scaleTo(100);
  } catch (err) {
    if (prev && r.members(prev).length > 0) await r.route({ [prev]: 100 });
    r.emit("canary.abort", (err as Error).message, undefined, "error");
    await r.retire(r.members(r.revision));
    throw err;
  }
  // Promotion: the full new set (above), then all traffic, then the old set drained.
  await r.route({ [r.revision]: 100 });
  if (prev) await r.retire(r.members(prev));
}
