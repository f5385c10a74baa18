import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UserError } from "../../lib/errors.js";
import { files, haproxyConfig, initialMaps, watchdogLua, WEIGHT_SLOTS } from "./config.js";
import { outcomeOf, parseLogLine } from "./log.js";
import {
  anchorRegex,
  cliWord,
  emptyPlacement,
  planBackends,
  planRoutes,
  ruleRegex,
  weightSequence,
} from "./plan.js";
import { findHaproxy } from "./process.js";

describe("weightSequence", () => {
  it("gives each version its exact share, interleaved", () => {
    const seq = weightSequence({ v1: 80, v2: 20, v3: 0 }, (v) => v);
    expect(seq).toHaveLength(WEIGHT_SLOTS);
    expect(seq.filter((b) => b === "v2")).toHaveLength(200);
    // Smooth: every window of 5 consecutive requests holds exactly one v2.
    for (let i = 0; i + 5 <= 100; i += 5)
      expect(seq.slice(i, i + 5).filter((b) => b === "v2")).toHaveLength(1);
  });

  it("rounds fractional weights by largest remainder to 0.1%, and all zero to no backend", () => {
    const seq = weightSequence({ a: 33.33, b: 33.33, c: 33.34 }, (v) => v);
    expect(["a", "b", "c"].map((v) => seq.filter((x) => x === v).length)).toEqual([333, 333, 334]);
    expect(new Set(weightSequence({ a: 0 }, (v) => v))).toEqual(new Set(["none"]));
  });
});

