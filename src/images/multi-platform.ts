// A multi-platform image through the Docker Engine API, which builds one platform per call and whose image
// store holds no manifest lists: each platform is built (BuildKit, `platform=`), pushed under
// `<tag>-<os>-<arch>[-<variant>]`, and then an index naming those manifests is put under every tag of the
// service. The per-platform tags stay in the registry (the index refers to their manifests by digest; a
// registry prune that keeps the index's tag keeps what it needs). `buildx` does the same in one step with a
// standalone BuildKit; this path needs only the engine and a registry.
import type { BuildOptions, Engine, PushResult } from "../engines/index.js";
import { UserError } from "../lib/errors.js";
import type { PlannedService } from "./plan.js";
import type { Credentials } from "./registry/auth.js";
import { manifestTypes, registryFor } from "./registry/client.js";

export type MultiPlatformContext = {
  engine: Engine;
  push: boolean;
  credentials?: Credentials;
  pushOne(reference: string): Promise<PushResult>;
  onBuilt?: (id: string) => void;
  onPushed?: (reference: string, digest?: string) => void;
  signal?: AbortSignal;
};

/** The tag suffix of one platform's image: `linux/arm/v7` → `linux-arm-v7`. */
export function platformTag(tag: string, platform: string): string {
  return `${tag}-${platform.replaceAll("/", "-")}`;
}

export async function buildMultiPlatform(
  s: PlannedService,
  base: BuildOptions,
  ctx: MultiPlatformContext,
): Promise<{ digest: string }> {
  if (!ctx.push)
    throw new UserError(
      `${s.name}: building for ${s.platforms.join(", ")} makes a multi-platform image, which only a registry can hold: build with --push, or list one platform`,
    );
  const { client, repository } = registryFor(`${s.repository}:${s.tags[0]}`, {
    credentials: ctx.credentials ?? null,
  });
  const entries: { mediaType: string; digest: string; size: number; platform: Record<string, string> }[] = [];
  for (const platform of s.platforms) {
    const reference = `${s.repository}:${platformTag(s.tags[0], platform)}`;
    const { id } = await ctx.engine.buildImage({ ...base, tags: [reference], platform });
    ctx.onBuilt?.(id);
    const pushed = await ctx.pushOne(reference);
    ctx.onPushed?.(reference, pushed.digest);
    const manifest = await client.manifest(
      repository,
      pushed.digest ?? platformTag(s.tags[0], platform),
      ctx.signal,
    );
    const [os, architecture, variant] = platform.split("/");
    entries.push({
      mediaType: manifest.mediaType,
      digest: manifest.digest,
      size: manifest.raw.length,
      platform: { os, architecture, ...(variant ? { variant } : {}) },
    });
  }
  // A Docker manifest list when every entry is a Docker manifest (what the engine pushes), else an OCI index.
  const mediaType = entries.every((e) => e.mediaType === manifestTypes.dockerManifest)
    ? manifestTypes.dockerList
    : manifestTypes.ociIndex;
  const raw = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests: entries }));
  let digest = "";
  for (const tag of s.tags) {
    digest = await client.putManifest(repository, tag, { raw, mediaType }, ctx.signal);
    ctx.onPushed?.(`${s.repository}:${tag}`, digest);
  }
  return { digest };
}
