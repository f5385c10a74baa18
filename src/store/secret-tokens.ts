// Bearer tokens: 32 random bytes, base64url, behind a prefix that says what they are (and lets secret
// scanners find them). Only the SHA-256 of a token is stored; lookups go by that hash, so no clear
// token is ever compared as a string (nothing to leak through timing) and a database dump grants nothing.
import { createHash, randomBytes } from "node:crypto";

export function newToken(prefix: string): string {
  return prefix + randomBytes(32).toString("base64url");
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}
