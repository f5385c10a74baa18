// Writing a directory of regular files as a zip stream: how GitHub serves an artifact
// (`GET …/actions/artifacts/{id}/zip`) and what actions/download-artifact v4 unpacks. Written as it
// goes (each entry deflated, its CRC-32 and sizes in a data descriptor after it), so nothing is held in
// memory or on disk; ZIP64 records are added only where a size, an offset or the entry count needs
// them. Names are checked as an extractor would (lib/tar's safeEntryPath: no absolute path, no `..`,
// no NUL or backslash) so no archive made here can write outside its destination, and only regular
// files go in: a link below the directory is refused rather than followed out of it.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { crc32, createDeflateRaw } from "node:zlib";
import { listRegularFiles, safeEntryPath } from "./tar.js";

const u32Max = 0xffffffff;
const u16Max = 0xffff;
// Deflate can make incompressible data slightly larger: an entry this close to 4 GiB gets ZIP64 sizes.
const zip64Threshold = u32Max - 64 * 1024 * 1024;
// 1980-01-01 00:00 in MS-DOS date/time: the files' times are not kept, so archives are reproducible.
const dosTime = 0;
const dosDate = (0 << 9) | (1 << 5) | 1;
// Bit 3: sizes and CRC follow the data; bit 11: names are UTF-8.
const flags = 0x0808;
const madeByUnix = 3 << 8;

type CentralEntry = {
  name: Buffer;
  crc: number;
  csize: number;
  usize: number;
  offset: number;
  zip64: boolean;
};

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

function localHeader(name: Buffer, zip64: boolean): Buffer {
  // ZIP64 entries announce their (unknown yet) sizes in an extra field, and their descriptor has 8-byte sizes.
  const extra = zip64 ? Buffer.concat([u16(0x0001), u16(16), u64(0), u64(0)]) : Buffer.alloc(0);
  return Buffer.concat([
    u32(0x04034b50),
    u16(zip64 ? 45 : 20),
    u16(flags),
    u16(8),
    u16(dosTime),
    u16(dosDate),
    u32(0),
    u32(zip64 ? u32Max : 0),
    u32(zip64 ? u32Max : 0),
    u16(name.length),
    u16(extra.length),
    name,
    extra,
  ]);
}

function dataDescriptor(e: CentralEntry): Buffer {
  const sizes = e.zip64 ? [u64(e.csize), u64(e.usize)] : [u32(e.csize), u32(e.usize)];
  return Buffer.concat([u32(0x08074b50), u32(e.crc), ...sizes]);
}

function centralHeader(e: CentralEntry): Buffer {
  // Only the fields that overflow go in the ZIP64 extra field, in this order.
  const big: Buffer[] = [];
  if (e.usize >= u32Max || e.zip64) big.push(u64(e.usize));
  if (e.csize >= u32Max || e.zip64) big.push(u64(e.csize));
  if (e.offset >= u32Max) big.push(u64(e.offset));
  const extra = big.length ? Buffer.concat([u16(0x0001), u16(8 * big.length), ...big]) : Buffer.alloc(0);
  const needs64 = big.length > 0;
  return Buffer.concat([
    u32(0x02014b50),
    u16(madeByUnix | 45),
    u16(needs64 ? 45 : 20),
    u16(flags),
    u16(8),
    u16(dosTime),
    u16(dosDate),
    u32(e.crc),
    u32(e.zip64 || e.csize >= u32Max ? u32Max : e.csize),
    u32(e.zip64 || e.usize >= u32Max ? u32Max : e.usize),
    u16(e.name.length),
    u16(extra.length),
    u16(0),
    u16(0),
    u16(0),
    // External attributes: a regular file, rw-r--r-- (modes are not kept, as GitHub's zips do not).
    u32((0o100644 << 16) >>> 0),
    u32(Math.min(e.offset, u32Max)),
    e.name,
    extra,
  ]);
}

