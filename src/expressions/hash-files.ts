// hashFiles(): what GitHub's runner computes with @actions/glob. The patterns are one multi-line glob (the
// runner joins the arguments with newlines), relative to the workspace; a first argument
// `--follow-symbolic-links` makes the walk descend into symlinked directories (off by default, as in the
// runner). Matches outside the workspace and directories are skipped; each remaining file, in walk order
// (depth-first, names in byte order), contributes its SHA-256 to an outer SHA-256. No file gives "".
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { globPathsSync } from "../lib/glob.js";

const followOption = "--follow-symbolic-links";

export function hashFiles(workspace: string, args: string[]): string {
  let patterns = args;
  let followSymbolicLinks = false;
  if (patterns[0]?.startsWith("--")) {
    if (patterns[0].toLowerCase() !== followOption) {
      throw new Error(`Invalid glob option ${patterns[0]}, available option: '${followOption}'`);
    }
    followSymbolicLinks = true;
    patterns = patterns.slice(1);
  }
  const root = path.resolve(workspace);
  const { matches } = globPathsSync(patterns.join("\n"), {
    workdir: root,
    home: homedir(),
    implicitDescendants: true,
    matchDirectories: true,
    excludeHiddenFiles: false,
    followSymbolicLinks,
  });
  const outer = createHash("sha256");
  let count = 0;
  for (const file of matches) {
    if (!file.startsWith(root + path.sep)) continue;
    // statSync follows links: a symlink to a directory is skipped like a directory, a symlink to a file is
    // hashed by its target's content, and a broken one fails the call as it does on GitHub.
    if (statSync(file).isDirectory()) continue;
    outer.update(createHash("sha256").update(readFileSync(file)).digest());
    count++;
  }
  return count === 0 ? "" : outer.digest("hex");
}
