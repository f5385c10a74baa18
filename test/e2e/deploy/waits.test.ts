// A deploy that waits for a slow instance says so on stderr while it waits (what, how long so far, the
// limit and the last answer), instead of nothing until it is ready; and the new flag spellings drive it.
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort } from "../../support/ports.js";
import { type AppDir, makeAppDir } from "./helpers.js";

let app: AppDir;
let port: number;

beforeAll(async () => {
  app = makeAppDir("waits");
  port = await freePort();
});
afterAll(async () => {
  await app?.cleanup();
});

it("a health wait longer than a few seconds is reported as it goes, on stderr", async () => {
  app.writeSpec({
    app: "waits",
    services: {
      api: {
        command: "node server.mjs",
        cwd: "./app",
        replicas: 1,
        publish: port,
        // The health endpoint answers 503 for the first 7 s: longer than one report period (5 s).
        env: { APP_VERSION: "v1", READY_AFTER_MS: "7000" },
        health: { http: "/healthz", interval: "200ms", deadline: "60s" },
      },
    },
  });
  const r = await app.cli(["deploy", "-E", "staging", "--service", "api"]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toMatch(
    /api: api-\S+: waiting for health, \d+ s of 60 s \(GET http:\/\/\S+\/healthz: [^\n]+\)/,
  );
  expect(r.stderr).not.toMatch(/deprecated/);
  const down = await app.cli(["down", "-E", "staging", "--yes"]);
  expect(down.code, down.stderr).toBe(0);
});
