// A compose file's `build:` entries, joined with the Dockerfiles init found: the build service that makes
// a compose service's image takes that service's name and the image its deploy service runs, so what
// `slipway build` pushes is what `slipway deploy` pulls.
import { posix } from "node:path";
import { parse } from "yaml";

export type DetectedDockerfile = {
  /** The build service's name: the context directory's (the app's for the root), plus the variant. */
  service: string;
  /** Relative to the repository root, with forward slashes ("." for the root). */
  context: string;
  /** Relative to the context. */
  dockerfile: string;
  /** The repository to push: the app's name, with the service's for any but the root's. */
  image: string;
};

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** The compose file's `name:` (its project name), when it has a string one. */
export function composeProjectName(text: string): string | undefined {
  try {
    const data = parse(text) as unknown;
    return isRecord(data) && typeof data.name === "string" ? data.name : undefined;
  } catch {
    return undefined; // the importer reports a broken file with its positions
  }
}

/** A context as init writes them: relative to the root, "." for the root itself. */
const normalContext = (context: string) => posix.normalize(context).replace(/\/+$/, "") || ".";

/**
 * The build services for `dockerfiles` and the compose file's builds. `composeText` has been imported
 * already (so it parses), and `deployServices` is the import's services in the compose file's order.
 * Returns the compose services whose build is now described by the build section.
 */
export function joinComposeBuilds(
  dockerfiles: DetectedDockerfile[],
  composeText: string,
  deployServices: Record<string, { image?: unknown }>,
): { dockerfiles: DetectedDockerfile[]; built: string[] } {
  const services = (parse(composeText, { merge: true }) as Json).services as Json;
  const slipNames = Object.keys(deployServices);
  const result = dockerfiles.map((f) => ({ ...f }));
  const built: string[] = [];
  Object.entries(services).forEach(([composeName, raw], i) => {
    const build = isRecord(raw) ? raw.build : undefined;
    if (build === undefined) return;
    const spec = isRecord(build) ? build : { context: build };
    const context = typeof spec.context === "string" ? spec.context : ".";
    // A git URL or an absolute path is nothing init can describe relative to the repository.
    if (/^[a-z]+:\/\/|^git@/.test(context) || posix.isAbsolute(context) || context.startsWith("..")) return;
    const ctx = normalContext(context);
    const dockerfile = typeof spec.dockerfile === "string" ? spec.dockerfile : "Dockerfile";
    const name = slipNames[i];
    const image = deployServices[name]?.image;
    if (typeof image !== "string") return;
    const taken = (f: DetectedDockerfile) => f.service === name;
    const match = result.find((f) => f.context === ctx && f.dockerfile === dockerfile);
    if (match) {
      if (!result.some((f) => f !== match && taken(f))) match.service = name;
      match.image = image;
    } else if (!result.some(taken)) {
      result.push({ service: name, context: ctx, dockerfile, image });
    } else return;
    built.push(composeName);
  });
  return { dockerfiles: result, built };
}
