// The sections of slipway.yaml, one top-level key each. A domain that needs configuration adds its schema
// as a file in sections/ and one line here; keys that no section claims are errors.
import { z } from "zod";
import { buildSection } from "./sections/build.js";
import { deploySection } from "./sections/deploy.js";
import { notifySection } from "./sections/notify.js";

export type ConfigSections = Record<string, z.ZodType>;

export const configSections = {
  build: buildSection,
  deploy: deploySection,
  notify: notifySection,
} as const satisfies ConfigSections;

/** The validated content of slipway.yaml: every section is optional. */
export type SlipwayConfig = { [K in keyof typeof configSections]?: z.output<(typeof configSections)[K]> };

/** The schema of the whole file for a set of sections (unknown top-level keys are rejected). */
export function configSchema(sections: ConfigSections = configSections) {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, schema] of Object.entries(sections)) shape[key] = schema.optional();
  return z
    .strictObject(shape)
    .describe("slipway.yaml: how slipway builds, deploys and notifies for this repository.");
}

/** A JSON Schema of slipway.yaml for editors (e.g. `# yaml-language-server: $schema=...`). */
export function configJsonSchema(sections: ConfigSections = configSections): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema(sections), { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return { ...schema, title: "slipway.yaml" };
}

/**
 * The JSON Schema as published in schema/slipway.schema.json and printed by `slipway config schema`; a
 * test keeps the file equal to it.
 */
export function configJsonSchemaText(sections: ConfigSections = configSections): string {
  return `${JSON.stringify(configJsonSchema(sections), null, 2)}\n`;
}
