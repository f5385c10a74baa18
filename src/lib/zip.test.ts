// Zips made here, opened by the extractors people use: Info-ZIP's unzip (as `unzip` on a developer's
// machine) and Python's zipfile (as CI scripts do); both check every entry's CRC-32 and sizes. Names
// that would leave an extractor's destination, and links, are refused before anything is written.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterEach, describe, expect, it } from "vitest";
import { zipDirectory, zipFiles } from "./zip.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), "slipway-zip-"));
  dirs.push(d);
  return d;
}

async function toFile(stream: Readable, file: string): Promise<void> {
  await pipeline(stream, createWriteStream(file));
}

const python = `
import sys, zipfile, json
z = zipfile.ZipFile(sys.argv[1])
bad = z.testzip()
print(json.dumps({"bad": bad, "names": sorted(z.namelist()),
  "modes": sorted({oct(i.external_attr >> 16) for i in z.infolist()}),
  "a": z.read("sub/deeper/a.txt").decode()}))
`;

describe("zip", () => {
  it("a directory's files, nested, empty, binary and with a UTF-8 name, come out whole with unzip and Python", async () => {
    const src = temp();
    mkdirSync(join(src, "sub", "deeper"), { recursive: true });
    writeFileSync(join(src, "sub", "deeper", "a.txt"), "hello\n");
    writeFileSync(join(src, "empty"), "");
    const binary = randomBytes(300_000);
    writeFileSync(join(src, "blob.bin"), binary);
    writeFileSync(join(src, "zürich €.txt"), "ü".repeat(10_000));
    const zip = join(temp(), "a.zip");
    await toFile(zipDirectory(src), zip);

    const out = temp();
    // -t checks each entry's CRC; -o overwrite, -q quiet: it fails (status != 0) on a damaged archive.
    execFileSync("unzip", ["-tq", zip]);
    execFileSync("unzip", ["-q", zip, "-d", out]);
    expect(readFileSync(join(out, "sub", "deeper", "a.txt"), "utf8")).toBe("hello\n");
    expect(readFileSync(join(out, "empty"))).toHaveLength(0);
    expect(readFileSync(join(out, "blob.bin")).equals(binary)).toBe(true);
    expect(readFileSync(join(out, "zürich €.txt"), "utf8")).toBe("ü".repeat(10_000));

    const py = JSON.parse(execFileSync("python3", ["-c", python, zip]).toString());
    expect(py).toEqual({
      bad: null,
      names: ["blob.bin", "empty", "sub/deeper/a.txt", "zürich €.txt"],
      modes: ["0o100644"],
      a: "hello\n",
    });
    // Deflated: repetitive content is smaller in the archive than on disk.
    expect(readFileSync(zip).length).toBeLessThan(300_000 + 30_000);
  });

  it("ZIP64 entries and end records (as a file over 4 GiB or 65,535 files need them) open whole", async () => {
    const src = temp();
    writeFileSync(join(src, "big"), "b".repeat(50_000));
    writeFileSync(join(src, "small"), "s");
    const entries = ["big", "small"].map((rel) => ({ rel, file: join(src, rel) }));
    const zip = join(temp(), "z64.zip");
    await toFile(zipFiles(entries, { zip64Threshold: 10, zip64End: true }), zip);
    const bytes = readFileSync(zip);
    // The ZIP64 end of central directory record and its locator are there.
    expect(bytes.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true);
    expect(bytes.includes(Buffer.from([0x50, 0x4b, 0x06, 0x07]))).toBe(true);
    execFileSync("unzip", ["-tq", zip]);
    const out = temp();
    execFileSync("unzip", ["-q", zip, "-d", out]);
    expect(readFileSync(join(out, "big"), "utf8")).toBe("b".repeat(50_000));
    expect(readFileSync(join(out, "small"), "utf8")).toBe("s");
    const py = execFileSync("python3", [
      "-c",
      "import sys,zipfile;z=zipfile.ZipFile(sys.argv[1]);print(z.testzip(), [(i.filename, i.file_size) for i in z.infolist()])",
      zip,
    ]);
    expect(py.toString().trim()).toBe("None [('big', 50000), ('small', 1)]");
  });

  it("an empty directory is an empty archive that extractors accept", async () => {
    const zip = join(temp(), "e.zip");
    await toFile(zipDirectory(temp()), zip);
    expect(readFileSync(zip)).toHaveLength(22);
    const py = execFileSync("python3", [
      "-c",
      "import sys,zipfile;print(zipfile.ZipFile(sys.argv[1]).namelist())",
      zip,
    ]);
    expect(py.toString().trim()).toBe("[]");
  });

  it("refuses names that would leave the destination, and a name given twice, before writing anything", async () => {
    const src = temp();
    writeFileSync(join(src, "f"), "x");
    const file = join(src, "f");
    for (const rel of ["../escape", "/etc/passwd", "a/../../b", "a\\..\\b", "nul\0byte", ""]) {
      const chunks: Buffer[] = [];
      const s = zipFiles([{ rel, file }]);
      s.on("data", (c: Buffer) => chunks.push(c));
      await expect(
        new Promise((resolve, reject) => s.on("end", resolve).on("error", reject)),
      ).rejects.toThrow(/refusing archive entry/);
      expect(Buffer.concat(chunks)).toHaveLength(0);
    }
    await expect(
      toFile(
        zipFiles([
          { rel: "a", file },
          { rel: "./a", file },
        ]),
        join(temp(), "d.zip"),
      ),
    ).rejects.toThrow(/"a" twice/);
  });

  it("refuses a link below the directory rather than following it out", async () => {
    const outside = temp();
    writeFileSync(join(outside, "secret"), "server key");
    const src = temp();
    writeFileSync(join(src, "ok"), "fine");
    symlinkSync(join(outside, "secret"), join(src, "link"));
    await expect(toFile(zipDirectory(src), join(temp(), "l.zip"))).rejects.toThrow(
      /link is not a regular file/,
    );
  });
});
