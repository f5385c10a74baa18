// Names that become paths or command arguments: repository names (`.`, `..`, `-x`, control
// characters), repository URLs starting with '-', and action references with `..` in `slipway actions
// add|rm`. Each is refused with a clear error that shows the value escaped, and nothing on disk changes.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { api, cleanupAfterAll, makeRepo, tempDir, test } from "../server/helpers.js";

cleanupAfterAll();

const listing = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

describe("names that become paths or commands", () => {
  test("repository names: '.', '..', '-x', control characters and extra separators are 400s; nothing is created", async ({
    h,
  }) => {
    const server = await h.startServer();
    const repo = makeRepo({ "README.md": "hi\n" });
    const mirrors = join(server.dataDir, "mirrors");
    const before = listing(mirrors);
    for (const name of [
      ".",
      "..",
      "acme/..",
      "../acme",
      "./x",
      "-x",
      "acme/-rf",
      "a/b/c",
      "tab\there",
      "nul\u0000x",
      "esc\u001b[31m",
    ]) {
      const r = await api<{ error: string }>(server, "POST", "/api/v1/repos", { url: repo.dir, name });
      expect(r.status, JSON.stringify(name)).toBe(400);
      expect(r.body.error).toContain(`invalid repository name ${JSON.stringify(name)}`);
    }
    expect(listing(mirrors)).toEqual(before);
    expect((await api<{ repos: unknown[] }>(server, "GET", "/api/v1/repos")).body.repos).toEqual([]);
    // A good name still works.
    expect((await api(server, "POST", "/api/v1/repos", { url: repo.dir, name: "acme/app" })).status).toBe(
      201,
    );
  });

  test("a repository URL starting with '-' never reaches git as an option", async ({ h }) => {
    const server = await h.startServer();
    const marker = join(tempDir("slipway-intake-marker-"), "pwned");
    for (const url of [`--upload-pack=touch ${marker}`, "-u", "--template=/tmp"]) {
      const r = await api<{ error: string }>(server, "POST", "/api/v1/repos", { url, name: "acme/x" });
      expect(r.status).toBe(400);
      expect(r.body.error).toContain(`invalid repository URL ${JSON.stringify(url)}`);
    }
    expect(existsSync(marker)).toBe(false);
    expect(listing(join(server.dataDir, "mirrors"))).toEqual([]);
  });

  test("`actions rm` and `actions add` refuse '..' in owner, repository and ref; nothing outside the cache changes", async ({
    h,
  }) => {
    const dataDir = tempDir("slipway-intake-actions-");
    const env = { SLIPWAY_DATA_DIR: dataDir };
    // A directory beside the action cache that a `..` would reach, and one inside it.
    const victim = join(dataDir, "victim@v1");
    mkdirSync(victim, { recursive: true });
    writeFileSync(join(victim, "keep.txt"), "keep\n");
    const source = tempDir("slipway-intake-action-src-");
    writeFileSync(join(source, "action.yml"), "name: x\nruns:\n  using: node20\n  main: index.js\n");
    await h.cliOk(null, ["actions", "add", "acme/good@v1", "--from", source], { env });
    const cache = join(dataDir, "actions");
    const cached = listing(cache);

    for (const spec of [
      "../victim@v1",
      "acme/..@v1",
      "acme/x@../../../victim@v1",
      "-rf/x@v1",
      "acme/x@v1\nrm",
    ]) {
      const rm = await h.cli(null, ["actions", "rm", spec], { env });
      expect(rm.code, `actions rm ${JSON.stringify(spec)}: ${rm.stderr}`).toBe(2);
      const add = await h.cli(null, ["actions", "add", spec, "--from", source], { env });
      expect(add.code, `actions add ${JSON.stringify(spec)}: ${add.stderr}`).toBe(2);
    }
    const rm = await h.cli(null, ["actions", "rm", "../victim@v1"], { env });
    expect(rm.stderr).toMatch(/invalid action reference: owner "\.\."/);
    expect(existsSync(join(victim, "keep.txt"))).toBe(true);
    expect(listing(dataDir).sort()).toEqual(["actions", "victim@v1"]);
    expect(listing(cache)).toEqual(cached);
    // `--from` is not taken for an option either.
    const dash = await h.cli(null, ["actions", "add", "acme/other@v1", "--from=--upload-pack=x"], { env });
    expect(dash.code).toBe(2);
    // The good one is still there and removable.
    // Not on a terminal: removing asks for --yes and removes nothing without it.
    const unasked = await h.cli(null, ["actions", "rm", "acme/good@v1"], { env });
    expect(unasked.code).toBe(2);
    expect(unasked.stderr).toMatch(/pass --yes to confirm/);
    expect(listing(cache)).toEqual(cached);
    await h.cliOk(null, ["actions", "rm", "acme/good@v1", "--yes"], { env });
  });
});
