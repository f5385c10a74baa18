// `slipway artifacts list|download RUN`: the artifacts a server run's jobs uploaded. A download is a
// tar stream unpacked into a private staging directory (lib/tar refuses absolute paths, `..`, links
// and more bytes than the server announced), then copied into the destination without following a
// link out of it; artifact names from the server are checked before they become directory names.
// `--format zip` keeps the zip the server makes, as GitHub hands an artifact out, as `<name>.zip`.
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Command } from "@commander-js/extra-typings";
import { formatTimestamp, textTable } from "../lib/format.js";
import { NotFoundError, OperationError, UserError } from "../lib/errors.js";
import { extractTar } from "../lib/tar.js";
import { copyArtifactFiles, type ServerArtifact, validateArtifactName } from "../runner/index.js";
import { ApiClient, type ClientFlags } from "./client.js";
import { withClient } from "./ci.js";

type Flags = ClientFlags & { json?: boolean };

function runPath(run: string): string {
  return `/api/v1/runs/${encodeURIComponent(run)}/artifacts`;
}

async function listOf(client: ApiClient, run: string): Promise<ServerArtifact[]> {
  return (await client.request<{ artifacts: ServerArtifact[] }>("GET", runPath(run))).artifacts;
}

/** Writes one artifact's files into `target`; returns how many files. */
async function downloadOne(
  client: ApiClient,
  run: string,
  a: ServerArtifact,
  target: string,
): Promise<number> {
  await mkdir(target, { recursive: true });
  const staging = await mkdtemp(join(target, ".slipway-download-"));
  try {
    const res = await client.stream("GET", `${runPath(run)}/${encodeURIComponent(a.name)}`);
    if (!res.body) throw new OperationError(`the server sent no content for artifact ${a.name}`);
    const body = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream);
    const { files } = await extractTar(body, join(staging, "files"), { maxBytes: a.size });
    await copyArtifactFiles({ filesDir: join(staging, "files") }, target, AbortSignal.timeout(3_600_000));
    return files.length;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * Most bytes a zip of this artifact can take: its files, deflate's worst case (a few bytes per 16 KiB
 * block) and the headers of each file. A longer answer is not the artifact and is cut off.
 */
function zipCap(a: ServerArtifact): number {
  return a.size + Math.ceil(a.size / 1000) + (a.files + 1) * 66_000 + 1024;
}

/** Writes the artifact's zip as `dir/<name>.zip` (replacing one there, never writing through a link). */
async function downloadZip(client: ApiClient, run: string, a: ServerArtifact, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const target = join(dir, `${a.name}.zip`);
  const staging = await mkdtemp(join(dir, ".slipway-download-"));
  try {
    const res = await client.stream("GET", `${runPath(run)}/${encodeURIComponent(a.name)}/zip`);
    if (!res.body) throw new OperationError(`the server sent no content for artifact ${a.name}`);
    const cap = zipCap(a);
    let got = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _enc, done) {
        got += chunk.length;
        if (got > cap) done(new OperationError(`artifact ${a.name}: the server sent more than ${cap} bytes`));
        else done(null, chunk);
      },
    });
    const file = join(staging, "a.zip");
    await pipeline(
      Readable.fromWeb(res.body as import("node:stream/web").ReadableStream),
      limit,
      createWriteStream(file, { flags: "wx", mode: 0o644 }),
    );
    // rename replaces a link at the target itself: nothing is written where a link points.
    await rename(file, target);
    return target;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

export function registerArtifacts(program: Command): void {
  const artifacts = program.command("artifacts").description("artifacts of runs on the server");
  withClient(
    artifacts.command("list").description("a run's artifacts (unexpired)").argument("<run>", "run id"),
  ).action(async (run: string, flags: Flags) => {
    const list = await listOf(new ApiClient(flags), run);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      return;
    }
    if (list.length === 0) {
      process.stderr.write(`run ${run} has no artifacts\n`);
      return;
    }
    process.stdout.write(
      textTable([
        ["NAME", "SIZE", "FILES", "EXPIRES", "DIGEST"],
        ...list.map((a) => [
          a.name,
          String(a.size),
          String(a.files),
          formatTimestamp(a.expiresAt),
          a.digest.slice(0, 12),
        ]),
      ]),
    );
  });
  withClient(
    artifacts
      .command("download")
      .description(
        "download a run's artifact NAME into DIR, or all of them into DIR/<name>/ (--format zip: DIR/<name>.zip)",
      )
      .argument("<run>", "run id")
      .argument("[name]", "the artifact (default: all)")
      .option("-D, --dir <dir>", "where to put the files", ".")
      .option("--format <format>", "dir: the files; zip: DIR/<name>.zip as the server zips it", "dir"),
  ).action(async (run: string, name: string | undefined, flags: Flags & { dir: string; format: string }) => {
    if (flags.format !== "dir" && flags.format !== "zip")
      throw new UserError(`--format must be dir or zip, got ${JSON.stringify(flags.format.slice(0, 20))}`);
    const client = new ApiClient(flags);
    const list = await listOf(client, run);
    const chosen = name === undefined ? list : list.filter((a) => a.name === name);
    if (name !== undefined && chosen.length === 0)
      throw new NotFoundError(`run ${run} has no artifact named ${JSON.stringify(name)}`);
    const dir = resolve(flags.dir);
    const done: { name: string; path: string; files: number }[] = [];
    for (const a of chosen) {
      // The name comes from the server and becomes a directory name: checked as an upload's is.
      validateArtifactName(a.name);
      if (flags.format === "zip") {
        done.push({ name: a.name, path: await downloadZip(client, run, a, dir), files: a.files });
        continue;
      }
      const target = name === undefined ? join(dir, a.name) : dir;
      done.push({ name: a.name, path: target, files: await downloadOne(client, run, a, target) });
    }
    if (flags.json) process.stdout.write(`${JSON.stringify(done, null, 2)}\n`);
    else for (const d of done) process.stderr.write(`downloaded ${d.name} (${d.files} files) to ${d.path}\n`);
  });
}
