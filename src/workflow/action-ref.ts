// Remote action references (`owner/repo[/path]@ref`) become paths in the action cache
// (`<actionsDir>/<owner>/<repo>@<ref>[/<path>]`), so every part is checked before it reaches one:
// owner and repository as forges allow them (GitHub: letters, digits, '-'; Gitea also '.' and '_'),
// the ref as `git check-ref-format` allows it, the path as plain segments — never `.`/`..`, a leading
// '-', a backslash or a control character.
import { UserError } from "../lib/errors.js";

export type ActionRefParts = { owner: string; repo: string; path: string; ref: string };

const ownerPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const repoPattern = /^[A-Za-z0-9._-]{1,100}$/;
const forbiddenInRef = /[\u0000-\u0020\u007f~^:?*[\\]/;
const forbiddenInPath = /[\u0000-\u001f\u007f\\]/;

function refProblem(ref: string): string | undefined {
  if (ref === "" || ref.length > 255) return "it is empty or longer than 255 characters";
  if (forbiddenInRef.test(ref)) return "it holds a space, a control character or one of ~ ^ : ? * [ \\";
  if (ref.includes("..") || ref.includes("@{") || ref === "@") return "it holds '..' or '@{'";
  if (ref.startsWith("-") || ref.startsWith("/") || ref.endsWith("/") || ref.endsWith("."))
    return "it starts with '-' or '/', or ends with '/' or '.'";
  if (ref.split("/").some((c) => c === "" || c.startsWith(".") || c.endsWith(".lock")))
    return "a part of it is empty, starts with '.' or ends with '.lock'";
  return undefined;
}

/** The parts when each is safe to use in a path; otherwise a UserError naming the part and showing it escaped. */
export function validateActionRef<T extends ActionRefParts>(parts: T): T {
  const fail = (what: string, value: string, why: string): never => {
    throw new UserError(`invalid action reference: ${what} ${JSON.stringify(value)} ${why}`);
  };
  if (!ownerPattern.test(parts.owner))
    fail("owner", parts.owner, "must be letters, digits, '.', '_' or '-', starting with a letter or digit");
  if (
    !repoPattern.test(parts.repo) ||
    parts.repo === "." ||
    parts.repo === ".." ||
    parts.repo.startsWith("-")
  )
    fail(
      "repository",
      parts.repo,
      "must be letters, digits, '.', '_' or '-', not '.' or '..', not starting with '-'",
    );
  const why = refProblem(parts.ref);
  if (why !== undefined) fail("ref", parts.ref, why);
  if (parts.path !== "") {
    const segments = parts.path.split("/");
    if (
      forbiddenInPath.test(parts.path) ||
      segments.some((s) => s === "" || s === "." || s === ".." || s.startsWith("-"))
    )
      fail(
        "path",
        parts.path,
        "must be plain directory names (no '.', '..', empty parts, '\\' or control characters)",
      );
  }
  return parts;
}
