// Importing a docker-compose.yml: its services become a `deploy:` section of slipway.yaml (printed by
// `slipway deploy import-compose`). What has an equivalent is translated; everything else is named in a
// warning with its file:line:col, so nothing is dropped silently. The result always validates with the
// deploy section's schema. Pure: the caller reads the file and prints the result.
import { appNamePattern, deploySection } from "../../config/index.js";
import { formatProblem, UserError } from "../../lib/errors.js";
import { LineCounter, parseDocument } from "yaml";
import { isRecord, Locator } from "./context.js";
import { Importer } from "./importer.js";
import { render } from "./render.js";

export { splitCommand } from "./values.js";

export type ComposeImport = {
  /** slipway.yaml text with a `deploy:` section (warnings repeated as comments at the top). */
  yaml: string;
  /** The same document as data: `{ deploy: { ... } }`. */
  config: unknown;
  /** `file:line:col: message` for everything not imported as it was. */
  warnings: string[];
};

/**
 * Turns a docker-compose.yml into slipway.yaml's `deploy:` section. `file` names the compose file in
 * problems and warnings. Invalid YAML or a file without services is a UserError with file:line:col.
 */
export function importCompose(text: string, file: string, options: { app?: string } = {}): ComposeImport {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, merge: true, uniqueKeys: true });
  if (doc.errors.length)
    throw new UserError(
      `${file} is not valid YAML`,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
        return { file, line: pos.line, col: pos.col, message: e.message.split("\n")[0] };
      }),
    );
  const loc = new Locator(doc, lines, file);
  const data = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  if (!isRecord(data))
    throw new UserError(`${file} is not a compose file`, [
      loc.problem([], "expected a mapping with services"),
    ]);
  const named = typeof data.name === "string" && appNamePattern.test(data.name) ? data.name : undefined;
  const app = options.app ?? named;
  const importer = new Importer(loc, data);
  const deploy = importer.run(app);
  const config = { deploy };
  const warnings = importer.warnings
    .sort(
      (a, b) =>
        (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER) ||
        (a.col ?? 0) - (b.col ?? 0),
    )
    .map(formatProblem);
  // The import's promise: what it prints is a valid deploy section. Values slipway cannot take (negative
  // replicas, an unreadable memory limit…) fail here, at the service they came from.
  const checked = deploySection.safeParse(deploy);
  if (!checked.success)
    throw new UserError(
      `cannot import ${file}`,
      checked.error.issues.map((issue) => {
        const [top, service, ...rest] = issue.path.map(String);
        if (top !== "services") return { file, message: `${issue.path.join(".")}: ${issue.message}` };
        const from = importer.composeName(service) ?? service;
        const where = rest.length ? `${rest.join(".")}: ` : "";
        return loc.problem(["services", from], `service '${from}': ${where}${issue.message}`, true);
      }),
    );
  return { yaml: render(config, file, warnings), config, warnings };
}
