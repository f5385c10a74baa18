// applyBuild: builds the planned images in dependency order, up to `concurrency` at once (a service waits only
// for its own dependencies), pushes them when asked (retrying an unreachable registry with exponential
// backoff), and reports service → reference, digest and status. pruneImages removes dangling images.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import {
  type BuildOptions,
  type Engine,
  PushError,
  type PushResult,
  type RegistryAuth,
} from "../engines/index.js";
import { retry } from "../lib/async.js";
import { OperationError } from "../lib/errors.js";
import { credentialHosts, resolveBuildSecrets, sessionCredentials } from "./build-inputs.js";
import { buildMultiPlatform } from "./multi-platform.js";
import type { BuildPlan, PlannedService } from "./plan.js";
import { type Credentials, dockerCredentials } from "./registry/auth.js";
import { registryHostOf } from "./templates.js";

export type ServiceStatus = "built" | "skipped" | "failed" | "cancelled";

export type ServiceResult = {
  status: ServiceStatus;
  /** The image to deploy: the new one when built, the previous release's when skipped (if known). */
  reference?: string;
  /** Every reference tagged (built only). */
  references: string[];
  /** Registry digest (after a push), `repository@digest` is immutable. */
  digest?: string;
  /** The engine's image id (built only). */
  id?: string;
  pushed: boolean;
  reasons: string[];
  error?: string;
  durationMs: number;
};

export type BuildResult = {
  version: string;
  services: Record<string, ServiceResult>;
};

export type BuildEvent =
  | { type: "started"; service: string }
  | { type: "built"; service: string; id: string }
  | { type: "pushing"; service: string; reference: string; attempt: number }
  | { type: "pushed"; service: string; reference: string; digest?: string }
  | { type: "retry"; service: string; reference: string; attempt: number; delayMs: number; reason: string }
  | { type: "skipped"; service: string; reason: string }
  | { type: "failed"; service: string; error: string }
  | { type: "cancelled"; service: string; reason: string };

export type RetryPolicy = { attempts: number; baseDelayMs: number; maxDelayMs: number };

export const defaultRetry: RetryPolicy = { attempts: 5, baseDelayMs: 1000, maxDelayMs: 15_000 };

export type ApplyOptions = {
  engine: Engine;
  /** The directory of slipway.yaml: contexts are relative to it. */
  root: string;
  push?: boolean;
  /** Overrides the plan's concurrency. */
  concurrency?: number;
  onLog?: (service: string, line: string) => void;
  onEvent?: (event: BuildEvent) => void;
  /** Credentials for a registry host; default: the docker config's (`docker login`). */
  auth?: (host: string) => Promise<Credentials | undefined> | Credentials | undefined;
  retry?: Partial<RetryPolicy>;
  /** Writes the result as JSON to this file (also when the build fails). */
  resultFile?: string;
  /** Extra labels on every image. */
  labels?: Record<string, string>;
  git?: { sha: string };
  noCache?: boolean;
  /** Where `env:` build secrets are read (default: process.env). */
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
};

/** Thrown when a service failed; `result` says what happened to each service. */
export class BuildFailedError extends OperationError {
  readonly result: BuildResult;
  constructor(result: BuildResult) {
    const failed = Object.entries(result.services).filter(([, s]) => s.status === "failed");
    const cancelled = Object.entries(result.services).filter(([, s]) => s.status === "cancelled");
    const lines = failed.map(([name, s]) => `${name}: ${s.error}`);
    if (cancelled.length) lines.push(`not built: ${cancelled.map(([n]) => n).join(", ")}`);
    super(`build failed (${failed.map(([n]) => n).join(", ")})\n${lines.join("\n")}`);
    this.name = "BuildFailedError";
    this.result = result;
  }
}