describe("rule regexes", () => {
  // PCRE and JS agree on these constructs, so JS can check what HAProxy will match.
  const block = (...lines: string[]) => `${lines.join("\r\n")}\r\n\r\n`;
  const matches = (re: string, text: string) => {
    const m = /^\(\?m\)/.exec(re);
    const body = re
      .slice(m ? 4 : 0)
      .replace(/\(\?i:([^)]*)\)/g, (_, n: string) =>
        n.replace(/[a-z]/gi, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`),
      );
    return new RegExp(body, "m").test(text);
  };

  it("matches a header's whole value, its name in any case", () => {
    const re = ruleRegex({ header: "X-Canary", value: "always", version: "v2" });
    expect(matches(re, block("host: a", "x-canary: always"))).toBe(true);
    expect(matches(re, block("X-CANARY: always"))).toBe(true);
    expect(matches(re, block("x-canary: always1"))).toBe(false);
    expect(matches(re, block("x-other: x-canary: always"))).toBe(false);
  });

  it("anchors a header regex to the value", () => {
    const re = ruleRegex({ header: "X-User", regex: "^(ann|bob)$", version: "v2" });
    expect(matches(re, block("x-user: bob"))).toBe(true);
    expect(matches(re, block("x-user: bobby"))).toBe(false);
    const loose = ruleRegex({ header: "X-User", regex: "ob", version: "v2" });
    expect(matches(loose, block("x-user: bobby"))).toBe(true);
  });

  it("finds one cookie's value among others, quoted or not", () => {
    const value = ruleRegex({ cookie: "canary", value: "yes", version: "v2" });
    expect(matches(value, block("cookie: session=abc; canary=yes"))).toBe(true);
    expect(matches(value, block('cookie: canary="yes"; x=1'))).toBe(true);
    expect(matches(value, block("cookie: canary=yesno"))).toBe(false);
    expect(matches(value, block("cookie: nocanary=yes"))).toBe(false);
    const re = ruleRegex({ cookie: "canary", regex: "^(1|yes)$", version: "v2" });
    expect(matches(re, block("cookie: a=b; canary=1"))).toBe(true);
    expect(matches(re, block('cookie: canary="1"'))).toBe(true);
    expect(matches(re, block("cookie: canary=12"))).toBe(false);
  });

  it("rewrites only the anchors outside character classes and escapes", () => {
    expect(anchorRegex("^a[^$]\\$b$", "<", ">")).toBe("<a[^$]\\$b>");
    expect(anchorRegex("[]^]x", "<", ">")).toBe("[]^]x");
  });

  it("escapes separators of the admin socket's command line", () => {
    expect(cliWord("a b;c\\d")).toBe("a\\ b\\;c\\\\d");
  });

  it("refuses a control character: a newline would end the map entry and start a second command", () => {
    expect(() => cliWord("always\nshutdown sessions server ver0/i1")).toThrow(UserError);
    expect(() => cliWord("a\rb")).toThrow(/control character/);
    expect(() => cliWord("a\u0000b")).toThrow(/control character/);
    // Through the rule builder too: a rule value with a newline never becomes a runtime command.
    expect(() =>
      planRoutes(
        { weights: { v1: 100 }, rules: [{ header: "X-Canary", value: "a\nshow info", version: "v1" }] },
        { ...emptyPlacement(2, 2), versions: new Map([["v1", 0]]) },
        "/tmp/x",
      ).commands[0].fill("1"),
    ).toThrow(/control character/);
  });
});

describe("planBackends", () => {
  it("keeps an instance's slot across reconfigurations and reuses freed slots last", () => {
    const p0 = emptyPlacement(2, 3);
    const one = planBackends(p0, { v1: [{ id: "a", url: "http://127.0.0.1:1001" }] }, 3);
    expect(one.before).toContain("set server ver0/i1 addr 127.0.0.1 port 1001");
    expect(one.before).toContain("set server wsver0/i1 state ready");
    const two = planBackends(
      one.placement,
      {
        v1: [
          { id: "a", url: "http://127.0.0.1:1001" },
          { id: "b", url: "http://localhost:1002" },
        ],
      },
      3,
    );
    expect(two.before.join("\n")).not.toContain("i1 ");
    expect(two.before).toContain("set server ver0/i2 addr 127.0.0.1 port 1002");
    const three = planBackends(two.placement, { v2: [{ id: "c", url: "http://[::1]:1003" }] }, 3);
    expect(three.after).toEqual(
      expect.arrayContaining(["set server ver0/i1 state maint", "set server ver0/i2 state maint"]),
    );
    expect(three.before).toContain("set server ver1/i1 addr ::1 port 1003");
    expect(three.versionsChanged).toBe(true);
  });

  it("refuses more versions or instances than there are slots, and host names", () => {
    const p0 = emptyPlacement(1, 1);
    expect(() =>
      planBackends(
        p0,
        { v1: [{ id: "a", url: "http://127.0.0.1:1" }], v2: [{ id: "b", url: "http://127.0.0.1:2" }] },
        1,
      ),
    ).toThrow(/at most 1 versions/);
    expect(() =>
      planBackends(
        p0,
        {
          v1: [
            { id: "a", url: "http://127.0.0.1:1" },
            { id: "b", url: "http://127.0.0.1:2" },
          ],
        },
        1,
      ),
    ).toThrow(/at most 1 instances per version/);
    expect(() => planBackends(p0, { v1: [{ id: "a", url: "http://app.internal:1" }] }, 1)).toThrow(UserError);
    expect(() => planBackends(p0, { v1: [{ id: "a", url: "https://127.0.0.1:1" }] }, 1)).toThrow(
      /http: instances only/,
    );
  });
});

describe("log lines", () => {
  it("tells instance 5xx, proxy failures, client aborts and retries apart", () => {
    const parse = (l: string) => outcomeOf(parseLogLine(l)!);
    expect(parseLogLine("slw v1 ver0 i1 200 -- +1 1500")).toMatchObject({
      version: "v1",
      retries: 1,
      activeMs: 1.5,
    });
    expect(parse("slw v1 ver0 i1 500 -- 0 800")).toMatchObject({
      error5xx: true,
      failed: false,
      latencyMs: 0.8,
    });
    expect(parse("slw v1 ver0 i1 503 SC 1 800")).toMatchObject({
      error5xx: false,
      failed: true,
      latencyMs: -1,
    });
    expect(parse("slw v1 ver0 i1 504 sH 0 800")).toMatchObject({ failed: true });
    expect(parse("slw v1 ver0 i1 200 CD 0 800")).toMatchObject({ aborted: true, failed: false });
    expect(parse("slw v1 wsver0 i1 101 -- 0 9000")).toMatchObject({ websocket: true, latencyMs: -1 });
    // No version chosen (no route): HAProxy answered 503 itself; the line counts (as unrouted).
    expect(parseLogLine("slw - none <NOSRV> 503 SC 0 10")).toMatchObject({ version: "-", status: 503 });
    expect(parseLogLine("Server ver0/i1 is DOWN")).toBeUndefined();
  });
});

describe("haproxy configuration", () => {
  it("is accepted by haproxy -c", () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-haproxy-config-"));
    try {
      const text = haproxyConfig({
        dir,
        bind: "127.0.0.1:18099",
        versionSlots: 2,
        instanceSlots: 4,
        threads: 1,
        balance: "round-robin",
        versionHeader: "X-Slipway-Version",
        trustForwarded: true,
        connectTimeoutMs: 5000,
        responseTimeoutMs: 60_000,
        upstreamIdleMs: 4000,
        maxSocketsPerInstance: 16,
      });
      writeFileSync(files.config(dir), text);
      writeFileSync(files.watchdog(dir), watchdogLua);
      for (const [f, t] of Object.entries(initialMaps(dir))) writeFileSync(f, t);
      const out = execFileSync(findHaproxy(), ["-c", "-f", files.config(dir)], {
        encoding: "utf8",
        stdio: "pipe",
      });
      expect(out).toContain("Configuration file is valid");
      expect(text).toContain("backend wsver1");
      expect(text).toContain("maxconn 16");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
