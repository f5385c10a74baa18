// Image builds through the Engine API. BuildKit is the builder when the engine has it (Docker Engine with
// API 1.39+): it understands `RUN --mount=type=cache|secret`, build secrets travel over a session rather
// than the context, and registry caches (`cache_from`, inline cache export) work. The legacy builder is the
// fallback (Podman's compatible API, old engines, DOCKER_BUILDKIT=0) and says so once per build.
//
// Invariants: a build secret's value is never in the context, the query, a build argument, an image layer
// or a log line (values are masked in the output); the build stream is read to its end, so an error inside
// it is a BuildError naming the failing instruction, never a success.
import type Dockerode from "dockerode";
import { OperationError, UserError } from "../lib/errors.js";
import { createBuildContext } from "./build-context.js";
import { BuildKitPrinter } from "./buildkit-progress.js";
import { openBuildKitSession, type BuildKitSession } from "./buildkit-session.js";
import { BuildError } from "./errors.js";
import { messageError, readJsonStream, type StreamMessage } from "./json-stream.js";

export type Builder = "buildkit" | "legacy";

export type BuildOptions = {
  /** The context directory. */
  context: string;
  /** Relative to the context, or absolute (default `Dockerfile`). */
  dockerfile?: string;
  /** Full references to tag the result with (`registry:5000/team/app:1.0.0`). */
  tags: string[];
  buildArgs?: Record<string, string>;
  target?: string;
  labels?: Record<string, string>;
  noCache?: boolean;
  /** Build secrets by id (`RUN --mount=type=secret,id=ID`): BuildKit only. */
  secrets?: Record<string, string | Buffer>;
  /** Images whose layers may be reused (`--cache-from`); with BuildKit they need inline cache metadata. */
  cacheFrom?: string[];
  /** Write BuildKit's inline cache metadata into the image, so that it can serve as `cacheFrom` later. */
  inlineCache?: boolean;
  /** `os/arch[/variant]` to build for, when not the engine's own. */
  platform?: string;
  /** Credentials BuildKit may ask for, by registry host (for `cacheFrom` images and base images). */
  credentials?: (host: string) => { username: string; password: string } | undefined;
  /** `auto` (default): BuildKit when the engine has it; DOCKER_BUILDKIT=0|1 in the environment also decides. */
  builder?: "auto" | Builder;
  /** Each line of build output as it comes. */
  onLog?: (line: string) => void;
  signal?: AbortSignal;
};

export type BuildResult = { id: string; builder: Builder };

/** What a build needs from the Engine it runs on. */
export type BuildTarget = {
  docker: Dockerode;
  /** Maps an API error to an EngineError naming what failed. */
  fail(what: string, err: unknown): never;
  /** The builder this engine offers, and why not BuildKit when it does not (asked once per engine). */
  builder(): Promise<{ builder: Builder; why?: string }>;
};

const stepPattern = /^(?:Step|STEP) (\d+\/\d+) ?: ?(.*)$/;

/** Which builder an engine offers: BuildKit needs Docker Engine API 1.39+ (Podman's API has no sessions). */
export function engineBuilder(v: { apiVersion: string; podman: boolean }): {
  builder: Builder;
  why?: string;
} {
  if (v.podman) return { builder: "legacy", why: "Podman's Docker-compatible API has no BuildKit" };
  const [major, minor] = v.apiVersion.split(".").map(Number);
  if (major < 1 || (major === 1 && minor < 39))
    return { builder: "legacy", why: `the engine's API ${v.apiVersion} predates BuildKit (1.39)` };
  return { builder: "buildkit" };
}

async function chooseBuilder(
  target: BuildTarget,
  opts: BuildOptions,
): Promise<{ builder: Builder; why?: string }> {
  const wanted = opts.builder ?? "auto";
  if (wanted === "legacy") return { builder: "legacy", why: "the legacy builder was asked for" };
  const env = process.env.DOCKER_BUILDKIT;
  if (wanted === "auto" && env === "0") return { builder: "legacy", why: "DOCKER_BUILDKIT=0" };
  const offered = await target.builder();
  if (offered.builder === "legacy" && (wanted === "buildkit" || env === "1"))
    throw new UserError(`BuildKit was asked for, but ${offered.why}`);
  return offered;
}

export async function buildImage(target: BuildTarget, opts: BuildOptions): Promise<BuildResult> {
  const image = opts.tags[0] ?? opts.context;
  const chosen = await chooseBuilder(target, opts);
  const secretIds = Object.keys(opts.secrets ?? {});
  if (chosen.builder === "legacy") {
    if (secretIds.length)
      throw new UserError(
        `build of ${image} needs BuildKit for its secrets (${secretIds.join(", ")}), but ${chosen.why}`,
      );
    opts.onLog?.(`note: building with the legacy builder (${chosen.why}): RUN --mount is not supported`);
    return { id: await runBuild(target, opts, "legacy"), builder: "legacy" };
  }
  return { id: await runBuild(target, opts, "buildkit"), builder: "buildkit" };
}

function maskSecrets(opts: BuildOptions): (line: string) => string {
  const values = Object.values(opts.secrets ?? {})
    .map((v) => v.toString())
    .flatMap((v) => [v, ...v.split(/\r?\n/)])
    .filter((v) => v.trim().length >= 3)
    .sort((a, b) => b.length - a.length);
  if (!values.length) return (line) => line;
  return (line) => values.reduce((l, v) => l.split(v).join("***"), line);
}