/** The build-arg carrying a dependency's image reference: `SLIPWAY_IMAGE_<NAME>` (`chat-base` → `CHAT_BASE`). */
export function dependencyArg(service: string): string {
  return `SLIPWAY_IMAGE_${service.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

function toEngineAuth(c: Credentials | undefined, host: string): RegistryAuth | undefined {
  if (!c) return undefined;
  if ("password" in c) return { username: c.username, password: c.password, serveraddress: host };
  return { identitytoken: c.identityToken, serveraddress: host };
}

/** Pushes one reference, retrying while the registry is unreachable. */
async function pushWithRetry(
  engine: Engine,
  service: string,
  reference: string,
  auth: RegistryAuth | undefined,
  policy: RetryPolicy,
  opts: ApplyOptions,
): Promise<PushResult> {
  const unreachable = (err: unknown) => err instanceof PushError && err.kind === "unreachable";
  let attempts = 0;
  try {
    return await retry(
      (attempt) => {
        attempts = attempt;
        opts.onEvent?.({ type: "pushing", service, reference, attempt });
        return engine.pushImage(reference, {
          auth,
          signal: opts.signal,
          onLog: (l) => opts.onLog?.(service, l),
        });
      },
      {
        attempts: policy.attempts,
        backoff: { baseMs: policy.baseDelayMs, maxMs: policy.maxDelayMs },
        signal: opts.signal,
        retryOn: unreachable,
        onRetry: (err, attempt, delayMs) =>
          opts.onEvent?.({
            type: "retry",
            service,
            reference,
            attempt,
            delayMs,
            reason: (err as Error).message,
          }),
      },
    );
  } catch (err) {
    if (!unreachable(err)) throw err;
    throw new OperationError(
      `${(err as Error).message}; gave up after ${attempts} attempt${attempts > 1 ? "s" : ""}`,
      {
        cause: err,
      },
    );
  }
}

/** A simple counting semaphore. */
function limiter(n: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

export async function applyBuild(plan: BuildPlan, opts: ApplyOptions): Promise<BuildResult> {
  const policy: RetryPolicy = { ...defaultRetry, ...opts.retry };
  const limit = limiter(Math.max(1, opts.concurrency ?? plan.concurrency));
  const result: BuildResult = { version: plan.version, services: {} };
  const authCache = new Map<string, Promise<RegistryAuth | undefined>>();
  const authFor = (host: string) => {
    if (!authCache.has(host))
      authCache.set(
        host,
        Promise.resolve(opts.auth ? opts.auth(host) : dockerCredentials(host, { signal: opts.signal })).then(
          (c) => toEngineAuth(c, host),
        ),
      );
    return authCache.get(host)!;
  };
  const rawCredentials = new Map<string, Promise<Credentials | undefined>>();
  const credentialsFor = (host: string) => {
    if (!rawCredentials.has(host))
      rawCredentials.set(
        host,
        Promise.resolve(opts.auth ? opts.auth(host) : dockerCredentials(host, { signal: opts.signal })),
      );
    return rawCredentials.get(host)!;
  };
  const secrets = resolveBuildSecrets(plan, opts.root, opts.env ?? process.env);
  let failed = false;
  const tasks = new Map<string, Promise<ServiceResult>>();

  const runService = async (s: PlannedService): Promise<ServiceResult> => {
    const deps = await Promise.all(s.dependsOn.map((d) => tasks.get(d)!));
    const started = Date.now();
    const base = { references: [] as string[], pushed: false, reasons: s.reasons };
    const blocked = s.dependsOn.filter(
      (_, i) => deps[i].status === "failed" || deps[i].status === "cancelled",
    );
    if (blocked.length) {
      const reason = `dependency ${blocked.join(", ")} failed`;
      opts.onEvent?.({ type: "cancelled", service: s.name, reason });
      return { ...base, status: "cancelled", error: reason, durationMs: 0 };
    }
    // A skipped service keeps the image it last had: that of the newest earlier release whose image
    // exists (a service skipped at the last release was built at an older one). When none can be found
    // (the registry is unreachable, or was pruned), it names the last release's and says so.
    if (!s.build) {
      const candidates = s.candidates ?? (s.previous ? [s.previous] : []);
      const kept = await keptImage(candidates, opts, authFor, s.repository);
      const reasons = kept ? s.reasons : [...s.reasons, "no image of an earlier release was found"];
      opts.onEvent?.({ type: "skipped", service: s.name, reason: reasons.join("; ") });
      return { ...base, reasons, status: "skipped", reference: kept ?? s.previous, durationMs: 0 };
    }
    return limit(async () => {
      if (failed || opts.signal?.aborted) {
        const reason = opts.signal?.aborted ? "cancelled" : "another service failed";
        opts.onEvent?.({ type: "cancelled", service: s.name, reason });
        return { ...base, status: "cancelled" as const, error: reason, durationMs: 0 };
      }
      opts.onEvent?.({ type: "started", service: s.name });
      const references = s.tags.map((t) => `${s.repository}:${t}`);
      try {
        const buildArgs = { ...s.args };
        s.dependsOn.forEach((d, i) => {
          const ref = deps[i].reference;
          if (ref) buildArgs[dependencyArg(d)] = ref;
        });
        // BuildKit asks for credentials synchronously over its session: fetch them first.
        const hosts = credentialHosts(s);
        const creds = new Map(
          await Promise.all(
            hosts.map(async (h) => [h, sessionCredentials(await credentialsFor(h))] as const),
          ),
        );
        const buildOptions: BuildOptions = {
          context: resolve(opts.root, s.context),
          dockerfile: s.dockerfile,
          tags: references,
          buildArgs,
          target: s.target,
          labels: {
            "io.slipway.service": s.name,
            "io.slipway.version": plan.version,
            "org.opencontainers.image.version": plan.version,
            ...(opts.git ? { "org.opencontainers.image.revision": opts.git.sha } : {}),
            ...opts.labels,
          },
          noCache: opts.noCache,
          secrets: secrets.get(s.name),
          cacheFrom: s.cacheFrom,
          inlineCache: s.inlineCache,
          platform: s.platforms.length === 1 ? s.platforms[0] : undefined,
          credentials: (host) => creds.get(host),
          builder: plan.builder,
          onLog: (l) => opts.onLog?.(s.name, l),
          signal: opts.signal,
        };
        if (s.platforms.length > 1) {
          const multi = await buildMultiPlatform(s, buildOptions, {
            engine: opts.engine,
            push: opts.push ?? false,
            credentials: await credentialsFor(registryHostOf(s.repository)),
            pushOne: async (ref) =>
              pushWithRetry(
                opts.engine,
                s.name,
                ref,
                await authFor(registryHostOf(s.repository)),
                policy,
                opts,
              ),
            onBuilt: (id) => opts.onEvent?.({ type: "built", service: s.name, id }),
            onPushed: (reference, digest) =>
              opts.onEvent?.({ type: "pushed", service: s.name, reference, digest }),
            signal: opts.signal,
          });
          return {
            ...base,
            status: "built" as const,
            reference: references[0],
            references,
            digest: multi.digest,
            id: multi.digest,
            pushed: true,
            durationMs: Date.now() - started,
          };
        }
        const { id } = await opts.engine.buildImage(buildOptions);
        opts.onEvent?.({ type: "built", service: s.name, id });
        let digest: string | undefined;
        if (opts.push) {
          const auth = await authFor(registryHostOf(s.repository));
          for (const ref of references) {
            const pushed = await pushWithRetry(opts.engine, s.name, ref, auth, policy, opts);
            digest ??= pushed.digest;
            opts.onEvent?.({ type: "pushed", service: s.name, reference: ref, digest: pushed.digest });
          }
          // Engines whose push stream carries no digest (some Podman versions) record it on the image.
          if (!digest) {
            const info = await opts.engine.inspectImage(id);
            digest = info?.repoDigests.find((d) => d.startsWith(`${s.repository}@`))?.split("@")[1];
          }
        } else {
          // An image pushed before under this repository still has its registry digest.
          const info = await opts.engine.inspectImage(id);
          digest = info?.repoDigests.find((d) => d.startsWith(`${s.repository}@`))?.split("@")[1];
        }
        return {
          ...base,
          status: "built" as const,
          reference: references[0],
          references,
          digest,
          id,
          pushed: opts.push ?? false,
          durationMs: Date.now() - started,
        };
      } catch (err) {
        if (opts.signal?.aborted) {
          opts.onEvent?.({ type: "cancelled", service: s.name, reason: "cancelled" });
          return {
            ...base,
            status: "cancelled" as const,
            error: "cancelled",
            durationMs: Date.now() - started,
          };
        }
        failed = true;
        const error = (err as Error).message;
        opts.onEvent?.({ type: "failed", service: s.name, error });
        return { ...base, status: "failed" as const, error, durationMs: Date.now() - started };
      }
    });
  };

  for (const name of plan.levels.flat()) tasks.set(name, runService(plan.services[name]));
  for (const name of plan.levels.flat()) result.services[name] = await tasks.get(name)!;

  if (opts.resultFile) {
    mkdirSync(dirname(resolve(opts.resultFile)), { recursive: true });
    writeFileSync(opts.resultFile, `${JSON.stringify(result, null, 2)}\n`);
  }
  if (Object.values(result.services).some((s) => s.status === "failed")) throw new BuildFailedError(result);
  opts.signal?.throwIfAborted();
  return result;
}

/** The first reference that exists on the engine or in its registry (pulled then), if any. */
async function keptImage(
  references: string[],
  opts: ApplyOptions,
  authFor: (host: string) => Promise<RegistryAuth | undefined>,
  repository: string,
): Promise<string | undefined> {
  for (const reference of references) {
    if (await opts.engine.imageExists(reference)) return reference;
    try {
      await opts.engine.pullImage(reference, {
        auth: await authFor(registryHostOf(repository)),
        signal: opts.signal,
      });
      if (await opts.engine.imageExists(reference)) return reference;
    } catch {
      // Not in the registry either: try an older release.
    }
  }
  return undefined;
}

/** Removes dangling images on the engine host (only slipway-built ones with `onlySlipway`). */
export async function pruneImages(
  engine: Engine,
  opts: { onlySlipway?: boolean; signal?: AbortSignal } = {},
): Promise<{ deleted: string[]; spaceReclaimed: number }> {
  return engine.pruneImages({
    labels: opts.onlySlipway ? { "io.slipway.service": "" } : undefined,
    signal: opts.signal,
  });
}
