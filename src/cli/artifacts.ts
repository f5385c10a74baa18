// `slipway artifacts list|download RUN`: the artifacts a server run's jobs uploaded. A download is a
// tar stream unpacked into a private staging directory (lib/tar refuses absolute paths, `..`, links
// and more bytes than the server announced), then copied into the destination without following a
// link out of it; artifact names from the server are checked before they become directory names.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Readable } from "node:stream";
import type { Command } from "@commander-js/extra-typings";
import { formatTimestamp, textTable } from "../lib/format.js";
import { NotFoundError, OperationError } from "../lib/errors.js";
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
      .description("download a run's artifact NAME into DIR, or all of them into DIR/<name>/")
      .argument("<run>", "run id")
      .argument("[name]", "the artifact (default: all)")
      .option("-D, --dir <dir>", "where to put the files", "."),
  ).action(async (run: string, name: string | undefined, flags: Flags & { dir: string }) => {
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
      const target = name === undefined ? join(dir, a.name) : dir;
      done.push({ name: a.name, path: target, files: await downloadOne(client, run, a, target) });
    }
    if (flags.json) process.stdout.write(`${JSON.stringify(done, null, 2)}\n`);
    else for (const d of done) process.stderr.write(`downloaded ${d.name} (${d.files} files) to ${d.path}\n`);
  });
}
