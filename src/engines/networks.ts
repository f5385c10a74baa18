// Bridge networks on an engine: create (idempotent), remove, connect and disconnect containers, list by
// label. The Engine class delegates here; a network that is missing is an answer (false), not an error.
import type Dockerode from "dockerode";
import { labelFilters } from "./container-spec.js";
import { call, type EngineApi } from "./engine-client.js";

/** Creates a bridge network (or returns the id of the existing one with that name). */
export async function createNetwork(
  api: EngineApi,
  name: string,
  opts: { labels?: Record<string, string>; internal?: boolean; signal?: AbortSignal } = {},
): Promise<string> {
  try {
    const n = await api.docker.createNetwork({
      Name: name,
      Driver: "bridge",
      CheckDuplicate: true,
      Internal: opts.internal ?? false,
      Labels: opts.labels ?? {},
      abortSignal: opts.signal,
    } as Dockerode.NetworkCreateOptions);
    return n.id;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 409) {
      const existing = await call(api, `inspect network ${name}`, () =>
        api.docker.getNetwork(name).inspect(),
      );
      return existing.Id;
    }
    api.fail(`create network ${name}`, err);
  }
}

export async function removeNetwork(api: EngineApi, name: string, signal?: AbortSignal): Promise<boolean> {
  try {
    await api.docker.getNetwork(name).remove({ abortSignal: signal });
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    api.fail(`remove network ${name}`, err);
  }
}

export async function connectNetwork(
  api: EngineApi,
  network: string,
  container: string,
  opts: { aliases?: string[]; signal?: AbortSignal } = {},
): Promise<void> {
  await call(api, `connect ${container} to network ${network}`, () =>
    api.docker.getNetwork(network).connect({
      Container: container,
      EndpointConfig: { Aliases: opts.aliases ?? [] },
      abortSignal: opts.signal,
    } as object),
  );
}

export async function disconnectNetwork(
  api: EngineApi,
  network: string,
  container: string,
  signal?: AbortSignal,
): Promise<void> {
  await call(api, `disconnect ${container} from network ${network}`, () =>
    api.docker.getNetwork(network).disconnect({ Container: container, Force: true, abortSignal: signal }),
  );
}

export async function listNetworks(
  api: EngineApi,
  opts: { labels?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<{ id: string; name: string; labels: Record<string, string> }[]> {
  const list = await call(api, "list networks", () =>
    api.docker.listNetworks({
      filters: JSON.stringify(labelFilters(opts.labels)),
      abortSignal: opts.signal,
    } as object),
  );
  return list.map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {} }));
}
