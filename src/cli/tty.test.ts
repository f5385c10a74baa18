// One colour decision for every command: the switches people and CI systems use, in the order they win.
import { afterEach, describe, expect, it } from "vitest";
import { colorEnabled, makeStyle, setColorFlag } from "./tty.js";

const tty = { isTTY: true };
const pipe = { isTTY: false };

afterEach(() => setColorFlag(undefined));

describe("colorEnabled", () => {
  it("colours a terminal, not a pipe or a file", () => {
    expect(colorEnabled({ stream: tty, env: {} })).toBe(true);
    expect(colorEnabled({ stream: pipe, env: {} })).toBe(false);
  });

  it("turns off for --no-color, NO_COLOR, --json, CI and a dumb terminal", () => {
    expect(colorEnabled({ stream: tty, env: {}, flag: false })).toBe(false);
    expect(colorEnabled({ stream: tty, env: { NO_COLOR: "1" } })).toBe(false);
    expect(colorEnabled({ stream: tty, env: {}, json: true })).toBe(false);
    expect(colorEnabled({ stream: tty, env: { CI: "true" } })).toBe(false);
    expect(colorEnabled({ stream: tty, env: { TERM: "dumb" } })).toBe(false);
    // no-color.org: an empty NO_COLOR is as if unset.
    expect(colorEnabled({ stream: tty, env: { NO_COLOR: "" } })).toBe(true);
  });

  it("keeps colour with FORCE_COLOR without a terminal and in CI logs that render ANSI", () => {
    expect(colorEnabled({ stream: pipe, env: { FORCE_COLOR: "1" } })).toBe(true);
    expect(
      colorEnabled({ stream: pipe, env: { CI: "true", GITHUB_ACTIONS: "true", FORCE_COLOR: "1" } }),
    ).toBe(true);
    expect(colorEnabled({ stream: tty, env: { FORCE_COLOR: "0" } })).toBe(false);
    expect(colorEnabled({ stream: tty, env: { FORCE_COLOR: "false" } })).toBe(false);
  });

  it("lets the explicit no win over FORCE_COLOR: --no-color, NO_COLOR and --json", () => {
    expect(colorEnabled({ stream: tty, env: { FORCE_COLOR: "1" }, flag: false })).toBe(false);
    expect(colorEnabled({ stream: tty, env: { FORCE_COLOR: "1", NO_COLOR: "1" } })).toBe(false);
    expect(colorEnabled({ stream: tty, env: { FORCE_COLOR: "1" }, json: true })).toBe(false);
  });

  it("takes --no-color from the command line for every style made after it", () => {
    expect(makeStyle({ stream: tty, env: {} }).red("x")).toBe("\u001b[31mx\u001b[39m");
    setColorFlag(false);
    expect(makeStyle({ stream: tty, env: {} }).red("x")).toBe("x");
    expect(makeStyle({ stream: tty, env: { FORCE_COLOR: "1" } }).enabled).toBe(false);
  });
});
