import { describe, expect, it } from "vitest";
import { outputLimit, outputTail } from "./output.js";

describe("outputTail", () => {
  it("keeps all of a short output", () => {
    const t = outputTail();
    t.push(Buffer.from("one\n"));
    t.push(Buffer.from("two"));
    expect(t.text()).toBe("one\ntwo");
  });

  it("starts a cut output at a whole line, so no secret's end is left at its start", () => {
    const secret = "hook-secret-5e5e5e5e";
    const t = outputTail();
    // The secret sits exactly where the last 64 KiB begin: its first 5 characters fall before.
    const tail = `${secret.slice(5)}\n${"x".repeat(outputLimit - secret.length)}\nend\n`;
    t.push(Buffer.from(`start ${secret.slice(0, 5)}`));
    t.push(Buffer.from(tail.slice(0, 1000)));
    t.push(Buffer.from(tail.slice(1000)));
    const text = t.text();
    expect(text).not.toContain(secret.slice(5));
    expect(text.endsWith("\nend\n")).toBe(true);
    expect(text.startsWith("x")).toBe(true);
  });

  it("keeps a cut output whole when the cut falls at a line's end", () => {
    const t = outputTail();
    const last = `${"y".repeat(outputLimit - 1)}\n`;
    t.push(Buffer.from("first line\n"));
    t.push(Buffer.from(last));
    expect(t.text()).toBe(last);
  });

  it("drops a cut output that has no whole line", () => {
    const t = outputTail();
    for (let i = 0; i < 3; i++) t.push(Buffer.from("z".repeat(outputLimit)));
    expect(t.text()).toBe("");
  });
});
