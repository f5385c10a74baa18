// Finding 13 against a real `slipway serve`: a delivery recorded but without its runs (the server died
// between the two) is finished by the next start, once; a redelivery after that is a duplicate. The
// crash is simulated by stopping the server and leaving the database as the dying server would have:
// the delivery row `pending` with its event, and no run.
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect } from "vitest";
import {
  cleanupAfterAll,
  listRuns,
  pushPayload,
  sendWebhook,
  tempDir,
  test,
  waitFor,
  waitForRun,
} from "../server/helpers.js";
import { serverWithPushRepo } from "./intake-helpers.js";

cleanupAfterAll();

const fullName = "acme/app";

describe("a delivery received before a crash", () => {
  test("is finished by the next start, once; its redelivery is then a duplicate", async ({ h }) => {
    const dataDir = join(tempDir("slipway-intake-pending-"), "data");
    const { server: first, repo, secret } = await serverWithPushRepo(h, fullName, { dataDir });
    first.kill("SIGKILL");
    await first.exited;

    const before = repo.head();
    const after = repo.commit({ "a.txt": "a\n" });
    const payload = pushPayload(repo, fullName, { before, after });
    const deliveryId = "received-before-the-crash";
    const db = new Database(join(dataDir, "slipway.db"));
    const repoId = (db.prepare("SELECT id FROM repos WHERE name = ?").get(fullName) as { id: number }).id;
    db.prepare(
      `INSERT INTO deliveries (provider, delivery_id, event, repo_id, run_ids_json, received_at, status, body_sha256, event_json)
       VALUES ('github', ?, 'push', ?, '[]', ?, 'pending', ?, ?)`,
    ).run(deliveryId, repoId, Date.now(), "f".repeat(64), JSON.stringify({ name: "push", payload }));
    db.close();

    const server = await h.startServer({ dataDir });
    const runs = await waitFor("the pending delivery's run", async () => {
      const list = await listRuns(server);
      return list.length > 0 ? list : undefined;
    });
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ deliveryId, sha: after });
    expect((await waitForRun(server, runs[0].id)).run.conclusion).toBe("success");
    expect(server.stderr()).toMatch(/received before a restart: started runs/);

    // The sender's redelivery (same id) starts nothing more.
    const again = await sendWebhook(server, "push", payload, secret, { deliveryId });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ duplicate: true, runs: [runs[0].id] });
    expect(await listRuns(server)).toHaveLength(1);
  });
});
