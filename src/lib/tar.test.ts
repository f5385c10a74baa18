// Unpacking archives that may have been made by someone hostile: entries that would leave the
// destination, links, devices and archives larger than allowed are refused, nothing outside is touched.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import tar from "tar-stream";
import { afterAll, describe, expect, it } from "vitest";
import { ArchiveTooLargeError, extractTar, packDirectory, safeEntryPath } from "./tar.js";

const root = mkdtempSync(join(tmpdir(), "slipway-tar-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `d${++n}`);

type Entry = {
  name: string;
  type?: "file" | "directory" | "symlink" | "link";
  body?: string;
  linkname?: string;
};

function archive(entries: Entry[]): Readable {
  const pack = tar.pack();
  for (const e of entries)
    pack.entry(
      { name: e.name, type: e.type ?? "file", ...(e.linkname ? { linkname: e.linkname } : {}) },
      e.body ?? "",
    );
  pack.finalize();
  return pack;
}

describe("extractTar", () => {
  it("round-trips a directory of files with private modes and digests", async () => {
    const src = fresh();
    mkdirSync(join(src, "sub"), { recursive: true });
    writeFileSync(join(src, "a.txt"), "hello\n");
    writeFileSync(join(src, "sub", "b.txt"), "nested\n");
    const dest = fresh();
    const r = await extractTar(packDirectory(src), dest, { maxBytes: 100 });
    expect(r.size).toBe(13);
    expect(r.files.map((f) => f.rel)).toEqual(["a.txt", "sub/b.txt"]);
    expect(readFileSync(join(dest, "sub", "b.txt"), "utf8")).toBe("nested\n");
    expect(statSync(join(dest, "a.txt")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dest, "sub")).mode & 0o777).toBe(0o700);
  });

  it("refuses entries that leave the destination, and writes nothing outside it", async () => {
    const outside = join(root, "escaped");
    // (A NUL cannot reach a name through a tar header, which ends the name there; safeEntryPath refuses it anyway.)
    for (const name of ["../escaped", "a/../../escaped", "/tmp/escaped-abs", "./..", "a\\..\\b"]) {
      const dest = fresh();
      await expect(extractTar(archive([{ name, body: "x" }]), dest, { maxBytes: 100 })).rejects.toThrow(
        /refusing archive entry/,
      );
    }
    expect(existsSync(outside)).toBe(false);
    expect(existsSync("/tmp/escaped-abs")).toBe(false);
  });

  it("refuses links, and a link followed by a file through it", async () => {
    const dest = fresh();
    await expect(
      extractTar(
        archive([
          { name: "evil", type: "symlink", linkname: root },
          { name: "evil/planted", body: "x" },
        ]),
        dest,
        { maxBytes: 100 },
      ),
    ).rejects.toThrow(/a symlink, not a file/);
    expect(existsSync(join(root, "planted"))).toBe(false);
    await expect(
      extractTar(archive([{ name: "hard", type: "link", linkname: "/etc/passwd" }]), fresh(), {
        maxBytes: 100,
      }),
    ).rejects.toThrow(/a link, not a file/);
  });

  it("does not write through a link already in the destination, nor overwrite a file", async () => {
    const dest = fresh();
    mkdirSync(dest);
    const target = join(root, "victim");
    writeFileSync(target, "safe");
    symlinkSync(target, join(dest, "a.txt"));
    await expect(
      extractTar(archive([{ name: "a.txt", body: "pwned" }]), dest, { maxBytes: 100 }),
    ).rejects.toThrow();
    expect(readFileSync(target, "utf8")).toBe("safe");
    await expect(
      extractTar(
        archive([
          { name: "b", body: "1" },
          { name: "b", body: "2" },
        ]),
        fresh(),
        { maxBytes: 100 },
      ),
    ).rejects.toThrow(/EEXIST/);
  });

  it("stops at the byte cap", async () => {
    await expect(
      extractTar(
        archive([
          { name: "a", body: "x".repeat(60) },
          { name: "b", body: "y".repeat(60) },
        ]),
        fresh(),
        {
          maxBytes: 100,
        },
      ),
    ).rejects.toBeInstanceOf(ArchiveTooLargeError);
  });

  it("normalises harmless names", () => {
    expect(safeEntryPath("./a/b/")).toBe("a/b");
    expect(safeEntryPath("a")).toBe("a");
    expect(() => safeEntryPath("nul\0x")).toThrow(/NUL/);
  });
});
