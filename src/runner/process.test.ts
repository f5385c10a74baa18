import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Masker } from "./masker.js";
import { LineSplitter, maxLine, runProcess } from "./process.js";

function split(chunks: Buffer[], masker?: Masker): string[] {
  const lines: string[] = [];
  const s = new LineSplitter(
    (l) => lines.push(masker ? masker.mask(l) : l),
    masker ? (t, at, final) => masker.safeCut(t, at, final) : undefined,
  );
  for (const c of chunks) s.push(c);
  s.end();
  return lines;
}

describe("LineSplitter", () => {
  it("joins a secret split across two chunks, and a character split across them", () => {
    const m = new Masker();
    m.add("pässwörd-42");
    const bytes = Buffer.from("before pässwörd-42 after\n");
    // Cut inside the secret and inside the two bytes of "ä".
    const at = bytes.indexOf(Buffer.from("ä")) + 1;
    expect(split([bytes.subarray(0, at), bytes.subarray(at)], m)).toEqual(["before *** after"]);
  });

  it("masks a secret that straddles the 64 KiB cut of a long line", () => {
    const secret = randomBytes(16).toString("hex");
    const m = new Masker();
    m.add(secret);
    const line = `${"a".repeat(maxLine - 10)}${secret}${"b".repeat(maxLine)}`;
    const bytes = Buffer.from(`${line}\n`);
    // Fed in pipe-sized chunks, as a process writes it.
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 4096) chunks.push(bytes.subarray(i, i + 4096));
    const lines = split(chunks, m);
    const all = lines.join("");
    expect(all).not.toContain(secret.slice(0, 10));
    expect(all).not.toContain(secret.slice(-22));
    expect(all).toContain("***");
    expect(all.length).toBe(line.length - secret.length + 3);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(maxLine);
  });

  it("holds at most about 1 MiB of a line that is one secret over and over", () => {
    const m = new Masker();
    m.add("abcdefgh");
    const emitted: string[] = [];
    const s = new LineSplitter(
      (l) => emitted.push(m.mask(l)),
      (t, at, final) => m.safeCut(t, at, final),
    );
    const chunk = Buffer.from("abcdefgh".repeat(8192 + 1).slice(3, 3 + 65536));
    for (let i = 0; i < 48; i++) s.push(chunk);
    // Pieces went out while the line was still coming: the buffer did not grow with it.
    expect(emitted.length).toBeGreaterThan(0);
    s.end();
    expect(emitted.join("")).not.toContain("abcdefgh");
  });

  it("still cuts lines without a masker at 64 KiB, keeping memory bounded", () => {
    const lines = split([Buffer.from("z".repeat(3 * maxLine + 5))]);
    expect(lines.map((l) => l.length)).toEqual([maxLine, maxLine, maxLine, 5]);
  });
});

describe("runProcess", () => {
  it("masks a secret printed across the 64 KiB cut by a real process", async () => {
    const secret = `s3cr3t-${randomBytes(12).toString("hex")}`;
    const m = new Masker();
    m.add(secret);
    const lines: string[] = [];
    const script = `process.stdout.write("a".repeat(${maxLine - 5}) + ${JSON.stringify(secret)} + "b".repeat(100) + "\\n")`;
    const r = await runProcess({
      command: process.execPath,
      args: ["-e", script],
      cwd: process.cwd(),
      env: { PATH: process.env.PATH ?? "" },
      onLine: (l) => lines.push(m.mask(l)),
      safeCut: (t, at, final) => m.safeCut(t, at, final),
    });
    expect(r.exitCode).toBe(0);
    expect(lines.join("")).not.toContain(secret.slice(0, 8));
    expect(lines.join("")).not.toContain(secret.slice(-8));
    expect(lines.join("")).toContain("***");
  });
});
