// What `slipway init` finds in a repository: Dockerfiles (each one an image to build), a compose file (its
// services become the deploy section through the compose importer), package.json's start script (a process
// service when nothing is containerised) and GitHub workflows (which slipway runs unchanged). Reads files
// only; the compose file is imported, not run.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, relative, sep } from "node:path";
import { appNamePattern, serviceNamePattern } from "../config/index.js";
import type { importCompose } from "../deploy/index.js";
import { UserError } from "../lib/errors.js";
import { composeProjectName, type DetectedDockerfile, joinComposeBuilds } from "./init-compose.js";

export type { DetectedDockerfile };

type ComposeImport = ReturnType<typeof importCompose>;

export type DetectedCompose = {
  file: string;
  services: string[];
  import: ComposeImport;
  /** The import's warnings, less those the build section answers. */
  warnings: string[];
};

export type Detection = {
  dir: string;
  app: string;
  dockerfiles: DetectedDockerfile[];
  compose?: DetectedCompose;
  /** package.json's `start` script, when it has one. */
  start?: string;
  /** Workflow files under .github/workflows, relative to the root. */
  workflows: string[];
};

/** In the order Docker Compose itself looks for them. */
export const composeFiles = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];

// Folders that hold other people's code or build output: their Dockerfiles are not the repository's images.
const skippedDirs = new Set(["node_modules", "vendor", "dist", "build", "target", "testdata", "fixtures"]);
const maxDepth = 3;

/** A name made valid for the patterns app and service names share: lower case, other characters as '-'. */
export function toName(raw: string, fallback: string): string {
  const name = raw
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .replace(/-+$/, "");
  return appNamePattern.test(name) && serviceNamePattern.test(name) ? name : fallback;
}

/** `Dockerfile`, `Dockerfile.worker` and `worker.Dockerfile`: the variant is "" for the plain one. */
function dockerfileVariant(file: string): string | undefined {
  if (file === "Dockerfile") return "";
  if (file.startsWith("Dockerfile.")) return file.slice("Dockerfile.".length);
  if (file.endsWith(".Dockerfile")) return file.slice(0, -".Dockerfile".length);
  return undefined;
}

/** Dockerfiles under `root` (dot-folders and dependency folders skipped), sorted by path. */
export function findDockerfiles(root: string, app: string): DetectedDockerfile[] {
  const found: { context: string; dockerfile: string; variant: string }[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // an unreadable folder has nothing init could use
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) {
        if (depth < maxDepth && !e.name.startsWith(".") && !skippedDirs.has(e.name))
          walk(join(dir, e.name), depth + 1);
        continue;
      }
      const variant = e.isFile() ? dockerfileVariant(e.name) : undefined;
      if (variant === undefined) continue;
      const context = relative(root, dir).split(sep).join("/") || ".";
      found.push({ context, dockerfile: e.name, variant });
    }
  };
  walk(root, 0);
  const taken = new Set<string>();
  return found.map((f) => {
    const base = f.context === "." ? app : toName(basename(f.context), app);
    const wanted = f.variant ? `${base}-${toName(f.variant, "variant")}` : base;
    let service = wanted;
    for (let i = 2; taken.has(service); i++) service = `${wanted}-${i}`;
    taken.add(service);
    const image = f.context === "." && !f.variant ? app : `${app}-${service}`;
    return { service, context: f.context, dockerfile: f.dockerfile, image };
  });
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new UserError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/** package.json's start script; a package.json that is not JSON is a user error at its position. */
function startScript(file: string): string | undefined {
  let data: unknown;
  try {
    data = JSON.parse(readText(file));
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  const scripts = (data as { scripts?: unknown } | null)?.scripts;
  const start =
    scripts && typeof scripts === "object" ? (scripts as Record<string, unknown>).start : undefined;
  return typeof start === "string" && start.trim() ? start : undefined;
}

const isFile = (path: string) => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/** The compose file Docker Compose would use in `dir`. */
export const findComposeFile = (dir: string) => composeFiles.find((f) => isFile(join(dir, f)));

/** A compose file's project name, made a valid app name; init's default app name when there is one. */
export function composeAppName(dir: string): string | undefined {
  const file = findComposeFile(dir);
  let text: string;
  try {
    text = file ? readFileSync(join(dir, file), "utf8") : "";
  } catch {
    return undefined; // detectProject reports it
  }
  const name = composeProjectName(text);
  return name ? toName(name, "") || undefined : undefined;
}

/**
 * Everything init builds slipway.yaml from. `display` is how files are named in messages (the directory
 * as the user gave it). A compose file the importer rejects throws its problems at file:line:col.
 */
export async function detectProject(dir: string, app: string, display: string = dir): Promise<Detection> {
  const shown = (name: string) => (display === "." ? name : join(display, name));
  const detection: Detection = { dir, app, dockerfiles: findDockerfiles(dir, app), workflows: [] };
  const composeFile = findComposeFile(dir);
  if (composeFile) {
    // The deploy domain is loaded only when there is something to import (it is most of the CLI's weight).
    const { importCompose } = await import("../deploy/index.js");
    const text = readText(join(dir, composeFile));
    const imported = importCompose(text, shown(composeFile), { app });
    const deployServices = (imported.config as { deploy: { services: Record<string, { image?: unknown }> } })
      .deploy.services;
    const joined = joinComposeBuilds(detection.dockerfiles, text, deployServices);
    detection.dockerfiles = joined.dockerfiles;
    // The importer asks for a build section for each service it builds; init has written those.
    const answered = joined.built.map((name) => `service '${name}': build is not part of deploy`);
    const warnings = imported.warnings.filter((w) => !answered.some((a) => w.includes(a)));
    detection.compose = {
      file: composeFile,
      services: Object.keys(deployServices),
      import: imported,
      warnings,
    };
  }
  if (isFile(join(dir, "package.json"))) detection.start = startScript(join(dir, "package.json"));
  const workflowsDir = join(dir, ".github", "workflows");
  try {
    detection.workflows = readdirSync(workflowsDir)
      .filter((f) => /\.ya?ml$/.test(f) && isFile(join(workflowsDir, f)))
      .sort()
      .map((f) => `.github/workflows/${f}`);
  } catch {
    // no workflows folder
  }
  return detection;
}
