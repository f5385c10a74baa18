import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OperationError, UserError } from "../../lib/errors.js";
import { findBuiltinAction } from "./index.js";
import {
  deployArgs,
  deployCommandEnv,
  readDeployInputs,
  runDeployAction,
  slipwayDeploy,
  splitList,
} from "./slipway-deploy.js";
import { makeContext, makeTempDir } from "./testing.js";

const strategies = ["recreate", "rolling", "blue-green", "canary"];

// A stand-in for slipway's CLI: logs its arguments and cwd to stderr, then behaves as `slipway deploy
// --json` does for the outcome its --version names (the real CLI runs in test/e2e/deploy/action.test.ts).
const fakeCli = `
const args = process.argv.slice(2);
const version = args[args.indexOf("--version") + 1];
process.stderr.write("args " + JSON.stringify(args) + "\\n");
process.stderr.write("cwd " + process.cwd() + " run " + process.env.SLIPWAY_RUN + "\\n");
const release = (status, extra = {}) =>
  JSON.stringify({ app: "shop", env: "production", number: 7, status, version, phase: status === "succeeded" ? "done" : "rolled back", error: null, ...extra }, null, 2) + "\\n";
if (version === "ok") {
  process.stderr.write("   0.3s release #7 succeeded\\n");
  process.stdout.write(release("succeeded"));
} else if (version === "bad") {
  process.stdout.write(release("failed", { error: "api: r7 did not become ready" }));
  process.exitCode = 1;
} else if (version === "usage") {
  process.stderr.write("slipway: slipway.yaml:3:5: unknown service 'nope'\\n  (services: api)\\n");
  process.exitCode = 2;
} else if (version === "slow") {
  process.stderr.write("waiting\\n");
  process.on("SIGINT", () => {
    process.stdout.write(release("aborted", { error: "aborted by the user" }));
    process.exit(1);
  });
  setInterval(() => {}, 1000);
}
`;

let tmp: { dir: string; cleanup: () => Promise<void> };
let cli: { file: string; args: string[] };

beforeEach(async () => {
  tmp = await makeTempDir("slipway-deploy");
  await writeFile(path.join(tmp.dir, "cli.mjs"), fakeCli);
  cli = { file: process.execPath, args: [path.join(tmp.dir, "cli.mjs")] };
});
afterEach(() => tmp.cleanup());

function run(inputs: Record<string, string>, signal?: AbortSignal) {
  const { ctx, rec } = makeContext({
    inputs,
    workspace: tmp.dir,
    runId: "42",
    ...(signal ? { signal } : {}),
  });
  return { rec, done: runDeployAction(ctx, cli, strategies) };
}