function endRecords(count: number, cdOffset: number, cdSize: number, force64: boolean): Buffer {
  const parts: Buffer[] = [];
  const needs64 = force64 || count >= u16Max || cdOffset >= u32Max || cdSize >= u32Max;
  if (needs64) {
    const eocd64Offset = cdOffset + cdSize;
    parts.push(
      Buffer.concat([
        u32(0x06064b50),
        u64(44),
        u16(madeByUnix | 45),
        u16(45),
        u32(0),
        u32(0),
        u64(count),
        u64(count),
        u64(cdSize),
        u64(cdOffset),
      ]),
      Buffer.concat([u32(0x07064b50), u32(0), u64(eocd64Offset), u32(1)]),
    );
  }
  parts.push(
    Buffer.concat([
      u32(0x06054b50),
      u16(0),
      u16(0),
      u16(needs64 ? u16Max : count),
      u16(needs64 ? u16Max : count),
      u32(needs64 ? u32Max : cdSize),
      u32(needs64 ? u32Max : cdOffset),
      u16(0),
    ]),
  );
  return Buffer.concat(parts);
}

/**
 * A zip stream of these files under these names (POSIX relative paths, checked). A name that could
 * leave an extractor's destination, or one given twice, fails the stream before anything of it is sent.
 */
export function zipFiles(entries: { rel: string; file: string }[], opts: ZipOptions = {}): Readable {
  const out = new PassThrough();
  void writeZip(out, entries, opts).catch((err: Error) => out.destroy(err));
  return out;
}

/**
 * For tests: ZIP64 records where a small archive would not need them (sizes from this many bytes,
 * the end records always), so that extractors can be shown reading them without 4 GiB of data.
 */
export type ZipOptions = { zip64Threshold?: number; zip64End?: boolean };

/** A zip stream of the regular files below `dir`; a link or other special file fails it. */
export function zipDirectory(dir: string): Readable {
  const out = new PassThrough();
  void listRegularFiles(dir)
    .then((rels) =>
      writeZip(
        out,
        rels.map((rel) => ({ rel, file: path.join(dir, rel) })),
      ),
    )
    .catch((err: Error) => out.destroy(err));
  return out;
}

async function writeZip(
  out: PassThrough,
  entries: { rel: string; file: string }[],
  opts: ZipOptions = {},
): Promise<void> {
  const threshold = opts.zip64Threshold ?? zip64Threshold;
  const seen = new Set<string>();
  const names = entries.map(({ rel }) => {
    const name = safeEntryPath(rel.split(path.sep).join("/"));
    if (seen.has(name)) throw new Error(`the archive would hold ${JSON.stringify(name)} twice`);
    seen.add(name);
    return name;
  });
  let offset = 0;
  const write = async (b: Buffer) => {
    offset += b.length;
    if (!out.write(b)) await waitDrain(out);
  };
  const central: CentralEntry[] = [];
  for (const [i, { file }] of entries.entries()) {
    const name = Buffer.from(names[i], "utf8");
    const { size } = await stat(file);
    const entry: CentralEntry = { name, crc: 0, csize: 0, usize: 0, offset, zip64: size >= threshold };
    await write(localHeader(name, entry.zip64));
    const deflate = createDeflateRaw({ level: 6 });
    const source = createReadStream(file);
    source.on("data", (chunk) => {
      const b = chunk as Buffer;
      entry.crc = crc32(b, entry.crc);
      entry.usize += b.length;
    });
    source.on("error", (err) => deflate.destroy(err));
    source.pipe(deflate);
    for await (const chunk of deflate as AsyncIterable<Buffer>) {
      entry.csize += chunk.length;
      await write(chunk);
    }
    // A file that grew past the threshold while read would need the ZIP64 descriptor it did not announce.
    if (!entry.zip64 && (entry.usize >= u32Max || entry.csize >= u32Max))
      throw new Error(`${names[i]} grew past 4 GiB while it was archived`);
    await write(dataDescriptor(entry));
    central.push(entry);
  }
  const cdOffset = offset;
  for (const e of central) await write(centralHeader(e));
  await write(endRecords(central.length, cdOffset, offset - cdOffset, opts.zip64End ?? false));
  out.end();
}

function waitDrain(out: PassThrough): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      out.off("drain", onDrain);
      out.off("close", onClose);
      out.off("error", done);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error("the zip stream was closed"));
    out.once("drain", onDrain);
    out.once("close", onClose);
    out.once("error", done);
  });
}
