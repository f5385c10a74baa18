// The forge settings as the API reads and changes them: a patch is checked whole before anything is
// stored (a bad field changes nothing), and the view never carries the token, only whether one is set.
import { UserError } from "../lib/errors.js";
import { type MasterKey, SecretValue } from "../secrets/index.js";
import type { ForgeSettings, ForgeSettingsPatch, Repo, Store } from "../store/index.js";
import { parseApiUrl, parseProject, parseProvider, resolveTarget } from "./target.js";
import { maxForgeTokenBytes, sealForgeToken } from "./token.js";

const settable = ["provider", "apiUrl", "project", "public", "prComment"] as const;

export type ForgeView = Omit<ForgeSettings, "repoId" | "updatedAt" | "updatedBy"> & {
  repo: string;
  /** "[REDACTED]" when a token is set: the value never leaves the server. */
  token: string | null;
  /** Where reports go, or why they cannot. */
  target: { provider: string; apiUrl: string; project: string } | null;
  reason: string | null;
  updatedAt: number | null;
  updatedBy: string | null;
};

export function forgeView(repo: Repo, s: ForgeSettings | null): ForgeView {
  const t = resolveTarget(repo.url, s);
  return {
    repo: repo.name,
    provider: s?.provider ?? null,
    apiUrl: s?.apiUrl ?? null,
    project: s?.project ?? null,
    hasToken: s?.hasToken ?? false,
    token: s?.hasToken ? "[REDACTED]" : null,
    public: s?.public ?? false,
    prComment: s?.prComment ?? false,
    target: "reason" in t ? null : t,
    reason: "reason" in t ? t.reason : s?.hasToken ? null : "no forge token: nothing is reported",
    updatedAt: s?.updatedAt ?? null,
    updatedBy: s?.updatedBy ?? null,
  };
}

function flag(name: string, v: unknown): boolean {
  if (typeof v !== "boolean")
    throw new UserError(`'${name}' must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** A settings patch from a request body; null clears provider, apiUrl or project (back to derived). */
export function parseForgePatch(body: Record<string, unknown>): ForgeSettingsPatch {
  const unknown = Object.keys(body).filter((k) => !(settable as readonly string[]).includes(k));
  if (unknown.length > 0 || Object.keys(body).length === 0)
    throw new UserError(
      `${unknown.length ? `cannot change ${unknown.map((k) => JSON.stringify(k.slice(0, 60))).join(", ")}: ` : ""}say what to change: ${settable.join(", ")} (the token has its own route)`,
    );
  const patch: ForgeSettingsPatch = {};
  if (body.provider !== undefined)
    patch.provider = body.provider === null ? null : parseProvider(body.provider);
  if (body.apiUrl !== undefined) patch.apiUrl = body.apiUrl === null ? null : parseApiUrl(body.apiUrl);
  if (body.project !== undefined) patch.project = body.project === null ? null : parseProject(body.project);
  if (body.public !== undefined) patch.public = flag("public", body.public);
  if (body.prComment !== undefined) patch.prComment = flag("prComment", body.prComment);
  return patch;
}

/** The token from a request body, checked: text, not empty, no line breaks, not too long. */
export function parseForgeToken(body: { token?: unknown }): SecretValue {
  const t = body.token;
  if (typeof t !== "string" || t.trim() === "")
    throw new UserError(
      "'token' is required: the forge's access token (it is stored encrypted and never shown)",
    );
  const value = t.replace(/\r?\n$/, "");
  if (/[\r\n\0]/.test(value))
    throw new UserError("the token has a line break or NUL in it: give the token alone");
  if (Buffer.byteLength(value) > maxForgeTokenBytes)
    throw new UserError(`the token is longer than ${maxForgeTokenBytes} bytes: give the token alone`);
  return new SecretValue(value);
}

export async function updateForgeSettings(
  store: Store,
  repo: Repo,
  body: Record<string, unknown>,
  actor: string,
): Promise<ForgeView> {
  const s = await store.forge.update(repo, parseForgePatch(body), actor);
  return forgeView(repo, s);
}

export async function setForgeToken(
  store: Store,
  key: MasterKey,
  repo: Repo,
  body: { token?: unknown },
  actor: string,
): Promise<ForgeView> {
  const s = await store.forge.update(
    repo,
    { token: sealForgeToken(key, repo.name, parseForgeToken(body)) },
    actor,
  );
  return forgeView(repo, s);
}

export async function removeForgeToken(store: Store, repo: Repo, actor: string): Promise<ForgeView> {
  return forgeView(repo, await store.forge.update(repo, { token: null }, actor));
}
