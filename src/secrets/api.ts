// The secret operations as the HTTP API (and any other adapter) sees them: request bodies validated,
// responses that carry metadata only. No function here returns a secret's value.
import { z } from "zod";
import { UserError } from "../lib/errors.js";
import type { SecretInfo, SecretStore } from "./secret-store.js";

const scopeFields = {
  repo: z.string().min(1).nullish(),
  env: z.string().min(1).nullish(),
};

/** POST /api/v1/secrets: `value` (UTF-8 text) or `value_base64` (any bytes), not both. */
export const setSecretBody = z
  .strictObject({
    name: z.string(),
    value: z.string().optional(),
    value_base64: z.base64().optional(),
    ...scopeFields,
  })
  .refine((b) => (b.value === undefined) !== (b.value_base64 === undefined), {
    message: "give exactly one of value and value_base64",
  });

export const secretScopeQuery = z.object(scopeFields);

function parse<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const r = schema.safeParse(input);
  if (!r.success)
    throw new UserError(
      `invalid ${what}: ${r.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ")}`,
    );
  return r.data;
}

/** Admin: create or replace a secret. Responds with its metadata. */
export async function setSecretRequest(
  secrets: SecretStore,
  actor: string,
  body: unknown,
): Promise<{ created: boolean; secret: SecretInfo }> {
  const b = parse(setSecretBody, body, "secret");
  const value = b.value_base64 !== undefined ? Buffer.from(b.value_base64, "base64") : (b.value as string);
  const scope = { repo: b.repo ?? null, env: b.env ?? null };
  const { created } = await secrets.set({ name: b.name, value, scope, actor });
  const [secret] = await secrets.list({ ...scope }).then((l) => l.filter((s) => s.name === b.name));
  return { created, secret };
}

/** Developer: the secrets' names, scopes and change times. `query` filters by exact scope. */
export async function listSecretsRequest(
  secrets: SecretStore,
  query: unknown = {},
): Promise<{ secrets: SecretInfo[] }> {
  const q = parse(secretScopeQuery, query, "query");
  return { secrets: await secrets.list({ repo: q.repo ?? undefined, env: q.env ?? undefined }) };
}

/** Admin: delete a secret of exactly this scope; `removed: false` when there was none (a 404). */
export async function removeSecretRequest(
  secrets: SecretStore,
  actor: string,
  name: string,
  query: unknown = {},
): Promise<{ removed: boolean }> {
  const q = parse(secretScopeQuery, query, "query");
  return { removed: await secrets.remove({ name, scope: { repo: q.repo, env: q.env }, actor }) };
}
