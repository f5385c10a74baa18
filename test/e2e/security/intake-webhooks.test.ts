// Findings 9, 11 and the enumeration and sha findings, against a real `slipway serve`: a forged body on
// the per-repository URL is refused and never parsed or stored; a signed delivery replayed under a new
// delivery id starts one run; unknown repositories are answered exactly as bad signatures; commit ids
// that are not hex never reach git or the file system.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect } from "vitest";
import {
  cleanupAfterAll,
  type Harness,
  listRuns,
  makeRepo,
  pushPayload,
  sendWebhook,
  sign,
  test,
  waitForRun,
} from "../server/helpers.js";
import { serverWithPushRepo } from "./intake-helpers.js";

cleanupAfterAll();

const fullName = "acme/app";

function setup(h: Harness) {
  return serverWithPushRepo(h, fullName, { files: { "README.md": "hi\n" } });
}

/** POSTs a GitHub delivery to `path` with the given body and signature. */
async function post(
  server: { url: string },
  path: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; text: string }> {
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-github-event": "push", ...headers },
    body,
  });
  return { status: res.status, text: await res.text() };
}

describe("webhook intake", () => {
  test("a forged body on the per-repository URL is refused, never parsed, and nothing is stored", async ({
    h,
  }) => {
    const { server, repo, secret } = await setup(h);
    const path = `/hooks/github/${fullName}`;
    // Not JSON at all: a parse before the signature check would answer 400.
    const forged = await post(server, path, "{this is not json", {
      "x-github-delivery": "forged-1",
      "x-hub-signature-256": sign("guess", "{this is not json"),
    });
    expect(forged.status).toBe(401);
    expect(JSON.parse(forged.text)).toEqual({ error: "signature verification failed" });
    const unsigned = await post(server, path, "{}", { "x-github-delivery": "forged-2" });
    expect(unsigned.status).toBe(401);
    expect(await listRuns(server)).toEqual([]);
    // The forged delivery's id was not recorded: the genuine delivery with that id starts its run.
    const before = repo.head();
    const after = repo.commit({ "a.txt": "a\n" });
    const body = JSON.stringify(pushPayload(repo, fullName, { before, after }));
    const genuine = await post(server, path, body, {
      "x-github-delivery": "forged-1",
      "x-hub-signature-256": sign(secret, body),
    });
    expect(genuine.status).toBe(202);
    const runs = JSON.parse(genuine.text).runs as number[];
    expect(runs).toHaveLength(1);
    expect((await waitForRun(server, runs[0])).run.conclusion).toBe("success");
  });

  test("a signed delivery replayed under a new delivery id starts one run (both URLs)", async ({ h }) => {
    const { server, repo, secret } = await setup(h);
    const before = repo.head();
    const after = repo.commit({ "b.txt": "b\n" });
    const payload = pushPayload(repo, fullName, { before, after });
    const first = await sendWebhook(server, "push", payload, secret);
    expect(first.status).toBe(202);
    // The attacker captured the signed body and resends it under fresh delivery ids.
    const replay = await sendWebhook(server, "push", payload, secret);
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ duplicate: true, replayOf: first.deliveryId });
    const body = JSON.stringify(payload);
    const viaPerRepo = await post(server, `/hooks/github/${fullName}`, body, {
      "x-github-delivery": "replayed-again",
      "x-hub-signature-256": sign(secret, body),
    });
    expect(viaPerRepo.status).toBe(200);
    expect(JSON.parse(viaPerRepo.text)).toMatchObject({ duplicate: true });
    await waitForRun(server, first.body.runs[0]);
    expect(await listRuns(server)).toHaveLength(1);
  });

  test("an unknown repository is answered exactly as a bad signature", async ({ h }) => {
    const { server, repo } = await setup(h);
    const body = JSON.stringify(pushPayload(repo, fullName, { before: "0".repeat(40), after: repo.head() }));
    const headers = { "x-github-delivery": "enum-1", "x-hub-signature-256": sign("guess", body) };
    const known = await post(server, `/hooks/github/${fullName}`, body, headers);
    const unknown = await post(server, "/hooks/github/acme/does-not-exist", body, headers);
    expect(unknown).toEqual(known);
    expect(known.status).toBe(401);
    const knownUnsigned = await post(server, `/hooks/github/${fullName}`, body, {
      "x-github-delivery": "e2",
    });
    const unknownUnsigned = await post(server, "/hooks/github/nobody/here", body, {
      "x-github-delivery": "e3",
    });
    expect(unknownUnsigned).toEqual(knownUnsigned);
    // Legacy URL: a delivery naming an unregistered repository gets the bad-signature answer too.
    const other = makeRepo({ "x.txt": "x\n" });
    const otherBody = JSON.stringify(
      pushPayload(other, "somebody/else", { before: "0".repeat(40), after: other.head() }),
    );
    const legacyUnknown = await post(server, "/hooks/github", otherBody, {
      "x-github-delivery": "e4",
      "x-hub-signature-256": sign("guess", otherBody),
    });
    const legacyKnown = await post(server, "/hooks/github", body, headers);
    expect(legacyUnknown).toEqual(legacyKnown);
    expect(legacyKnown).toEqual(known);
  });

  test("commit ids that are not hex are refused before git or the file system", async ({ h }) => {
    const { server, repo, secret } = await setup(h);
    const workflows = join(server.dataDir, "workflows");
    const listing = () => (existsSync(workflows) ? readdirSync(workflows).sort() : []);
    const seen = listing();
    for (const after of ["../../../tmp/x", "--output=/tmp/x", "HEAD", "a".repeat(39)]) {
      const payload = pushPayload(repo, fullName, { before: "0".repeat(40), after: repo.head() });
      payload.after = after;
      const res = await sendWebhook(server, "push", payload, secret);
      expect(res.status).toBe(422);
      expect(String(res.body.error)).toContain(JSON.stringify(after));
    }
    expect(listing()).toEqual(seen);
    expect(await listRuns(server)).toEqual([]);
  });
});
