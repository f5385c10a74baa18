// What a deployed process instance, and a deploy hook, can see of slipway: `slipway deploy` runs with the
// master key and cloud credentials in its environment, and its agent too. The instance dumps its own
// /proc/self/environ; the hook dumps `env`. Neither may hold slipway's variables or the deployer's
// credentials; both hold the spec's env, the service's secret and what the operator passed. The record
// file slipway keeps to re-adopt the instance must hold no secret value, mode 0600 in 0700 directories.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { type AppDir, makeAppDir } from "../deploy/helpers.js";

/** Writes its environment where DUMP_FILE says, then answers TCP on PORT (the health check). */
const dumpApp = `import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
writeFileSync(process.env.DUMP_FILE, readFileSync("/proc/self/environ"));
net.createServer((s) => s.end()).listen(Number(process.env.PORT), "127.0.0.1");
`;

const deployerSecrets = {
  AWS_SECRET_ACCESS_KEY: "aws-secret-deploy-2b7e",
  SOME_OTHER_VAR: "not-passed-deploy-6d6d",
  SLIPWAY_RUNNER_TOKEN: "slwr_deployer-token-3a3a",
};
const apiToken = "api-token-secret-c0ffee42";

/** Files under `dir` whose path matches `pattern`. */
function findFiles(dir: string, pattern: RegExp): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...findFiles(p, pattern));
    else if (pattern.test(p)) out.push(p);
  }
  return out;
}

describe("slipway deploy: the environment of a process instance and of a hook", () => {
  let app: AppDir;
  beforeAll(() => {
    app = makeAppDir("childenv");
  });
  afterAll(async () => {
    await app?.cleanup();
  });

  it("holds none of slipway's variables nor the deployer's; the record keeps names only", async () => {
    const masterKey = String(app.env.SLIPWAY_MASTER_KEY);
    expect(masterKey).toMatch(/^[0-9a-f]{64}$/);
    const env = { ...deployerSecrets, SLIPWAY_PASS_ENV: "PASSED_VAR", PASSED_VAR: "passed-deploy-1e1e" };
    writeFileSync(join(app.dir, "app", "dump.mjs"), dumpApp);
    const set = await app.cli(["secret", "set", "API_TOKEN"], { input: apiToken, env });
    expect(set.code, set.stderr).toBe(0);
    const instanceDump = join(app.dir, "instance-env");
    const hookDump = join(app.dir, "hook-env");
    writeFileSync(
      join(app.dir, "slipway.yaml"),
      stringify({
        deploy: {
          app: "childenv",
          services: {
            dump: {
              command: "node dump.mjs",
              cwd: "./app",
              port: 1,
              env: { DUMP_FILE: instanceDump, SPEC_VAR: "from-the-spec" },
              secrets: ["API_TOKEN"],
              health: { tcp: true, interval: "100ms", deadline: "10s" },
              hooks: { pre_deploy: `env > ${hookDump}` },
            },
          },
        },
      }),
    );
    const r = await app.cli(["deploy", "--json"], { env });
    expect(r.code, r.stderr).toBe(0);

    const instance = readFileSync(instanceDump, "utf8").split("\0").filter(Boolean);
    const hook = readFileSync(hookDump, "utf8").trim().split("\n");
    for (const [what, vars] of [
      ["instance", instance],
      ["hook", hook],
    ] as const) {
      const text = vars.join("\n");
      expect(text, what).toContain("SPEC_VAR=from-the-spec");
      expect(text, what).toContain("PASSED_VAR=passed-deploy-1e1e");
      expect(text, what).toMatch(/^PATH=/m);
      expect(text, what).not.toContain(masterKey);
      for (const [name, value] of Object.entries(deployerSecrets)) {
        expect(text, what).not.toContain(value);
        expect(text, what).not.toContain(`${name}=`);
      }
      // slipway's own settings never; what the deploy itself sets for the instance may be there.
      for (const name of [
        "SLIPWAY_MASTER_KEY",
        "SLIPWAY_DATA_DIR",
        "SLIPWAY_DATA_DIR_SERVER",
        "SLIPWAY_PASS_ENV",
      ])
        expect(text, what).not.toContain(`${name}=`);
    }
    expect(instance).toContain(`API_TOKEN=${apiToken}`);

    // The record of the running instance: names, no values; private.
    const records = findFiles(app.dir, /\/process\/childenv\/[^/]+\/dump-[^/]+\.json$/);
    expect(records.length).toBeGreaterThan(0);
    for (const record of records) {
      const text = readFileSync(record, "utf8");
      expect(text).not.toContain(apiToken);
      expect(text).not.toContain(masterKey);
      expect(text).not.toContain("passed-deploy-1e1e");
      expect((JSON.parse(text) as { envNames: string[] }).envNames).toContain("API_TOKEN");
      expect(statSync(record).mode & 0o777).toBe(0o600);
      const envDir = join(record, "..");
      expect(statSync(envDir).mode & 0o777).toBe(0o700);
      expect(statSync(join(envDir, "..")).mode & 0o777).toBe(0o700);
    }
    expect(existsSync(instanceDump)).toBe(true);
  });
});
