// Images on an engine: inspect, tag, push and pull (their streams read to the end, so that a registry error
// inside one is never taken for success), remove, prune and list. The Engine class delegates here.
import type Dockerode from "dockerode";
import { labelFilters } from "./container-spec.js";
import { call, type EngineApi } from "./engine-client.js";
import { EngineError } from "./errors.js";
import { splitReference } from "./image-reference.js";
import { messageError, readJsonStream } from "./json-stream.js";
import { classifyPushFailure, PushError } from "./push-error.js";

/** Registry credentials as the Engine API takes them (X-Registry-Auth). */
export type RegistryAuth =
  | { username: string; password: string; serveraddress?: string }
  | { identitytoken: string; serveraddress?: string };

export type ImageInfo = {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  created: string;
  labels: Record<string, string>;
  size: number;
};

export type PushOptions = {
  auth?: RegistryAuth;
  onLog?: (line: string) => void;
  signal?: AbortSignal;
};

export type PushResult = { reference: string; digest?: string; size?: number };

export async function inspectImage(api: EngineApi, reference: string): Promise<ImageInfo | undefined> {
  try {
    const i = await api.docker.getImage(reference).inspect();
    return {
      id: i.Id,
      repoTags: i.RepoTags ?? [],
      repoDigests: i.RepoDigests ?? [],
      created: i.Created,
      labels: i.Config?.Labels ?? {},
      size: i.Size,
    };
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    api.fail(`inspect image ${reference}`, err);
  }
}

export async function tagImage(
  api: EngineApi,
  source: string,
  target: string,
  signal?: AbortSignal,
): Promise<void> {
  const { name, tag } = splitReference(target);
  await call(api, `tag ${source} as ${target}`, () =>
    api.docker.getImage(source).tag({ repo: name, tag: tag ?? "latest", abortSignal: signal }),
  );
}

/**
 * Pushes one tag. The push stream is read to its end: a registry error in it (auth, unreachable) is a
 * PushError even though the HTTP call itself succeeded.
 */
export async function pushImage(
  api: EngineApi,
  reference: string,
  opts: PushOptions = {},
): Promise<PushResult> {
  const { name, tag } = splitReference(reference);
  let stream: NodeJS.ReadableStream;
  try {
    stream = await api.docker.getImage(name).push({
      tag: tag ?? "latest",
      authconfig: opts.auth ?? {},
      abortSignal: opts.signal,
    } as Dockerode.ImagePushOptions);
  } catch (err) {
    const e = err as { statusCode?: number; json?: { message?: string }; message?: string };
    if (e.statusCode) {
      const message = e.json?.message ?? e.message ?? "";
      throw new PushError(reference, e.statusCode === 404 ? "other" : classifyPushFailure(message), message);
    }
    api.fail(`push ${reference}`, err);
  }
  let error: string | undefined;
  let digest: string | undefined;
  let size: number | undefined;
  try {
    await readJsonStream(
      stream,
      (m) => {
        const err = messageError(m);
        if (err) error = err;
        if (m.aux && typeof m.aux.Digest === "string") {
          digest = m.aux.Digest;
          size = typeof m.aux.Size === "number" ? m.aux.Size : undefined;
        }
        if (m.status && !m.progress) opts.onLog?.(m.id ? `${m.id}: ${m.status}` : m.status);
        const d = m.status && /digest: (sha256:[0-9a-f]{64})/.exec(m.status);
        if (d && !digest) digest = d[1];
      },
      opts.signal,
    );
  } catch (err) {
    api.fail(`push ${reference}`, err);
  }
  if (error) throw new PushError(reference, classifyPushFailure(error), error.trim());
  return { reference, digest, size };
}

/** Pulls an image (all of its layers) from its registry. */
export async function pullImage(api: EngineApi, reference: string, opts: PushOptions = {}): Promise<void> {
  const { name, tag, digest } = splitReference(reference);
  let stream: NodeJS.ReadableStream;
  try {
    stream = await api.docker.createImage(opts.auth ?? {}, {
      fromImage: name,
      tag: digest ?? tag ?? "latest",
      abortSignal: opts.signal,
    } as object);
  } catch (err) {
    const e = err as { statusCode?: number; json?: { message?: string }; message?: string };
    if (e.statusCode) {
      const message = e.json?.message ?? e.message ?? "";
      throw new EngineError(`pull of ${reference} failed: ${message}`, e.statusCode, { cause: err });
    }
    api.fail(`pull ${reference}`, err);
  }
  let error: string | undefined;
  try {
    await readJsonStream(
      stream,
      (m) => {
        error = messageError(m) ?? error;
        if (m.status && !m.progress) opts.onLog?.(m.id ? `${m.id}: ${m.status}` : m.status);
      },
      opts.signal,
    );
  } catch (err) {
    api.fail(`pull ${reference}`, err);
  }
  if (error) throw new EngineError(`pull of ${reference} failed: ${error.trim()}`);
}

export async function removeImage(
  api: EngineApi,
  reference: string,
  opts: { force?: boolean; signal?: AbortSignal } = {},
): Promise<boolean> {
  try {
    await api.docker.getImage(reference).remove({ force: opts.force ?? false, abortSignal: opts.signal });
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    api.fail(`remove image ${reference}`, err);
  }
}

/** Removes dangling images (all unused ones with `all`), optionally only those with the given labels. */
export async function pruneImages(
  api: EngineApi,
  opts: { all?: boolean; labels?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<{ deleted: string[]; spaceReclaimed: number }> {
  const filters: Record<string, string[]> = {
    dangling: [opts.all ? "false" : "true"],
    ...labelFilters(opts.labels),
  };
  const r = await call(api, "prune images", () =>
    api.docker.pruneImages({ filters: JSON.stringify(filters), abortSignal: opts.signal } as object),
  );
  const deleted = (r.ImagesDeleted ?? []).flatMap((d: { Deleted?: string; Untagged?: string }) =>
    d.Deleted ? [d.Deleted] : [],
  );
  return { deleted, spaceReclaimed: r.SpaceReclaimed ?? 0 };
}

export async function listImages(
  api: EngineApi,
  opts: { labels?: Record<string, string>; dangling?: boolean; signal?: AbortSignal } = {},
): Promise<{ id: string; repoTags: string[]; labels: Record<string, string> }[]> {
  const filters: Record<string, string[]> = labelFilters(opts.labels);
  if (opts.dangling !== undefined) filters.dangling = [String(opts.dangling)];
  const list = await call(api, "list images", () =>
    api.docker.listImages({ filters: JSON.stringify(filters), abortSignal: opts.signal } as object),
  );
  return list.map((i) => ({ id: i.Id, repoTags: i.RepoTags ?? [], labels: i.Labels ?? {} }));
}
