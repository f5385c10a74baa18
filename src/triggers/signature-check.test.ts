// The streaming signature check: the same verdict as on the whole body, fed in any chunks.
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { invalidPayloadSha, signatureCheck, verifySignature, type WebhookProvider } from "./index.js";

const secret = "topsecret";
const body = Buffer.from(`{"ref":"refs/heads/main","x":"${"é".repeat(50)}"}`);
const hex = (key: string, b: Buffer) => createHmac("sha256", key).update(b).digest("hex");

function feed(provider: WebhookProvider, headers: Record<string, string>, bytes: Buffer, key = secret) {
  const check = signatureCheck(provider, headers, key);
  if (!check) return undefined;
  for (let i = 0; i < bytes.length; i += 7) check.update(bytes.subarray(i, i + 7));
  return check.verify();
}

describe("signatureCheck", () => {
  const cases: [WebhookProvider, Record<string, string>][] = [
    ["github", { "x-hub-signature-256": `sha256=${hex(secret, body)}` }],
    ["gitea", { "x-gitea-signature": hex(secret, body) }],
    ["gitea", { "x-hub-signature-256": `sha256=${hex(secret, body)}` }],
    ["gitlab", { "x-gitlab-token": secret }],
  ];
  it.each(cases)("%s %j: chunks verify as the whole body does", async (provider, headers) => {
    expect(feed(provider, headers, body)).toBe(true);
    expect(await verifySignature(provider, headers, body, secret)).toBe(true);
    if (provider !== "gitlab") {
      const tampered = Buffer.from(body);
      tampered[3] ^= 1;
      expect(feed(provider, headers, tampered)).toBe(false);
    }
    expect(feed(provider, headers, body, "other")).toBe(false);
    expect(feed(provider, headers, body, "")).toBe(false);
  });

  it("is undefined without a signature header: the body need not be read", () => {
    expect(signatureCheck("github", {}, secret)).toBeUndefined();
    expect(signatureCheck("gitea", {}, secret)).toBeUndefined();
    expect(signatureCheck("gitlab", { "x-gitlab-token": "" }, secret)).toBeUndefined();
  });
});

describe("invalidPayloadSha", () => {
  it("accepts full hex ids (SHA-1 and SHA-256) and absent fields", () => {
    expect(invalidPayloadSha("push", { before: "0".repeat(40), after: "a".repeat(64) })).toBeUndefined();
    expect(
      invalidPayloadSha("pull_request", { pull_request: { head: { sha: "b".repeat(40) } } }),
    ).toBeUndefined();
    expect(invalidPayloadSha("issues", { after: "../x" })).toBeUndefined();
  });
  it.each([
    ["push", { after: "../../etc" }, "after"],
    ["push", { before: "abc", after: "a".repeat(40) }, "before"],
    ["push", { after: "A".repeat(40) }, "after"],
    ["push", { after: 42 }, "after"],
    ["pull_request", { pull_request: { head: { sha: "-x" } } }, "pull_request.head.sha"],
    ["pull_request_target", { pull_request: { base: { sha: "HEAD" } } }, "pull_request.base.sha"],
  ])("%s %j → %s", (event, payload, path) => {
    expect(invalidPayloadSha(event, payload as Record<string, unknown>)?.path).toBe(path);
  });
});
