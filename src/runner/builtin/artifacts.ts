// actions/upload-artifact and actions/download-artifact with v4 semantics (v3 inputs are a subset), kept on
// disk instead of GitHub's artifact service so that workflows passing files between jobs run offline.
//
// Layout, below <dataDir>/artifacts/:
//   <repository dir>/<run id>/<artifact name>/artifact.json   metadata (id, size, digest, expiry)
//   <repository dir>/<run id>/<artifact name>/files/...       the files, relative to the upload's root
//   .tmp/                                                      staging; a crash leaves garbage only here
//   .last-id, .last-id.lock                                    the store-wide artifact id counter
// An artifact becomes visible by renaming its complete staging directory into place, so readers never see
// half an artifact. Stored files are always regular files: symlinks are followed on upload, as the real
// action does, and download writes regular files only, never through a link that leads out of `path`.
// Like v4's zip format, file modes are not kept: downloaded files get default permissions.

import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import picomatch from "picomatch";
import { sleep } from "../../lib/async.js";
import { OperationError, UserError } from "../../lib/errors.js";
import { globPaths, leastCommonAncestor } from "../../lib/glob.js";
import { getBooleanInput, getInput, getRequiredInput, resolveInputPath } from "./inputs.js";
import {
  errorCode,
  isInside,
  makeStagingDir,
  renameIfAbsent,
  repositoryDirName,
  writeFileAtomic,
} from "./storage.js";
import { downloadFromServer, uploadToServer } from "./artifacts-remote.js";
import { copyWithHash, downloadTo, digestOf, type FileHash } from "./artifact-files.js";
import type { BuiltinAction, BuiltinActionContext } from "./types.js";

export type ArtifactMetadata = {
  /** Unique across the whole store, increasing. */
  id: number;
  name: string;
  repository: string;
  runId: string;
  /** Total bytes of the files. */
  size: number;
  files: number;
  /** sha256 (hex) of the sorted `<file sha256>  <relative path>` lines: the same files give the same digest. */
  digest: string;
  createdAt: string;
  expiresAt: string;
};

export type StoredArtifact = ArtifactMetadata & {
  /** The directory holding the artifact's files. */
  filesDir: string;
  expired: boolean;
};

const metadataFileName = "artifact.json";
const filesDirName = "files";
// GitHub's default and, unless a repository lowers it, maximum retention.
const maxRetentionDays = 90;
const staleLockMs = 30_000;

// From @actions/artifact: characters NTFS and friends cannot store. NUL is added because no filesystem can.
const invalidPathCharacters: ReadonlyArray<readonly [string, string]> = [
  ['"', 'Double quote "'],
  [":", "Colon :"],
  ["<", "Less than <"],
  [">", "Greater than >"],
  ["|", "Vertical bar |"],
  ["*", "Asterisk *"],
  ["?", "Question mark ?"],
  ["\r", "Carriage return \\r"],
  ["\n", "Line feed \\n"],
  ["\0", "Null character \\0"],
];
const invalidNameCharacters: ReadonlyArray<readonly [string, string]> = [
  ...invalidPathCharacters,
  ["\\", "Backslash \\"],
  ["/", "Forward slash /"],
];

/** GitHub's artifact name rules, plus `.` and `..`, which would name the run directory or its parent. */
export function validateArtifactName(name: string): void {
  if (name === "") throw new UserError("Provided artifact name input during validation is empty");
  for (const [character, description] of invalidNameCharacters) {
    if (name.includes(character)) {
      throw new UserError(
        `The artifact name is not valid: ${name}. Contains the following character: ${description}\n\n` +
          `Invalid characters include: ${invalidNameCharacters.map(([, d]) => d).join(", ")}\n\n` +
          "These characters are not allowed in the artifact name due to limitations with certain file systems such as NTFS.",
      );
    }
  }
  if (name === "." || name === "..") {
    throw new UserError(
      `The artifact name is not valid: ${name}. "." and ".." cannot be used as artifact names.`,
    );
  }
}

function validateFilePath(relativePath: string): void {
  for (const [character, description] of invalidPathCharacters) {
    if (relativePath.includes(character)) {
      throw new UserError(
        `The path for one of the files in artifact is not valid: ${relativePath}. Contains the following character: ${description}`,
      );
    }
  }
}

function validateRunId(runId: string): void {
  if (!/^[0-9]+$/.test(runId)) throw new UserError(`Invalid run id '${runId}': expected digits`);
}

function artifactsRoot(dataDir: string): string {
  return path.join(dataDir, "artifacts");
}

function runDir(dataDir: string, repository: string, runId: string): string {
  validateRunId(runId);
  return path.join(artifactsRoot(dataDir), repositoryDirName(repository), runId);
}

