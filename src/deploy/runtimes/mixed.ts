// One Runtime over both kinds: a spec may run some services as processes and others as containers.
// The docker runtime is created on first use, so an environment of processes never needs an engine.
import { OperationError } from "../../lib/errors.js";
import type { InstanceInfo, Runtime, ServiceSpec, StartRequest, TaskRequest } from "../types.js";

export function createMixedRuntime(factories: {
  process: () => Runtime;
  docker: () => Runtime;
}): Runtime & { used(kind: "process" | "docker"): boolean; use(kind: "process" | "docker"): Runtime } {
  const made: Partial<Record<"process" | "docker", Runtime>> = {};
  const get = (kind: "process" | "docker") => {
    made[kind] ??= factories[kind]();
    return made[kind]!;
  };
  const forService = (s: ServiceSpec) => get(s.runtime);
  // Which runtime holds an instance: the one that knows it (process first: its lookups are local files).
  const owner = async (id: string): Promise<Runtime | undefined> => {
    for (const kind of ["process", "docker"] as const) {
      const r = kind === "docker" && !made.docker ? undefined : get(kind);
      if (r && (await r.inspect(id).catch(() => undefined))) return r;
    }
    return undefined;
  };
  return {
    kind: "process",
    used: (kind) => made[kind] !== undefined,
    use: get,
    prepare: (service, signal) => forService(service).prepare(service, signal),
    start: (request: StartRequest) => forService(request.service).start(request),
    async stop(id, options) {
      const r = await owner(id);
      if (r) await r.stop(id, options);
    },
    async inspect(id): Promise<InstanceInfo | undefined> {
      const r = await owner(id);
      return r ? r.inspect(id) : undefined;
    },
    async list(filter) {
      // The process runtime is always asked: its records are local files, and re-adoption depends on it.
      get("process");
      const all: InstanceInfo[] = [];
      for (const r of Object.values(made)) all.push(...(await r!.list(filter)));
      return all;
    },
    async exec(id, command, options) {
      const r = await owner(id);
      if (!r) return { exitCode: -1, output: `instance ${id} is gone`, timedOut: false };
      return r.exec(id, command, options);
    },
    runTask: (request: TaskRequest) => forService(request.service).runTask(request),
    async logs(id, options) {
      const r = await owner(id);
      return r ? r.logs(id, options) : "";
    },
    async streamLogs(id, options) {
      const r = await owner(id);
      if (!r) throw new OperationError(`instance ${id} is gone`);
      return r.streamLogs(id, options);
    },
    async attach(id, command, io) {
      const r = await owner(id);
      if (!r) throw new OperationError(`instance ${id} is gone`);
      return r.attach(id, command, io);
    },
    async prune(keep) {
      let removed = 0;
      for (const r of Object.values(made)) removed += (await r!.prune?.(keep))?.removed ?? 0;
      return { removed };
    },
    async cleanup(filter) {
      for (const r of Object.values(made)) await r!.cleanup?.(filter);
    },
    async close() {
      await Promise.all(Object.values(made).map((r) => r!.close()));
    },
  };
}
