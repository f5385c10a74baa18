// Image names and tags from templates: `{prefix}-{service}_{version}` with each value made valid for where it
// goes (tag: [A-Za-z0-9_.-], at most 128; repository path: lowercase [a-z0-9] separated by . _ -).
import { UserError } from "../lib/errors.js";

export type TemplateValues = {
  service: string;
  version: string;
  sha: string;
  branch: string;
  prefix: string;
};

/** Makes a value usable inside a tag: other characters become `-` (`feature/login` → `feature-login`). */
export function sanitizeTagPart(value: string): string {
  return value.replace(/[^A-Za-z0-9_.-]+/g, "-");
}

/** Makes a value usable inside a repository path component: lowercase, other characters become `-`. */
export function sanitizeRepositoryPart(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9._/-]+/g, "-")
    .replace(/([._-])[._-]+/g, "$1")
    .replace(/^[._-]+|[._-]+$/g, "");
}

function render(template: string, values: Record<string, string>, sanitize: (s: string) => string): string {
  return template.replace(/\{([^{}]*)\}/g, (whole, name: string) =>
    name in values ? sanitize(values[name]) : whole,
  );
}

const tagPattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const componentPattern = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const hostPattern =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d+)?$/;

/** Renders a tag template; the result must be a valid tag (a leading `.` or `-` becomes `_`). */
export function renderTag(template: string, values: TemplateValues): string {
  const sha7 = values.sha.slice(0, 7);
  let tag = render(template, { ...values, sha7 }, sanitizeTagPart);
  if (/^[.-]/.test(tag)) tag = `_${tag.slice(1)}`;
  if (tag.length > 128) tag = tag.slice(0, 128);
  if (!tagPattern.test(tag))
    throw new UserError(`tag template '${template}' gives '${tag}', which is not a valid image tag`);
  return tag;
}

/** Whether the first component of a repository names a registry host (`registry:5000`, `ghcr.io`, `localhost`). */
export function hasRegistryHost(repository: string): boolean {
  const slash = repository.indexOf("/");
  if (slash < 0) return false;
  const first = repository.slice(0, slash);
  return first.includes(".") || first.includes(":") || first === "localhost" || first.startsWith("[");
}

/**
 * Renders an image (repository) template with {service} and {prefix}, prepending `registry` when the image
 * names no host; the result must be a valid repository.
 */
export function renderRepository(
  template: string,
  values: { service: string; prefix: string },
  registry?: string,
): string {
  const rendered = render(template, values, sanitizeRepositoryPart);
  const full =
    registry && !hasRegistryHost(rendered) ? `${registry.replace(/\/+$/, "")}/${rendered}` : rendered;
  const parts = full.split("/");
  const host = hasRegistryHost(full) ? parts.shift() : undefined;
  if (
    (host !== undefined && !hostPattern.test(host)) ||
    parts.length === 0 ||
    !parts.every((p) => componentPattern.test(p))
  )
    throw new UserError(
      `image '${template}' gives '${full}', which is not a valid repository (lowercase letters, digits and . _ - separated by /)`,
    );
  return full;
}

/** The registry host of a repository (`docker.io` when it names none). */
export function registryHostOf(repository: string): string {
  return hasRegistryHost(repository) ? repository.slice(0, repository.indexOf("/")) : "docker.io";
}
