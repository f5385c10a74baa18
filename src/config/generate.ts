// `npm run schema`: writes what is generated from the sections' schemas, schema/slipway.schema.json and the
// key reference of docs/slipway-yaml.md; tests fail when either is stale.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { withKeyReference } from "./reference.js";
import { configJsonSchemaText } from "./schema.js";

const root = join(import.meta.dirname, "..", "..");
writeFileSync(join(root, "schema", "slipway.schema.json"), configJsonSchemaText());
const doc = join(root, "docs", "slipway-yaml.md");
writeFileSync(doc, withKeyReference(readFileSync(doc, "utf8")));
