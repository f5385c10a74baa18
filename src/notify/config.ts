// Where notification rules come from: the server's own file (`slipway serve --notify-config`, the shape of
// slipway.yaml's `notify:` section at its top level) and the `notify:` section of a repository's
// slipway.yaml at a run's commit. Both are validated with file:line:col problems. In a repository's file
// only the `notify:` section is validated here: a problem elsewhere in it is not this domain's to report.
import { readFileSync } from "node:fs";
import { isMap, isPair, isScalar, parseDocument } from "yaml";
import { z } from "zod";
import { type NotifyConfig, notifySection, parseConfig } from "../config/index.js";
import { type Problem, UserError } from "../lib/errors.js";

/** The top-level keys of a YAML mapping document; undefined when it is not one (or not YAML). */
function topLevelKeys(text: string): string[] | undefined {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length) return undefined;
  const root = doc.contents;
  if (root === null) return [];
  if (!isMap(root)) return undefined;
  return root.items.flatMap((p) => (isPair(p) && isScalar(p.key) ? [String(p.key.value)] : []));
}

/**
 * The server's notification file: `channels:` and `rules:` at the top level, as under slipway.yaml's
 * `notify:` (a file with a single `notify:` key is read as that section too, so a slipway.yaml can be
 * pointed at). Throws a UserError with file:line:col problems.
 */
export function parseNotifyFile(text: string, file: string): NotifyConfig {
  const keys = topLevelKeys(text);
  if (keys && keys.length === 1 && keys[0] === "notify") {
    const loaded = parseConfig(text, file, { notify: notifySection });
    return loaded.config.notify ?? notifySection.parse({});
  }
  // Each field is validated with its position; the check that rules name existing channels spans
  // both fields, so it runs on the whole section afterwards and is located the same way.
  const loaded = parseConfig(text, file, {
    channels: notifySection.shape.channels,
    rules: notifySection.shape.rules,
  });
  const whole = notifySection.safeParse(loaded.config);
  if (!whole.success) {
    const problems: Problem[] = whole.error.issues.map((issue) => {
      const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
      const where = path.reduce<string>(
        (s, p) => (typeof p === "number" ? `${s}[${p}]` : s ? `${s}.${p}` : p),
        "",
      );
      return { file, ...loaded.locate(path), message: `${where ? `${where}: ` : ""}${issue.message}` };
    });
    throw new UserError(`invalid ${file}`, problems);
  }
  return whole.data;
}

/** Reads and validates the server's notification file (a missing file is a UserError too). */
export function loadNotifyFile(path: string): NotifyConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === "ENOENT" ? "no such file" : e.message;
    throw new UserError(`cannot read the notification configuration ${path}: ${why}`, [
      { file: path, message: `cannot read: ${why}` },
    ]);
  }
  return parseNotifyFile(text, path);
}

/**
 * The `notify:` section of a repository's slipway.yaml, or undefined when it has none. Other sections
 * are not validated (each is read where it is used); a problem in `notify:` is a UserError with
 * file:line:col problems.
 */
export function parseNotifySection(text: string, file: string): NotifyConfig | undefined {
  const keys = topLevelKeys(text);
  // Not a YAML mapping: parseConfig words the problem with its position.
  if (keys === undefined) parseConfig(text, file, { notify: notifySection });
  if (!keys?.includes("notify")) return undefined;
  const sections: Record<string, z.ZodType> = Object.fromEntries(keys.map((k) => [k, z.unknown()]));
  sections.notify = notifySection;
  const loaded = parseConfig(text, file, sections);
  return (loaded.config as { notify?: NotifyConfig }).notify;
}
