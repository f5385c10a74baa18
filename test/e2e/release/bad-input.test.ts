// `slipway build` on bad input, end to end on copies of the chat monorepo: configuration errors name
// file:line:col (exit 2) before anything runs, a depends_on cycle stops everything before any build, a
// failing Dockerfile instruction is named (exit 1) and its dependents are not built, and an unreachable
// registry is retried and then reported clearly. The cases are independent and run concurrently.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { startRegistry, type TestRegistry } from "../../support/registry.js";
import { type CliResult, runCli } from "../helpers.js";
import { baseDependents, createRepo, docker, type Repo, removeImagesOf, services } from "./support.js";

let registry: TestRegistry;
let root: string;
const hosts: string[] = [];

beforeAll(async () => {
  registry = await startRegistry();
  hosts.push(registry.host);
  root = mkdtempSync(join(tmpdir(), "slipway-e2e-build-bad-"));
});

afterAll(async () => {
  await registry?.stop();
  for (const h of hosts) removeImagesOf(h);
  if (root && !process.env.SLIPWAY_E2E_KEEP) rmSync(root, { recursive: true, force: true });
});

let cases = 0;

/** A fresh copy of the fixture (with `files` changed) released as v1.0.0-<sha7>. */
function released(host: string, files: Record<string, string> = {}): Repo {
  const dir = join(root, `case-${++cases}`);
  mkdirSync(dir);
  const repo = createRepo(join(dir, "chat"), host, files);
  repo.git("tag", "-a", "-m", "Release 1.0.0", `v1.0.0-${repo.sha().slice(0, 7)}`);
  return repo;
}

function slipway(repo: Repo, args: string[]): Promise<CliResult> {
  const dir = join(repo.dir, "..");
  mkdirSync(join(dir, "data"), { recursive: true });
  mkdirSync(join(dir, "logs"), { recursive: true });
  return runCli(args, { cwd: repo.dir, dataDir: join(dir, "data"), logDir: join(dir, "logs") });
}

function explain(r: CliResult): string {
  const tail = (s: string) => s.split("\n").slice(-40).join("\n");
  return `exit ${r.code}\n--- stderr (tail) ---\n${tail(r.stderr)}\n--- stdout (tail) ---\n${tail(r.stdout)}`;
}

/** 1-based line and column of the first occurrence of `needle` in `text`. */
function position(text: string, needle: string): string {
  const at = text.indexOf(needle);
  if (at < 0) throw new Error(`'${needle}' not in the text`);
  const before = text.slice(0, at).split("\n");
  return `${before.length}:${before.at(-1)!.length + 1}`;
}

const imagesOf = (host: string) =>
  docker("images", "--format", "{{.Repository}}:{{.Tag}}")
    .split("\n")
    .filter((r) => r.startsWith(`${host}/`));

