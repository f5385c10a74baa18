// Secret names and scopes. Names follow GitHub's rules made stricter: upper case letters, digits and
// `_`, not starting with a digit, and not starting with `GITHUB_` (GitHub reserves that prefix for its own
// variables, and a secret so named could shadow one in a step's environment).
import { UserError } from "../lib/errors.js";

export const secretNamePattern = /^[A-Z_][A-Z0-9_]*$/;
const maxNameLength = 255;
const maxScopeLength = 255;

/** Where a secret applies. Neither: every repository and environment (global). */
export type SecretScope = { repo?: string | null; env?: string | null };

export function validateSecretName(name: string): string {
  if (!secretNamePattern.test(name))
    throw new UserError(
      `invalid secret name '${name}': use A-Z, 0-9 and _, not starting with a digit (e.g. DEPLOY_TOKEN)`,
    );
  if (name.length > maxNameLength)
    throw new UserError(
      `invalid secret name '${name.slice(0, 40)}…': longer than ${maxNameLength} characters`,
    );
  if (name.startsWith("GITHUB_"))
    throw new UserError(`invalid secret name '${name}': names starting with GITHUB_ are reserved`);
  return name;
}

function scopePart(value: string | null | undefined, what: string): string | null {
  if (value === undefined || value === null) return null;
  if (value.trim() === "" || value.length > maxScopeLength || /[\u0000-\u001f\u007f]/.test(value))
    throw new UserError(`invalid ${what} '${value}': expected a non-empty name without control characters`);
  return value;
}

/** The scope with null for "any"; a UserError for an empty or unprintable repository or environment. */
export function normalizeScope(scope: SecretScope = {}): { repo: string | null; env: string | null } {
  return { repo: scopePart(scope.repo, "repository"), env: scopePart(scope.env, "environment") };
}

/** Broader scopes first: global (0) < repository (1) < environment (2) < repository + environment (3). */
export function scopeRank(scope: { repo: string | null; env: string | null }): number {
  return (scope.env !== null ? 2 : 0) + (scope.repo !== null ? 1 : 0);
}

export function describeScope(scope: { repo: string | null; env: string | null }): string {
  if (scope.repo === null && scope.env === null) return "global";
  return [scope.repo !== null ? `repo ${scope.repo}` : "", scope.env !== null ? `env ${scope.env}` : ""]
    .filter(Boolean)
    .join(", ");
}
