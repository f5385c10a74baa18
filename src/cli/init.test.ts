// `slipway init` on real folders in a temporary directory; what it writes is loaded by the config loader.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../config/index.js";
import { formatProblem, UserError } from "../lib/errors.js";
import { type InitFlags, runInit } from "./init.js";
import { schemaLine } from "./init-render.js";

let root: string;
let dir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "slipway-init-"));
  dir = join(root, "My Shop");
  mkdirSync(dir);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function files(map: Record<string, string>) {
  for (const [path, text] of Object.entries(map)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

async function init(flags: Partial<InitFlags> = {}, answers?: string[]) {
  const out = { stdout: "", stderr: "", asked: [] as string[] };
  const ask = answers
    ? async (q: string) => {
        out.asked.push(q);
        return answers.shift() ?? "";
      }
    : undefined;
  const code = await runInit(
    { directory: dir, yes: !answers, ...flags },
    { stdout: (s) => (out.stdout += s), stderr: (s) => (out.stderr += s), ask },
  );
  return { code, ...out };
}

async function initError(flags: Partial<InitFlags> = {}): Promise<UserError> {
  try {
    await init(flags);
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return err as UserError;
  }
  throw new Error("init did not fail");
}

const written = () => readFileSync(join(dir, "slipway.yaml"), "utf8");

const compose = `services:
  web:
    build: ./web
    ports: ["8080:3000"]
  cache:
    image: redis:7
    privileged: true
`;

describe("slipway init", () => {
  it("makes build services of Dockerfiles and deploy services of the compose file; the result loads", async () => {
    files({
      Dockerfile: "FROM scratch\n",
      "web/Dockerfile": "FROM scratch\n",
      "services/api/Dockerfile.prod": "FROM scratch\n",
      "node_modules/dep/Dockerfile": "FROM scratch\n",
      ".git/Dockerfile": "FROM scratch\n",
      "docker-compose.yml": compose,
      "package.json": JSON.stringify({ scripts: { start: "node server.js" } }),
      ".github/workflows/ci.yml": "on: push\n",
    });
    const r = await init();
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`wrote ${join(dir, "slipway.yaml")} (build, deploy)\n`);
    expect(r.stderr).toMatch(
      /^warning: .*docker-compose\.yml:7:5: service 'cache': privileged is not supported/m,
    );
    expect(r.stderr).toContain("found services/api/Dockerfile.prod: build service 'api-prod'");
    const text = written();
    expect(text.split("\n")[0]).toBe(schemaLine);
    expect(text).toContain("docs/slipway-yaml.md");
    expect(text).toContain(".github/workflows/ci.yml");
    const { config } = loadConfig(join(dir, "slipway.yaml"));
    expect(config.build?.services).toEqual({
      "my-shop": { context: ".", dockerfile: "Dockerfile", image: "my-shop" },
      "api-prod": { context: "services/api", dockerfile: "Dockerfile.prod", image: "my-shop-api-prod" },
      web: { context: "web", dockerfile: "Dockerfile", image: "my-shop-web" },
    });
    expect(Object.keys(config.deploy?.services ?? {})).toEqual(["web", "cache"]);
    // The compose file's web is built from web/: the same image the build section pushes.
    expect(config.deploy?.services.web.image).toBe("my-shop-web");
    expect(r.stderr + text).not.toContain("build is not part of deploy");
  });

  it("names build services after the compose services they build, so build and deploy use one image", async () => {
    files({
      "web/Dockerfile": "FROM scratch\n",
      "jobs/Containerfile": "FROM scratch\n",
      "compose.yaml": `name: Shop
services:
  front:
    build: { context: ./web/, dockerfile: Dockerfile }
  worker:
    build: { context: jobs, dockerfile: Containerfile }
  remote:
    build: https://example.com/repo.git
`,
    });
    const r = await init();
    expect(r.code).toBe(0);
    const { config } = loadConfig(join(dir, "slipway.yaml"));
    expect(config.deploy?.app).toBe("shop");
    expect(config.build?.services).toEqual({
      front: { context: "web", dockerfile: "Dockerfile", image: "shop-front" },
      worker: { context: "jobs", dockerfile: "Containerfile", image: "shop-worker" },
    });
    expect(config.deploy?.services.front.image).toBe("shop-front");
    expect(config.deploy?.services.worker.image).toBe("shop-worker");
    // Only the build init could not describe is left to the user.
    expect(r.stderr.match(/build is not part of deploy/g)).toHaveLength(1);
    expect(r.stderr).toContain("service 'remote': build is not part of deploy");
  });

  it("runs package.json's start script as a process service when nothing is containerised", async () => {
    files({ "package.json": JSON.stringify({ scripts: { start: "node server.js" } }) });
    const r = await init({ name: "shop" });
    expect(r.code).toBe(0);
    const { config } = loadConfig(join(dir, "slipway.yaml"));
    expect(config.build).toBeUndefined();
    expect(config.deploy?.app).toBe("shop");
    expect(config.deploy?.services.web.command).toBe("npm start");
  });

  it("writes a commented file with no sections, and says what to fill in, when it finds nothing", async () => {
    const r = await init();
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("found no Dockerfile, compose file or package.json start script");
    expect(r.stderr).toContain("next: fill in a build or deploy section");
    expect(written()).toContain("# build:\n#   registry:");
    expect(loadConfig(join(dir, "slipway.yaml")).config).toEqual({});
  });

  it("--json prints what was detected and the path written", async () => {
    files({ "web/Dockerfile": "FROM scratch\n", ".github/workflows/release.yaml": "on: push\n" });
    const r = await init({ json: true, yes: false });
    expect(JSON.parse(r.stdout)).toEqual({
      path: join(dir, "slipway.yaml"),
      sections: ["build"],
      detected: {
        app: "my-shop",
        dockerfiles: [{ service: "web", context: "web", dockerfile: "Dockerfile", image: "my-shop-web" }],
        compose: null,
        start: null,
        workflows: [".github/workflows/release.yaml"],
      },
    });
  });

  it("never replaces slipway.yaml", async () => {
    files({ "slipway.yaml": "# mine\n", Dockerfile: "FROM scratch\n" });
    const err = await initError();
    expect(err.message).toMatch(/slipway\.yaml exists: slipway init never replaces it/);
    expect(written()).toBe("# mine\n");
  });

  it("refuses a missing directory, a file, and a name that is not an app name", async () => {
    expect((await initError({ directory: join(root, "nope") })).message).toMatch(/no such directory/);
    files({ "a.txt": "x" });
    expect((await initError({ directory: join(dir, "a.txt") })).message).toMatch(/not a directory/);
    expect((await initError({ name: "My App" })).message).toMatch(/'My App' is not a valid app name/);
    expect(existsSync(join(dir, "slipway.yaml"))).toBe(false);
  });

  it("refuses a package.json that is not JSON", async () => {
    files({ "package.json": "{ scripts: " });
    expect((await initError()).message).toMatch(/package\.json is not valid JSON/);
    expect(existsSync(join(dir, "slipway.yaml"))).toBe(false);
  });

  it("reports a broken compose file at file:line:col and writes nothing", async () => {
    files({ "compose.yaml": "services:\n  web: [\n" });
    const err = await initError();
    expect(err.problems.map(formatProblem)[0]).toMatch(/compose\.yaml:\d+:\d+: /);
    expect(existsSync(join(dir, "slipway.yaml"))).toBe(false);
  });

  it("on a terminal asks the app name and a confirmation; no writes nothing", async () => {
    const declined = await init({}, ["", "n"]);
    expect(declined.code).toBe(1);
    expect(declined.asked).toEqual(["App name [my-shop]: ", `Write ${join(dir, "slipway.yaml")}? [Y/n] `]);
    expect(existsSync(join(dir, "slipway.yaml"))).toBe(false);
    files({ "package.json": JSON.stringify({ scripts: { start: "node ." } }) });
    const accepted = await init({}, ["shop", ""]);
    expect(accepted.code).toBe(0);
    expect(loadConfig(join(dir, "slipway.yaml")).config.deploy?.app).toBe("shop");
  });
});
