// `slipway config` on real files in a temporary directory, output captured.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { UserError } from "../lib/errors.js";
import { type ConfigIo, runConfigShow, runConfigValidate } from "./config.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "slipway-config-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function capture() {
  const out = { stdout: "", stderr: "" };
  const io: ConfigIo = { stdout: (s) => (out.stdout += s), stderr: (s) => (out.stderr += s) };
  return { out, io };
}

function validate(text: string | undefined, extra: { json?: boolean; config?: string } = {}) {
  if (text !== undefined) writeFileSync(join(dir, "slipway.yaml"), text);
  const { out, io } = capture();
  const code = runConfigValidate({ config: "slipway.yaml", directory: dir, ...extra }, io);
  return { code, ...out };
}

const valid = `deploy:
  services:
    api: { image: team/api, port: 8080 }
    worker: { command: node worker.js }
  environments:
    staging: {}
    production: { env: { REGION: eu } }
build:
  services:
    api: { context: ., image: team/api }
`;

describe("slipway config validate", () => {
  it("prints a summary and exits 0 for a valid file", () => {
    const r = validate(valid);
    expect(r).toEqual({
      code: 0,
      stdout: `ok: ${join(dir, "slipway.yaml")} (1 build service, 2 deploy services, 2 environments)\n`,
      stderr: "",
    });
  });

  it("prints every problem at file:line:col on stderr and exits 2", () => {
    const r = validate("deploy:\n  services:\n    api: { image: team/api, replicas: two }\nbiuld: {}\n");
    const f = join(dir, "slipway.yaml");
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      `${f}:3:39: deploy.services.api.replicas: expected a number, got a string ("two")\n` +
        `${f}:4:1: unknown key 'biuld' (known top-level keys: build, deploy, notify)\n` +
        `slipway: ${f} is invalid (2 problems)\n`,
    );
  });

  it("gives {valid, problems} as JSON on stdout", () => {
    const r = validate("build: [1]\n", { json: true });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({
      valid: false,
      problems: [
        {
          file: join(dir, "slipway.yaml"),
          line: 1,
          col: 8,
          message: "build: expected a mapping, got a list",
        },
      ],
    });
    expect(JSON.parse(validate(valid, { json: true }).stdout)).toEqual({ valid: true, problems: [] });
  });

  it("refuses a missing file, a directory, text that is not YAML and a list", () => {
    const f = join(dir, "slipway.yaml");
    expect(validate(undefined)).toMatchObject({
      code: 2,
      stderr: `${f}: cannot read: no such file\n` + `slipway: ${f} is invalid (1 problem)\n`,
    });
    mkdirSync(join(dir, "sub"));
    expect(validate(undefined, { config: "sub" }).stderr).toContain(
      `${join(dir, "sub")}: cannot read: it is a directory (give the file: DIR/slipway.yaml)\n`,
    );
    const notYaml = validate("deploy: [unclosed\n");
    expect(notYaml.code).toBe(2);
    expect(notYaml.stderr).toMatch(new RegExp(`^${f}:\\d+:\\d+: `));
    expect(validate("- build\n- deploy\n")).toMatchObject({
      code: 2,
      stderr: expect.stringContaining(
        `${f}:1:1: expected a mapping of sections (build, deploy, notify), got a list\n`,
      ),
    });
  });
});

describe("slipway config show", () => {
  it("prints the resolved config as YAML or JSON, an environment's overrides applied", () => {
    writeFileSync(join(dir, "slipway.yaml"), valid);
    const yaml = capture();
    expect(runConfigShow({ config: "slipway.yaml", directory: dir, env: "production" }, yaml.io)).toBe(0);
    const shown = parse(yaml.out.stdout);
    expect(shown.deploy.environment).toBe("production");
    expect(shown.deploy.services.api).toMatchObject({ replicas: 1, env: { REGION: "eu" } });
    expect(shown.deploy.services.worker).toMatchObject({ restart: "always", drain_timeout: "30s" });
    const json = capture();
    runConfigShow({ config: join(dir, "slipway.yaml"), directory: "/nowhere", json: true }, json.io);
    // An absolute -c ignores -C; JSON and YAML say the same.
    expect(JSON.parse(json.out.stdout)).toEqual(parse(yamlOf({ config: "slipway.yaml", directory: dir })));
  });

  it("throws the problems of an invalid file (exit 2 from main)", () => {
    writeFileSync(join(dir, "slipway.yaml"), "deploy: {}\n");
    expect(() => runConfigShow({ config: "slipway.yaml", directory: dir }, capture().io)).toThrow(UserError);
  });
});

function yamlOf(flags: { config: string; directory: string }): string {
  const { out, io } = capture();
  runConfigShow(flags, io);
  return out.stdout;
}