describe("slipway/deploy", () => {
  it("is the built-in of `uses: slipway/deploy@v1`", () => {
    expect(findBuiltinAction("slipway/deploy@v1")).toBe(slipwayDeploy);
  });

  it("refuses to deploy for a fork's pull request, before starting anything", async () => {
    const { ctx, rec } = makeContext({ inputs: { env: "production" }, untrusted: true });
    const err = await slipwayDeploy.main(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/pull request from a fork/);
    expect(rec.logs).toEqual([]);
  });

  it("turns the inputs into `slipway deploy` arguments", () => {
    const { ctx } = makeContext({
      inputs: {
        env: "staging",
        services: "api, worker\nweb\n",
        images: "api=registry/api:1.2\nworker=registry/worker@sha256:abc, web=web:2",
        strategy: "blue-green",
        version: "1.2.0",
        config: "deploy/slipway.yaml",
        wait: "true",
      },
    });
    expect(deployArgs(readDeployInputs(ctx, strategies))).toEqual([
      "deploy",
      "--json",
      "--config",
      "deploy/slipway.yaml",
      "--env",
      "staging",
      ...["--service", "api", "--service", "worker", "--service", "web"],
      ...[
        "--image",
        "api=registry/api:1.2",
        "--image",
        "worker=registry/worker@sha256:abc",
        "--image",
        "web=web:2",
      ],
      ...["--strategy", "blue-green", "--version", "1.2.0", "--wait"],
    ]);
    const defaults = readDeployInputs(makeContext({ inputs: {} }).ctx, strategies);
    expect(deployArgs(defaults)).toEqual([
      "deploy",
      "--json",
      "--config",
      "slipway.yaml",
      "--env",
      "production",
    ]);
  });

  it("splits lists on lines and commas", () => {
    expect(splitList(" a ,b\n\n c,")).toEqual(["a", "b", "c"]);
    expect(splitList("")).toEqual([]);
  });

  it("refuses bad input with the input's name", () => {
    const read = (inputs: Record<string, string>) => () =>
      readDeployInputs(makeContext({ inputs }).ctx, strategies);
    expect(read({ images: "api" })).toThrow(
      new UserError('images: expected SERVICE=REF (one per line), got "api"'),
    );
    expect(read({ images: "=x" })).toThrow(UserError);
    expect(read({ images: "api=" })).toThrow(UserError);
    expect(read({ strategy: "big-bang" })).toThrow(
      new UserError('strategy: unknown strategy "big-bang" (one of recreate, rolling, blue-green, canary)'),
    );
    expect(read({ wait: "yes" })).toThrow(UserError);
  });

  it("runs the CLI in the workspace, streams its log and sets the outputs", async () => {
    const { rec, done } = run({ version: "ok", services: "api" });
    await done;
    expect(rec.outputs).toEqual({
      app: "shop",
      env: "production",
      release: "7",
      status: "succeeded",
      version: "ok",
    });
    expect(rec.logs).toEqual([
      `args ${JSON.stringify(["deploy", "--json", "--config", "slipway.yaml", "--env", "production", "--service", "api", "--version", "ok"])}`,
      `cwd ${tmp.dir} run 42`,
      "   0.3s release #7 succeeded",
      "release #7 (ok) of production succeeded",
    ]);
  });

  it("fails when the release fails, after setting the outputs", async () => {
    const { rec, done } = run({ version: "bad" });
    await expect(done).rejects.toThrow(
      new OperationError("release #7 of production failed (rolled back): api: r7 did not become ready"),
    );
    expect(rec.outputs).toEqual({
      app: "shop",
      env: "production",
      release: "7",
      status: "failed",
      version: "bad",
    });
  });

  it("fails with the CLI's message when no release was made", async () => {
    const { rec, done } = run({ version: "usage" });
    const err = await done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(
      "slipway deploy failed (exit code 2): slipway.yaml:3:5: unknown service 'nope'\n  (services: api)",
    );
    expect(rec.outputs).toEqual({});
  });

  it("a cancelled step interrupts the deploy as Ctrl-C does (the CLI then has it rolled back)", async () => {
    const abort = new AbortController();
    const { rec, done } = run({ version: "slow" }, abort.signal);
    for (let i = 0; i < 100 && !rec.logs.includes("waiting"); i++)
      await new Promise((r) => setTimeout(r, 20));
    abort.abort();
    await expect(done).rejects.toThrow(
      /release #7 of production aborted \(rolled back\): aborted by the user/,
    );
    expect(rec.outputs.status).toBe("aborted");
  });
});

describe("deployCommandEnv", () => {
  it("gives slipway's CLI its settings and the step's env, and nothing else of this process's", () => {
    const own = {
      PATH: "/usr/bin",
      HOME: "/home/ci",
      SLIPWAY_MASTER_KEY: "mk",
      SLIPWAY_DATABASE: "postgres://own",
      DOCKER_HOST: "unix:///run/docker.sock",
      AWS_SECRET_ACCESS_KEY: "aws",
      OTHER: "other",
    };
    const env = deployCommandEnv(
      own,
      { STEP_VAR: "x", SLIPWAY_DATABASE: "postgres://attacker", SLIPWAY_VERSION: "1.2.3" },
      "42",
    );
    expect(env).toEqual({
      PATH: "/usr/bin",
      HOME: "/home/ci",
      STEP_VAR: "x",
      SLIPWAY_MASTER_KEY: "mk",
      SLIPWAY_DATABASE: "postgres://own",
      SLIPWAY_VERSION: "1.2.3",
      DOCKER_HOST: "unix:///run/docker.sock",
      SLIPWAY_RUN: "42",
      CI: "true",
      NO_COLOR: "1",
    });
  });
});
