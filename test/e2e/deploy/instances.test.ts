// `slipway logs` and `slipway exec` on deployed process instances, end to end: the built CLI, its agent,
// real processes whose output is rotated by size (deploy.logs) while `logs -f` follows it; exec beside an
// instance with its environment, stdin and exit code; unknown names refused with the known ones listed.
import { execFileSync } from "node:child_process";
import { chmodSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../support/ports.js";
import { waitFor } from "../../support/wait.js";
import { binPath } from "../helpers.js";
import { type AppDir, get, makeAppDir } from "./helpers.js";

describe("slipway logs and exec (process runtime)", () => {
  let app: AppDir;
  let url: string;

  beforeAll(async () => {
    app = makeAppDir("instances");
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    app.writeSpec({
      app: "shop",
      logs: { max_size: "4k", keep: 50 },
      services: {
        api: {
          command: "node server.mjs",
          cwd: "./app",
          replicas: 2,
          publish: port,
          env: { APP_VERSION: "v1" },
          health: { http: "/healthz", interval: "100ms", deadline: "10s" },
        },
      },
    });
    const r = await app.cli(["deploy"]);
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await app?.cleanup();
  });

  it("prints every running instance's output, each line with its instance", async () => {
    const r = await app.cli(["logs", "api"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    const listening = lines.filter((l) => / \| v1 listening on \d+$/.test(l));
    expect(new Set(listening.map((l) => l.split(" | ")[0])).size).toBe(2);
  });

  it("follows an instance's output across rotations: every line once, in order", async () => {
    const status = JSON.parse((await app.cli(["status", "--json"])).stdout);
    const ids: string[] = status.services[0].instances.map((i: { id: string }) => i.id);
    const child = app.spawnCli(["logs", "api", "-f", "--tail", "0", "--json"]);
    let out = "";
    child.stdout!.on("data", (b) => {
      out += b;
    });
    try {
      // The follower is connected once a line written now reaches it.
      await waitFor(
        "the follower to start",
        async () => {
          await get(`${url}/log?n=1&tag=ping`);
          return out.includes('"ping 1"');
        },
        30_000,
        300,
      );
      // ~40 KB through a 4 KiB rotation: about ten rotations while following.
      for (let i = 0; i < 4; i++) expect((await get(`${url}/log?n=500&tag=burst${i}`)).status).toBe(200);
      await waitFor("the last line", () => (out.match(/"burst\d 500"/g) ?? []).length === 4, 30_000);
    } finally {
      child.kill("SIGINT");
    }
    const records = out
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as { instance: string; service: string; stream: string; at: number; line: string },
      );
    for (const r of records) {
      expect(ids).toContain(r.instance);
      expect(r).toMatchObject({ service: "api", stream: "output" });
      expect(typeof r.at).toBe("number");
    }
    for (let i = 0; i < 4; i++)
      expect(records.filter((r) => r.line.startsWith(`burst${i} `)).map((r) => r.line)).toEqual(
        Array.from({ length: 500 }, (_, n) => `burst${i} ${n + 1}`),
      );
    // The files were rotated while it followed, and no more are kept than configured.
    const dir = join(app.dataDir, "deploy", "shop", "production", "process", "shop", "production");
    expect(readdirSync(dir).filter((n) => /\.log\.\d+$/.test(n)).length).toBeGreaterThan(2);
  }, 120_000);

  it("reads --tail and --since", async () => {
    const tail = await app.cli(["logs", "api", "--tail", "1", "--json"]);
    expect(tail.code, tail.stderr).toBe(0);
    expect(tail.stdout.trim().split("\n")).toHaveLength(2); // one line per instance
    const future = await app.cli(["logs", "api", "--since", "2099-01-01T00:00:00Z"]);
    expect(future).toMatchObject({ code: 0, stdout: "" });
    const bad = await app.cli(["logs", "api", "--since", "yesterday-ish"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--since");
  });

  it("runs a command beside an instance with its environment, stdin and exit code", async () => {
    const r = await app.cli(
      [
        "exec",
        "api",
        "--",
        "sh",
        "-c",
        'read line; echo "got $line $APP_VERSION $SLIPWAY_INSTANCE"; pwd; exit 7',
      ],
      { input: "hello\n" },
    );
    expect(r.code, r.stderr).toBe(7);
    const [got, cwd] = r.stdout.trim().split("\n");
    expect(got).toMatch(/^got hello v1 api-r1-[0-9a-f]+$/);
    // The instance's directory: the snapshot it runs from, not the checkout.
    expect(cwd).toContain(join(app.dataDir, "deploy", "shop", "production", "releases", "api"));
    const one = await app.cli(["exec", "api", "--instance", got.split(" ").at(-1)!, "--", "true"]);
    expect(one.code, one.stderr).toBe(0);
  });

  it("on a terminal, still runs a process instance's command, with pipes (no terminal to give)", () => {
    // script(1) runs the CLI on a pseudo-terminal; the command gets pipes and says so, its exit code kept.
    const out = execFileSync(
      "script",
      ["-qec", `${process.execPath} ${binPath} exec api -- sh -c 'tty; exit 5'; echo "exit=$?"`, "/dev/null"],
      { cwd: app.dir, env: app.env, encoding: "utf8", timeout: 60_000 },
    );
    expect(out).toContain("not a tty");
    expect(out).toContain("exit=5");
  });

  it("refuses an unknown service, instance or environment with exit 2, listing the known ones", async () => {
    const service = await app.cli(["logs", "nope"]);
    expect(service.code).toBe(2);
    expect(service.stderr).toContain("has no service 'nope' (services: api)");
    const instance = await app.cli(["exec", "api", "--instance", "api-r9-9", "--", "true"]);
    expect(instance.code).toBe(2);
    expect(instance.stderr).toMatch(
      /has no instance 'api-r9-9' \(instances: api-r1-[0-9a-f]+, api-r1-[0-9a-f]+\)/,
    );
    const env = await app.cli(["logs", "api", "--env", "staging"]);
    expect(env.code).toBe(2);
    expect(env.stderr).toContain("has no environment 'staging'");
    expect(env.stderr).toContain("environments: production");
  });

  it("refuses to exec through an agent socket in a directory other users can write to", async () => {
    const state = join(app.dataDir, "deploy", "shop", "production");
    chmodSync(state, 0o777);
    try {
      const r = await app.cli(["exec", "api", "--", "sh", "-c", "echo ran"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("refusing");
      expect(r.stdout).not.toContain("ran");
    } finally {
      chmodSync(state, 0o700);
    }
  });
});