async function readMetadata(artifactDir: string): Promise<ArtifactMetadata | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(artifactDir, metadataFileName), "utf8");
  } catch (err) {
    if (errorCode(err) === "ENOENT" || errorCode(err) === "ENOTDIR") return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as ArtifactMetadata;
  } catch {
    // Records are written atomically, so this is damage from outside; skip it rather than fail every listing.
    return undefined;
  }
}

function toStored(dir: string, meta: ArtifactMetadata, now: number): StoredArtifact {
  return { ...meta, filesDir: path.join(dir, filesDirName), expired: Date.parse(meta.expiresAt) <= now };
}

/** The artifacts of a run, expired ones included (flagged), in upload order. */
export async function listArtifacts(
  dataDir: string,
  repository: string,
  runId: string,
): Promise<StoredArtifact[]> {
  const dir = runDir(dataDir, repository, runId);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (errorCode(err) === "ENOENT") return [];
    throw err;
  }
  const now = Date.now();
  const result: StoredArtifact[] = [];
  for (const name of names) {
    const artifactDir = path.join(dir, name);
    const meta = await readMetadata(artifactDir);
    // The directory name is what keeps downloads inside their target; a mismatching record is not ours.
    if (meta?.name !== name) continue;
    result.push(toStored(artifactDir, meta, now));
  }
  return result.sort((a, b) => a.id - b.id);
}

async function findFilesToUpload(
  ctx: BuiltinActionContext,
  searchPath: string,
  includeHiddenFiles: boolean,
): Promise<{ files: string[]; rootDirectory: string }> {
  const { matches, searchPaths } = await globPaths(searchPath, {
    workdir: ctx.workspace,
    home: ctx.home,
    implicitDescendants: true,
    matchDirectories: true,
    excludeHiddenFiles: !includeHiddenFiles,
    signal: ctx.signal,
  });
  const files: string[] = [];
  const seen = new Set<string>();
  for (const match of matches) {
    const stats = await stat(match);
    if (!stats.isFile()) continue;
    files.push(match);
    if (seen.has(match.toLowerCase())) {
      ctx.log(
        `Uploads are case insensitive: ${match} was detected that it will be overwritten by another file with the same path`,
      );
    }
    seen.add(match.toLowerCase());
  }
  if (searchPaths.length > 1) return { files, rootDirectory: leastCommonAncestor(searchPaths) };
  // A single file named without a directory or wildcard is stored under its own name.
  if (files.length === 1 && searchPaths[0] === files[0]) {
    return { files, rootDirectory: path.dirname(files[0]) };
  }
  return { files, rootDirectory: searchPaths[0] ?? ctx.workspace };
}

type NoFilesBehavior = "warn" | "error" | "ignore";

function parseNoFilesBehavior(ctx: BuiltinActionContext): NoFilesBehavior {
  const value = getInput(ctx, "if-no-files-found") || "warn";
  if (value === "warn" || value === "error" || value === "ignore") return value;
  throw new UserError(
    `Unrecognized if-no-files-found input. Provided: ${value}. Available options: warn,error,ignore`,
  );
}

function parseRetentionDays(ctx: BuiltinActionContext): number {
  const value = getInput(ctx, "retention-days");
  if (value === "") return maxRetentionDays;
  const days = Number.parseInt(value, 10);
  if (Number.isNaN(days) || days < 0) throw new UserError(`Invalid retention-days: ${value}`);
  // 0 means "not set" to the toolkit: the repository's default applies.
  if (days === 0) return maxRetentionDays;
  if (days > maxRetentionDays) {
    ctx.log(
      `Retention days cannot be greater than the maximum allowed retention set within the repository. Using ${maxRetentionDays} instead.`,
    );
    return maxRetentionDays;
  }
  return days;
}

function checkCompressionLevel(ctx: BuiltinActionContext): void {
  const value = getInput(ctx, "compression-level");
  if (value === "") return;
  const level = Number.parseInt(value, 10);
  if (Number.isNaN(level)) throw new UserError("Invalid compression-level");
  if (level < 0 || level > 9) throw new UserError("Invalid compression-level. Valid values are 0-9");
}

