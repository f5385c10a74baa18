// Destructive commands and tokens as a script runs them (no terminal): `secret rm` and `token revoke` refuse
// without --yes and change nothing, and do their work with it; `images prune --dry-run` deletes nothing;
// `--token-file` authenticates against a server (and a file others can read is refused), `--token` warns
// that argv is visible.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { describe, expect } from "vitest";
import { api, cleanupAfterAll, tempDir, test } from "./helpers.js";

cleanupAfterAll();

const needYes = /pass --yes to confirm \(not asking: no terminal\); nothing was changed/;

describe("destructive commands without a terminal", { concurrent: true }, () => {
  test("secret rm refuses without --yes (exit 2, the secret stays) and removes with it", async ({ h }) => {
    const server = await h.startServer();
    const set = await api(server, "POST", "/api/v1/secrets", {
      name: "DEPLOY_KEY",
      value_base64: Buffer.from("k").toString("base64"),
    });
    expect(set.status).toBeLessThan(300);
    const names = async () =>
      (await h.cliOk(server, ["secret", "list", "--json"])).json.map((s: { name: string }) => s.name);

    const refused = await h.cli(server, ["secret", "rm", "DEPLOY_KEY"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^slipway: Remove secret DEPLOY_KEY \(global\): pass --yes/);
    expect(refused.stderr).toMatch(needYes);
    expect(await names()).toEqual(["DEPLOY_KEY"]);

    const json = await h.cli(server, ["secret", "rm", "DEPLOY_KEY", "--json"]);
    expect(json.code, "--json never asks").toBe(2);
    expect(await names()).toEqual(["DEPLOY_KEY"]);

    const removed = await h.cli(server, ["secret", "rm", "DEPLOY_KEY", "--yes"]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(await names()).toEqual([]);
  });

  test("token revoke refuses without --yes: the token keeps working; -y revokes it", async ({ h }) => {
    const server = await h.startServer();
    const viewer = await h.cliOk(server, ["token", "create", "ci-bot", "--role", "viewer", "--json"]);
    const id = String(viewer.json.id);
    const refused = await h.cli(server, ["token", "revoke", id]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(needYes);
    expect((await api(server, "GET", "/api/v1/repos", undefined, viewer.json.token)).status).toBe(200);
    await h.cliOk(server, ["token", "revoke", id, "-y"]);
    expect((await api(server, "GET", "/api/v1/repos", undefined, viewer.json.token)).status).toBe(401);
  });

  test("images prune --dry-run lists a dangling image and deletes nothing; without --yes it refuses", async ({
    h,
  }) => {
    const docker = (args: string[], input?: Buffer) =>
      execFileSync("docker", args, { input, encoding: "utf8" }).trim();
    const tag = `slipway-confirm-e2e-${randomBytes(4).toString("hex")}:latest`;
    const rootfs = tempDir();
    const image = () => {
      writeFileSync(join(rootfs, "marker"), randomBytes(8).toString("hex"));
      const tar = execFileSync("tar", ["-cf", "-", "-C", rootfs, "."]);
      return docker(["import", "--change", "LABEL io.slipway.service=confirm-e2e", "-", tag], tar);
    };
    const dangling = image();
    const current = image(); // takes the tag: the first one is dangling now
    try {
      expect(dangling).not.toBe(current);
      const dry = await h.cli(null, ["images", "prune", "--only-slipway", "--dry-run", "--json"]);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.json.dryRun).toBe(true);
      expect(dry.json.candidates).toContain(dangling);
      expect(docker(["image", "inspect", "--format", "{{.Id}}", dangling])).toBe(dangling);

      const refused = await h.cli(null, ["images", "prune", "--only-slipway"]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(needYes);
      expect(docker(["image", "inspect", "--format", "{{.Id}}", dangling])).toBe(dangling);
    } finally {
      execFileSync("docker", ["rmi", "-f", dangling, current], { stdio: "ignore" });
    }
  });
});

describe("tokens off the command line", { concurrent: true }, () => {
  test("--token-file authenticates; a file others can read is refused; --token warns", async ({ h }) => {
    const server = await h.startServer();
    const dir = join(tempDir(), "private");
    mkdirSync(dir, { mode: 0o700 });
    const file = join(dir, "token");
    writeFileSync(file, `${server.token}\n`, { mode: 0o600 });

    const ok = await h.cli(null, ["secret", "list", "--json", "--server", server.url, "--token-file", file], {
      token: null,
    });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.json).toEqual([]);
    expect(ok.stderr).toBe("");

    const none = await h.cli(null, ["secret", "list", "--json", "--server", server.url], { token: null });
    expect(none.code, "without a token the server refuses").not.toBe(0);

    chmodSync(file, 0o644);
    const open = await h.cli(null, ["secret", "list", "--server", server.url, "--token-file", file], {
      token: null,
    });
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(/--token-file .*: readable by other users \(mode 0644\); chmod 600 it/);

    const argv = await h.cli(
      null,
      ["secret", "list", "--json", "--server", server.url, "--token", server.token],
      { token: null },
    );
    expect(argv.code, argv.stderr).toBe(0);
    expect(argv.stderr).toMatch(
      /^slipway: warning: --token on the command line is visible to other local users/,
    );
    expect(argv.stderr).not.toContain(server.token);
  });
});