describe.concurrent("slipway build on bad input", () => {
  it("reports slipway.yaml problems as file:line:col, exit 2, nothing built", async ({ expect }) => {
    const repo = released(registry.host);
    const yaml = repo
      .read("slipway.yaml")
      .replace("concurrency: 2", 'concurrency: "two"')
      .replace(
        "      args: { MAX_UPLOAD_MB: 25 }",
        "      args: { MAX_UPLOAD_MB: 25 }\n      dockerfil: Dockerfile.prod",
      );
    repo.commit("break the config", { "slipway.yaml": yaml });
    const r = await slipway(repo, ["build", "--all", "--json"]);
    expect(r.code, explain(r)).toBe(2);
    expect(r.stderr).toContain(`slipway.yaml:${position(yaml, '"two"')}: build.concurrency`);
    expect(r.stderr).toMatch(new RegExp(`slipway\\.yaml:${position(yaml, "dockerfil:")}: .*dockerfil`));
    expect(r.stderr).not.toMatch(/^slipway: building/m);
    expect(r.stderr).not.toMatch(/\n\s+at .*\(.*\.js:\d+:\d+\)/); // no stack trace
    expect(r.stdout).toBe("");
  });

  it("reports an unknown depends_on together with the other problems (all at once)", async ({ expect }) => {
    const repo = released(registry.host);
    const yaml = repo
      .read("slipway.yaml")
      .replace("concurrency: 2", 'concurrency: "two"')
      .replace("depends_on: [base]\n    registry:", "depends_on: [bsae]\n    registry:");
    repo.commit("break the config", { "slipway.yaml": yaml });
    const r = await slipway(repo, ["build", "--all", "--json"]);
    expect(r.code, explain(r)).toBe(2);
    expect(r.stderr).toContain(`slipway.yaml:${position(yaml, '"two"')}: build.concurrency`);
    expect(r.stderr).toMatch(
      new RegExp(`slipway\\.yaml:${position(yaml, "bsae")}: .*unknown service 'bsae'`),
    );
  });

  it("rejects a cyclic image dependency before any build", async ({ expect }) => {
    const host = "127.0.0.1:1"; // never contacted: nothing may be built or pushed
    const repo = released(host);
    const yaml = repo
      .read("slipway.yaml")
      .replace("image: team/chat-base", "image: team/chat-base\n      depends_on: [media]");
    repo.commit("base on media", { "slipway.yaml": yaml });
    const r = await slipway(repo, ["build", "--all", "--push", "--json"]);
    expect(r.code, explain(r)).toBe(2);
    expect(r.stderr).toMatch(/slipway\.yaml:\d+:\d+: .*cycle: (base → media → base|media → base → media)/);
    expect(r.stderr).not.toMatch(/^slipway: building/m);
    expect(imagesOf(host)).toEqual([]);
  });

  it("names the failing Dockerfile instruction (exit 1); dependents are not built", async ({ expect }) => {
    const repo = released(registry.host);
    const dockerfile = repo
      .read("images/base/Dockerfile")
      .replace("COPY serve.sh", "RUN cp /etc/chat/defaults.conf /srv/defaults.conf\nCOPY serve.sh");
    repo.commit("base: ship defaults", { "images/base/Dockerfile": dockerfile });
    const r = await slipway(repo, ["build", "--json"]);
    expect(r.code, explain(r)).toBe(1);
    expect(r.stderr).toContain("RUN cp /etc/chat/defaults.conf /srv/defaults.conf");
    expect(r.stderr).toMatch(/base: .*failed at step \d+\/\d+: RUN cp \/etc\/chat\/defaults\.conf/);
    expect(r.json?.services?.base?.status, explain(r)).toBe("failed");
    expect(r.json.services.base.error).toContain("RUN cp /etc/chat/defaults.conf");
    for (const s of baseDependents) expect(r.json.services[s].status, s).toBe("cancelled");
    expect(r.json.services.registry.status).toBe("skipped");
  });

  it("retries an unreachable registry, then fails clearly", async ({ expect }) => {
    const down = await startRegistry();
    hosts.push(down.host);
    const repo = released(down.host);
    await down.stop();
    repo.commit("registry: list instances", {
      "services/registry/www/index.html": `${repo.read("services/registry/www/index.html")}<!-- v2 -->\n`,
    });
    const r = await slipway(repo, ["build", "--push", "--json"]);
    expect(r.code, explain(r)).toBe(1);
    const retries =
      r.stderr.match(/^slipway: registry unreachable while pushing .*; retrying in \d+ ms$/gm) ?? [];
    expect(retries, explain(r)).toHaveLength(4);
    expect(r.stderr).toContain(`${down.host}/team/chat-system:chat-registry_`);
    expect(r.stderr).toMatch(/gave up after 5 attempts/);
    expect(r.json.services.registry).toMatchObject({ status: "failed", pushed: false });
    for (const s of services.filter((x) => x !== "registry"))
      expect(r.json.services[s].status, s).toBe("skipped");
  }, 90_000);
});
