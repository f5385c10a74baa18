// `slipway init` as a user runs it: the built CLI in a repository with a Dockerfile and a compose file,
// stdin not a terminal (so it asks nothing).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers.js";

let dir: string;
const repo = () => join(dir, "shop");
const slipway = (...args: string[]) =>
  runCli(args, { cwd: repo(), dataDir: join(dir, "data"), logDir: dir, timeoutMs: 30_000 });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "slipway-e2e-init-"));
  mkdirSync(join(repo(), "api"), { recursive: true });
  mkdirSync(join(dir, "data"));
  writeFileSync(join(repo(), "api", "Dockerfile"), "FROM scratch\nCOPY . /app\n");
  writeFileSync(
    join(repo(), "compose.yaml"),
    `services:
  api:
    build: ./api
    ports: ["8080:3000"]
  db:
    image: postgres:16
    cap_add: [NET_ADMIN]
`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("slipway init (built CLI)", () => {
  let first = "";

  it("writes a slipway.yaml that `slipway config validate` accepts", async () => {
    const r = await slipway("init");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("wrote slipway.yaml (build, deploy)\n");
    expect(r.stderr).toContain("compose.yaml:7:5: service 'db': cap_add is not supported");
    expect(r.stderr).toContain("found api/Dockerfile: build service 'api'");
    first = readFileSync(join(repo(), "slipway.yaml"), "utf8");
    const v = await slipway("config", "validate");
    expect([v.code, v.stdout, v.stderr]).toEqual([
      0,
      "ok: slipway.yaml (1 build service, 2 deploy services)\n",
      "",
    ]);
  });

  it("run again, exits 2 and leaves the file as it was", async () => {
    const r = await slipway("init", "--yes");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("slipway.yaml exists: slipway init never replaces it");
    expect(readFileSync(join(repo(), "slipway.yaml"), "utf8")).toBe(first);
  });
});
