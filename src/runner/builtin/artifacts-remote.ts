// actions/upload-artifact and download-artifact for a job run by a server: the files travel as a tar
// stream to the server's artifact store (ArtifactBackend), so the run's jobs on other runners and
// `slipway artifacts download` see them. Downloads unpack into a private staging directory first
// (lib/tar refuses what could escape it), then go through the same copy as local artifacts.
import { rm } from "node:fs/promises";
import path from "node:path";
import { extractTar, packFiles } from "../../lib/tar.js";
import { downloadTo } from "./artifact-files.js";
import { type ArtifactBackend, makeStagingDir, type ServerArtifact } from "./storage.js";
import type { BuiltinActionContext } from "./types.js";

export async function uploadToServer(
  backend: ArtifactBackend,
  upload: {
    name: string;
    files: { rel: string; file: string }[];
    retentionDays?: number;
    overwrite: boolean;
  },
): Promise<ServerArtifact> {
  return backend.upload(
    { name: upload.name, retentionDays: upload.retentionDays, overwrite: upload.overwrite },
    packFiles(upload.files),
  );
}

/** Writes the artifact's files into `destination`; returns the digest of what was written. */
export async function downloadFromServer(
  ctx: BuiltinActionContext,
  backend: ArtifactBackend,
  artifact: { name: string; size: number },
  destination: string,
  runId?: string,
): Promise<string> {
  const staging = await makeStagingDir(path.join(ctx.dataDir, "artifacts"));
  try {
    const filesDir = path.join(staging, "files");
    // The server said how big it is; a stream longer than that is not the artifact.
    await extractTar(await backend.download(artifact.name, runId), filesDir, { maxBytes: artifact.size });
    return await downloadTo({ filesDir }, destination, ctx.signal);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
