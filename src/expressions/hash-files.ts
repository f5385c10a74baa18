// hashFiles(): the SHA-256 of the SHA-256s of the files matched under the workspace, as GitHub's runner computes it.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join, relative, sep } from "node:path";
import picomatch from "picomatch";

export function hashFiles(workspace: string, patterns: string[]): string {
  type Match = (s: string) => boolean;
  const include: Match[] = [];
  const exclude: Match[] = [];
  for (const raw of patterns.flatMap((p) => p.split("\n"))) {
    const p = raw.trim();
    if (!p) continue;
    const negated = p.startsWith("!");
    let body = negated ? p.slice(1) : p;
    if (body.startsWith(workspace + sep)) body = relative(workspace, body);
    if (body.startsWith("./")) body = body.slice(2);
    const m = picomatch(body, { dot: true });
    // A pattern naming a directory also matches what is below it (implicit descendants).
    const below = picomatch(`${body.replace(/\/+$/, "")}/**`, { dot: true });
    const matcher = (s: string) => m(s) || below(s);
    (negated ? exclude : include).push(matcher);
  }
  const files: string[] = [];
  const walk = (dir: string) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const full = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name === ".git" && dir === workspace) continue;
        walk(full);
      } else if (e.isFile()) {
        const rel = relative(workspace, full).split(sep).join("/");
        if (include.some((m) => m(rel)) && !exclude.some((m) => m(rel))) files.push(full);
      }
    }
  };
  walk(workspace);
  if (files.length === 0) return "";
  const outer = createHash("sha256");
  for (const f of files) outer.update(createHash("sha256").update(readFileSync(f)).digest());
  return outer.digest("hex");
}