async function main(ctx: BuiltinActionContext): Promise<void> {
  const name = getInput(ctx, "name") || "artifact";
  const searchPath = getRequiredInput(ctx, "path");
  const noFiles = parseNoFilesBehavior(ctx);
  const overwrite = getBooleanInput(ctx, "overwrite", false);
  const includeHiddenFiles = getBooleanInput(ctx, "include-hidden-files", false);
  const retentionDays = parseRetentionDays(ctx);
  checkCompressionLevel(ctx);
  validateRunId(ctx.runId);

  const { files, rootDirectory } = await findFilesToUpload(ctx, searchPath, includeHiddenFiles);
  if (files.length === 0) {
    const message = `No files were found with the provided path: ${searchPath}. No artifacts will be uploaded.`;
    if (noFiles === "error") throw new OperationError(message);
    if (noFiles === "warn") ctx.warning(message);
    else ctx.log(message);
    return;
  }
  ctx.log(
    `With the provided path, there will be ${files.length} file${files.length === 1 ? "" : "s"} uploaded`,
  );
  validateArtifactName(name);

  let artifact: { id: number; size: number; digest: string };
  let url: string;
  if (ctx.artifacts) {
    const entries = files.map((file) => ({ rel: path.relative(rootDirectory, file), file }));
    for (const e of entries) validateFilePath(e.rel);
    // Not given (or 0): the server's retention applies, as a repository's does on GitHub.
    const given = Number.parseInt(getInput(ctx, "retention-days"), 10);
    const stored = await uploadToServer(ctx.artifacts, {
      name,
      files: entries,
      retentionDays: Number.isNaN(given) || given === 0 ? undefined : retentionDays,
      overwrite,
    });
    artifact = stored;
    url = stored.url ?? "";
  } else {
    const stored = await storeArtifact(ctx, { name, files, rootDirectory, retentionDays, overwrite });
    artifact = stored;
    url = pathToFileURL(path.dirname(stored.filesDir)).href;
  }
  ctx.log(
    `Artifact ${name} has been successfully uploaded! Final size is ${artifact.size} bytes. Artifact ID is ${artifact.id}`,
  );
  ctx.log(`Artifact download URL: ${url}`);
  ctx.setOutput("artifact-id", String(artifact.id));
  ctx.setOutput("artifact-url", url);
  ctx.setOutput("artifact-digest", artifact.digest);
}