async function runBuild(target: BuildTarget, opts: BuildOptions, builder: Builder): Promise<string> {
  const image = opts.tags[0] ?? opts.context;
  const ctx = await createBuildContext(opts.context, opts.dockerfile);
  // A context that cannot be read to its end (a file removed meanwhile) ends the upload, which the engine
  // would otherwise wait on, and is the build's error.
  const packing = new AbortController();
  let packError: unknown;
  ctx.stream.on("error", (err) => {
    packError = err;
    packing.abort(err);
  });
  const signal = opts.signal ? AbortSignal.any([opts.signal, packing.signal]) : packing.signal;
  const buildArgs = { ...(opts.buildArgs ?? {}) };
  if (opts.inlineCache) buildArgs.BUILDKIT_INLINE_CACHE = "1";
  const query: Record<string, unknown> = {
    t: opts.tags,
    dockerfile: ctx.dockerfile,
    buildargs: buildArgs,
    labels: opts.labels ?? {},
    rm: true,
    forcerm: true,
    nocache: opts.noCache ?? false,
  };
  if (opts.target) query.target = opts.target;
  if (opts.platform) query.platform = opts.platform;
  if (opts.cacheFrom?.length) query.cachefrom = JSON.stringify(opts.cacheFrom);
  const contextFailed = () =>
    new OperationError(`failed to send the build context of ${image}`, { cause: packError });

  let session: BuildKitSession | undefined;
  if (builder === "buildkit") {
    try {
      session = await openBuildKitSession(target.docker, {
        secrets: Object.fromEntries(
          Object.entries(opts.secrets ?? {}).map(([k, v]) => [k, Buffer.isBuffer(v) ? v : Buffer.from(v)]),
        ),
        credentials: opts.credentials,
      });
    } catch (err) {
      target.fail(`open a BuildKit session for ${image}`, err);
    }
    query.version = "2";
    query.session = session.id;
  }
  const mask = maskSecrets(opts);
  const tail: string[] = [];
  let step: string | undefined;
  let instruction: string | undefined;
  const line = (raw: string) => {
    const text = mask(raw);
    tail.push(text);
    if (tail.length > 30) tail.shift();
    const m = stepPattern.exec(text);
    if (m) {
      step = m[1];
      instruction = m[2].trim();
    }
    opts.onLog?.(text);
  };
  const printer = new BuildKitPrinter(line);
  let id: string | undefined;
  let error: string | undefined;
  let pending = "";
  try {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await dialBuild(target.docker, ctx.stream, query, signal);
    } catch (err) {
      if (packError) throw contextFailed();
      target.fail(`build ${image}`, err);
    }
    try {
      await readJsonStream(
        stream,
        (m: StreamMessage) => {
          const err = messageError(m);
          if (err) error = err;
          const aux = m.aux as unknown;
          if (m.id === "moby.buildkit.trace" && typeof aux === "string") {
            printer.write(aux);
            return;
          }
          if (aux && typeof aux === "object" && typeof (aux as { ID?: unknown }).ID === "string")
            id = (aux as { ID: string }).ID;
          if (m.stream) {
            pending += m.stream;
            const lines = pending.split("\n");
            pending = lines.pop() ?? "";
            for (const l of lines) line(l.replace(/\r$/, ""));
            const built = /^Successfully built ([0-9a-f]+)/m.exec(m.stream);
            if (built && !id) id = built[1];
          } else if (m.status && !m.progress) line(m.status);
        },
        signal,
      );
    } catch (err) {
      if (packError) throw contextFailed();
      target.fail(`build ${image}`, err);
    }
  } finally {
    session?.close();
  }
  if (pending) line(pending);
  if (printer.failed) {
    step ??= printer.failed.step;
    instruction ??= printer.failed.instruction;
  }
  if (error)
    throw new BuildError(image, { step, instruction, reason: mask(error.trim()), logTail: tail.slice(-20) });
  if (!id) {
    // Podman's compat API may send only the final id line.
    const last = tail.at(-1)?.trim();
    if (last && /^[0-9a-f]{12,64}$/.test(last)) id = last;
    else if (opts.tags[0]) {
      try {
        id = (await target.docker.getImage(opts.tags[0]).inspect()).Id;
      } catch {
        id = undefined;
      }
    }
  }
  if (!id)
    throw new BuildError(image, {
      step,
      instruction,
      reason: "the engine reported no image id",
      logTail: tail.slice(-20),
    });
  return id.startsWith("sha256:") || id.length < 64 ? id : `sha256:${id}`;
}

/**
 * POST /build. Not dockerode's buildImage: for `version: "2"` it opens a session of its own that serves
 * registry credentials only, and this one must also serve secrets.
 */
function dialBuild(
  docker: Dockerode,
  context: NodeJS.ReadableStream,
  query: Record<string, unknown>,
  signal: AbortSignal,
): Promise<NodeJS.ReadableStream> {
  return new Promise((resolvePromise, reject) => {
    docker.modem.dial(
      {
        path: "/build?",
        method: "POST",
        file: context,
        options: query,
        abortSignal: signal,
        isStream: true,
        statusCodes: { 200: true, 400: "bad parameter", 500: "server error" },
      } as unknown as Parameters<typeof docker.modem.dial>[0],
      (err: unknown, stream: unknown) =>
        err ? reject(err) : resolvePromise(stream as NodeJS.ReadableStream),
    );
  });
}
