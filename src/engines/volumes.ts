// Named volumes on an engine: create (idempotent), inspect, list by label, remove. The Engine class
// delegates here; a volume that is missing is an answer (undefined, false), not an error.
import type Dockerode from "dockerode";
import { labelFilters } from "./container-spec.js";
import { call, type EngineApi } from "./engine-client.js";
import { EngineError } from "./errors.js";

export type VolumeInfo = { name: string; labels: Record<string, string>; mountpoint: string };

/** Creates a named volume (an existing one with that name is returned as it is). */
export async function createVolume(
  api: EngineApi,
  name: string,
  opts: { labels?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<VolumeInfo> {
  await call(api, `create volume ${name}`, () =>
    api.docker.createVolume({
      Name: name,
      Labels: opts.labels ?? {},
      abortSignal: opts.signal,
    } as Dockerode.VolumeCreateOptions),
  );
  const info = await inspectVolume(api, name, opts.signal);
  if (!info) throw new EngineError(`create volume ${name}: the engine does not show it after creating it`);
  return info;
}

export async function inspectVolume(
  api: EngineApi,
  name: string,
  signal?: AbortSignal,
): Promise<VolumeInfo | undefined> {
  try {
    const v = await api.docker.getVolume(name).inspect({ abortSignal: signal } as object);
    return { name: v.Name, labels: v.Labels ?? {}, mountpoint: v.Mountpoint };
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    api.fail(`inspect volume ${name}`, err);
  }
}

export async function listVolumes(
  api: EngineApi,
  opts: { labels?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<VolumeInfo[]> {
  const r = await call(api, "list volumes", () =>
    api.docker.listVolumes({
      filters: JSON.stringify(labelFilters(opts.labels)),
      abortSignal: opts.signal,
    } as object),
  );
  return (r.Volumes ?? []).map((v) => ({ name: v.Name, labels: v.Labels ?? {}, mountpoint: v.Mountpoint }));
}

/** Removes a named volume; false when there is none. A volume still in use is an error. */
export async function removeVolume(
  api: EngineApi,
  name: string,
  opts: { force?: boolean; signal?: AbortSignal } = {},
): Promise<boolean> {
  try {
    await api.docker
      .getVolume(name)
      .remove({ force: opts.force ?? false, abortSignal: opts.signal } as object);
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    api.fail(`remove volume ${name}`, err);
  }
}
