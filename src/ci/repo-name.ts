// Repository names: `name` or `owner/name`, as they appear in URLs (`/hooks/github/<owner>/<name>`),
// secret scopes and file names derived from them. Each segment is what GitHub allows in a name
// (letters, digits, `.`, `_`, `-`), and never `.`/`..` or a leading `-` (taken for a path step or an
// option by the tools a name reaches).
import { UserError } from "../lib/errors.js";

const segmentPattern = /^[A-Za-z0-9._-]{1,100}$/;

/** The name when it is valid; otherwise a UserError that shows the value escaped (control characters visible). */
export function validateRepoName(name: string): string {
  const segments = name.split("/");
  const bad =
    segments.length > 2 ||
    segments.some((s) => !segmentPattern.test(s) || s === "." || s === ".." || s.startsWith("-"));
  if (bad)
    throw new UserError(
      `invalid repository name ${JSON.stringify(name)}: use name or owner/name, each part letters, digits, '.', '_' and '-', not '.' or '..' and not starting with '-'`,
    );
  return name;
}
