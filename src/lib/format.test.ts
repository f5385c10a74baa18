import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, formatTimestamp, textTable } from "./format.js";

describe("formatDuration", () => {
  it.each([
    [0, "0ms"],
    [850.4, "850ms"],
    [42_000, "42s"],
    [187_000, "3m07s"],
    [7_500_000, "2h05m"],
  ])("clock: %d ms is %s", (ms, text) => expect(formatDuration(ms)).toBe(text));

  it.each([
    [850, "850ms"],
    [4_240, "4.2s"],
    [187_000, "3m7s"],
  ])("tenths: %d ms is %s", (ms, text) => expect(formatDuration(ms, "tenths")).toBe(text));

  it.each([
    [0, "0s"],
    [500, "500ms"],
    [90_000, "1m30s"],
    [7_200_000, "2h"],
    [3_661_001, "1h1m1s1ms"],
  ])("exact: %d ms is %s", (ms, text) => expect(formatDuration(ms, "exact")).toBe(text));
});

describe("formatBytes", () => {
  it.each([
    [512, "512 B"],
    [1536, "1.5 KiB"],
    [12 * 1024 ** 2, "12.0 MiB"],
    [1.25 * 1024 ** 3, "1.25 GiB"],
  ])("%d is %s", (n, text) => expect(formatBytes(n)).toBe(text));
});

describe("formatTimestamp", () => {
  it("shows UTC to the second, and '-' for none", () => {
    expect(formatTimestamp(Date.UTC(2026, 0, 31, 12, 3, 4, 567))).toBe("2026-01-31 12:03:04");
    expect(formatTimestamp(null)).toBe("-");
    expect(formatTimestamp(undefined)).toBe("-");
  });
});

describe("textTable", () => {
  it("aligns columns two spaces apart without trailing blanks", () => {
    expect(
      textTable([
        ["ID", "NAME", "STATE"],
        ["1", "build-and-test", "ok"],
        ["22", "x", ""],
      ]),
    ).toBe("ID  NAME            STATE\n1   build-and-test  ok\n22  x\n");
  });

  it("gives short rows empty cells and no rows no text", () => {
    expect(textTable([["A", "B"], ["long"]])).toBe("A     B\nlong\n");
    expect(textTable([])).toBe("");
  });
});
