// The reference table of every key of slipway.yaml, generated from its JSON Schema so that the docs list
// exactly what validation accepts: docs/slipway-yaml.md holds it between markers, and a test fails when
// the page is stale (`npm run schema` rewrites it with schema/slipway.schema.json).
import { configJsonSchema } from "./schema.js";

type JsonSchema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  default?: unknown;
  description?: string;
};

type Row = { key: string; types: string[]; required: boolean; default?: unknown; description?: string };

export const keysStart = "<!-- generated: keys -->";
export const keysEnd = "<!-- /generated -->";

const forms = (s: JsonSchema) => s.anyOf ?? s.oneOf;

/** A short name of the values a schema accepts: "integer ≥ 1", "`rolling` or `canary`", "list of string". */
function typeName(s: JsonSchema): string {
  if (s.const !== undefined) return `\`${String(s.const)}\``;
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(", ");
  const alternatives = forms(s);
  if (alternatives) return [...new Set(alternatives.map(typeName))].join(" or ");
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  if (types.length === 0) return "any";
  return types
    .map((t) => {
      if (t === "array") return `list of ${s.items ? typeName(s.items) : "any"}`;
      if (t === "object") return "mapping";
      if ((t === "integer" || t === "number") && s.minimum !== undefined) return `${t} ≥ ${s.minimum}`;
      return t;
    })
    .join(" or ");
}

function collect(s: JsonSchema, key: string, required: boolean, rows: Map<string, Row>): void {
  if (key) {
    const row = rows.get(key);
    // A key in several forms of a value (a strategy's `type`) is listed once, with every form's values.
    if (row) row.types.push(typeName(s));
    else
      rows.set(key, {
        key,
        types: [typeName(s)],
        required,
        default: s.default,
        description: s.description,
      });
  }
  children(s, key, rows);
}

/** The keys under a value: its properties, a record's `<name>`, a list's items, each form's keys. */
function children(s: JsonSchema, key: string, rows: Map<string, Row>): void {
  for (const [name, child] of Object.entries(s.properties ?? {}))
    collect(child, key ? `${key}.${name}` : name, s.required?.includes(name) ?? false, rows);
  if (typeof s.additionalProperties === "object")
    collect(s.additionalProperties, `${key}.<name>`, false, rows);
  if (s.items) children(s.items, `${key}[]`, rows);
  for (const form of forms(s) ?? []) children(form, key, rows);
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");

/** The markdown table of every key: key, values, default, meaning. */
export function configKeyReference(schema: Record<string, unknown> = configJsonSchema()): string {
  const rows = new Map<string, Row>();
  collect(schema as JsonSchema, "", true, rows);
  const lines = ["| key | values | default | meaning |", "|---|---|---|---|"];
  for (const r of rows.values()) {
    const types = [...new Set(r.types)].join(" or ") + (r.required ? ", required" : "");
    const def = r.default === undefined ? "" : `\`${JSON.stringify(r.default)}\``;
    lines.push(`| \`${r.key}\` | ${cell(types)} | ${cell(def)} | ${cell(r.description ?? "")} |`);
  }
  return `${lines.join("\n")}\n`;
}

/** `doc` with the text between the key-reference markers replaced by `table`. */
export function withKeyReference(doc: string, table: string = configKeyReference()): string {
  const start = doc.indexOf(keysStart);
  const end = doc.indexOf(keysEnd, start);
  if (start < 0 || end < 0) throw new Error(`no ${keysStart} … ${keysEnd} markers`);
  return `${doc.slice(0, start + keysStart.length)}\n${table}${doc.slice(end)}`;
}