async function storeArtifact(
  ctx: BuiltinActionContext,
  upload: { name: string; files: string[]; rootDirectory: string; retentionDays: number; overwrite: boolean },
): Promise<StoredArtifact> {
  const root = artifactsRoot(ctx.dataDir);
  const finalDir = path.join(runDir(ctx.dataDir, ctx.repository, ctx.runId), upload.name);
  const conflict = () =>
    new OperationError(
      `Failed to CreateArtifact: an artifact with the name '${upload.name}' already exists on the workflow run ` +
        "(set `overwrite: true` to replace it)",
    );
  const now = Date.now();
  const existing = await readMetadata(finalDir);
  const replace = existing !== undefined && (upload.overwrite || Date.parse(existing.expiresAt) <= now);
  if (existing && !replace) throw conflict();

  const staging = await makeStagingDir(root);
  try {
    const hashes: FileHash[] = [];
    let size = 0;
    for (const file of upload.files) {
      ctx.signal.throwIfAborted();
      const rel = path.relative(upload.rootDirectory, file);
      // The root is an ancestor of every match by construction; this guards the invariant, not user input.
      if (rel === "" || !isInside(upload.rootDirectory, file)) {
        throw new Error(`internal: ${file} is not below the artifact root ${upload.rootDirectory}`);
      }
      validateFilePath(rel);
      const dest = path.join(staging, filesDirName, rel);
      await mkdir(path.dirname(dest), { recursive: true });
      const copied = await copyWithHash(file, dest);
      hashes.push({ rel, sha256: copied.sha256 });
      size += copied.size;
    }
    const meta: ArtifactMetadata = {
      id: await allocateArtifactId(root, ctx.signal),
      name: upload.name,
      repository: ctx.repository,
      runId: ctx.runId,
      size,
      files: hashes.length,
      digest: digestOf(hashes),
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + upload.retentionDays * 86_400_000).toISOString(),
    };
    await writeFileAtomic(path.join(staging, metadataFileName), `${JSON.stringify(meta, null, 2)}\n`);

    if (replace) {
      // Between moving the old artifact out and the new one in, the name is briefly absent; never half there.
      ctx.log(`Deleting the existing artifact ${upload.name} (ID ${existing.id}) before uploading`);
      const trash = await makeStagingDir(root);
      await rename(finalDir, path.join(trash, "old")).catch((err) => {
        if (errorCode(err) !== "ENOENT") throw err;
      });
      await rm(trash, { recursive: true, force: true });
    }
    if (!(await renameIfAbsent(staging, finalDir))) throw conflict();
    return toStored(finalDir, meta, now);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Takes the next id from the store-wide counter, under a lock file (stale after a crash, then broken). */
async function allocateArtifactId(root: string, signal: AbortSignal): Promise<number> {
  const counter = path.join(root, ".last-id");
  const lock = `${counter}.lock`;
  for (;;) {
    signal.throwIfAborted();
    try {
      await (await open(lock, "wx")).close();
      break;
    } catch (err) {
      if (errorCode(err) !== "EEXIST") throw err;
      const held = await stat(lock).catch(() => undefined);
      if (held && Date.now() - held.mtimeMs > staleLockMs) await rm(lock, { force: true });
      else await sleep(5 + Math.random() * 10);
    }
  }
  try {
    const last = Number.parseInt(await readFile(counter, "utf8").catch(() => "0"), 10) || 0;
    await writeFileAtomic(counter, String(last + 1));
    return last + 1;
  } finally {
    await rm(lock, { force: true });
  }
}

async function downloadMain(ctx: BuiltinActionContext): Promise<void> {
  const name = getInput(ctx, "name");
  const pattern = getInput(ctx, "pattern");
  const mergeMultiple = getBooleanInput(ctx, "merge-multiple", false);
  const artifactIds = getInput(ctx, "artifact-ids");
  const repository = getInput(ctx, "repository");
  const runId = getInput(ctx, "run-id") || ctx.runId;
  const destination = resolveInputPath(ctx, getInput(ctx, "path") || ctx.workspace);

  if (repository !== "" && repository.toLowerCase() !== ctx.repository.toLowerCase()) {
    throw new UserError(
      `Downloading artifacts from another repository (${repository}) is not supported: only ${ctx.repository}'s artifacts are stored here`,
    );
  }
  if (name !== "" && artifactIds !== "") {
    throw new UserError("Inputs 'name' and 'artifact-ids' cannot be used together. Please specify only one.");
  }
  validateRunId(runId);
  const backend = ctx.artifacts;
  // On a server, another run's artifacts come from the server, which checks the job may read that run.
  const otherRun = runId === ctx.runId ? undefined : runId;

  type Listed = { id: number; name: string; size: number; digest: string; filesDir?: string };
  const available: Listed[] = backend
    ? await backend.list(otherRun)
    : (await listArtifacts(ctx.dataDir, ctx.repository, runId)).filter((a) => !a.expired);
  let artifacts: Listed[];
  if (name !== "") {
    const found = available.find((a) => a.name === name);
    if (!found)
      throw new OperationError(`Unable to download artifact(s): Artifact not found for name: ${name}`);
    artifacts = [found];
  } else {
    artifacts = available;
    if (artifactIds !== "") {
      const ids = artifactIds.split(",").map((s) => s.trim());
      if (ids.some((id) => !/^[0-9]+$/.test(id))) throw new UserError(`Invalid artifact-ids: ${artifactIds}`);
      for (const id of ids) {
        if (!artifacts.some((a) => String(a.id) === id)) ctx.warning(`Artifact with ID ${id} not found`);
      }
      artifacts = artifacts.filter((a) => ids.includes(String(a.id)));
    }
    if (pattern !== "") {
      ctx.log(`Filtering artifacts by pattern '${pattern}'`);
      const isMatch = picomatch(pattern);
      artifacts = artifacts.filter((a) => isMatch(a.name));
    } else if (artifactIds === "") {
      ctx.log("No input name or pattern filtered specified, downloading all artifacts");
      if (!mergeMultiple)
        ctx.log("An extra directory with the artifact name will be created for each download");
    }
  }

  if (artifacts.length > 0) {
    ctx.log("Preparing to download the following artifacts:");
    for (const a of artifacts)
      ctx.log(`- ${a.name} (ID: ${a.id}, Size: ${a.size}, Expected Digest: ${a.digest})`);
  }
  for (const artifact of artifacts) {
    // The name came from our own directory listing, but it becomes a path component here: check it again.
    validateArtifactName(artifact.name);
    const target = name !== "" || mergeMultiple ? destination : path.join(destination, artifact.name);
    const digest = backend
      ? await downloadFromServer(ctx, backend, artifact, target, otherRun)
      : await downloadTo({ filesDir: artifact.filesDir ?? "" }, target, ctx.signal);
    if (digest !== artifact.digest) {
      ctx.warning(
        `Artifact '${artifact.name}' digest validation failed. Please verify the integrity of the artifact.`,
      );
    }
    ctx.log(`Artifact ${artifact.name} was downloaded to ${target}`);
  }
  ctx.log(`Total of ${artifacts.length} artifact(s) downloaded`);
  ctx.setOutput("download-path", destination);
  ctx.log("Download artifact has finished successfully");
}

export const uploadArtifact: BuiltinAction = { main };

export const downloadArtifact: BuiltinAction = { main: downloadMain };
