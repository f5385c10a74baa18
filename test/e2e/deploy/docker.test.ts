// slipway deploy with the docker runtime, end to end: the real CLI and its agent, containers of the local
// busybox image on a real dockerd behind slipway's router, under load. The first deploy, rolling and
// blue-green releases, the failure paths (an unhealthy version, a missing image, a failing pre-deploy
// hook), a named volume across releases, depends_on, secrets, and re-adoption after the agent dies.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../support/ports.js";
import { type AppDir, get, makeAppDir, startLoad } from "./helpers.js";

const image = "slipway/busybox:latest";
// The docker label every container, network and volume of the app carries (the safety net's filter).
const appLabel = "dev.slipway.app";

/**
 * The api: busybox httpd serving its version and instance at /, /healthz unless FAIL_HEALTH=1, and what
 * it found at boot: the volume's boot log, its secrets (env and file), and the db's answer by its name.
 */
const apiScript = [
  "mkdir -p /www",
  'echo "$APP_VERSION $SLIPWAY_INSTANCE" > /www/index.html',
  '[ "$FAIL_HEALTH" = 1 ] || echo ok > /www/healthz',
  'echo "$APP_VERSION" >> /data/boots.log',
  "cp /data/boots.log /www/boots",
  'printf %s "$DB_PASSWORD" > /www/secret',
  "cp /run/secrets/api-token /www/token",
  "wget -q -O /www/db http://db:5432/ || echo unreachable > /www/db",
  "exec httpd -f -p 8080 -h /www",
].join("\n");

/** The db takes a second to listen, so that starting the api before it is healthy would show. */
const dbScript = "mkdir -p /srv && echo db-ok > /srv/index.html && sleep 1 && exec httpd -f -p 5432 -h /srv";

type Svc = Record<string, unknown>;

function spec(app: string, port: number, api: Svc = {}) {
  return {
    app,
    services: {
      db: {
        image,
        command: ["sh", "-c", dbScript],
        port: 5432,
        health: { http: "/", interval: "100ms", deadline: "10s" },
        stop_timeout: "1s",
      },
      api: {
        image,
        command: ["sh", "-c", apiScript],
        port: 8080,
        publish: port,
        replicas: 2,
        env: { APP_VERSION: "v1" },
        secrets: ["DB_PASSWORD", { name: "API_TOKEN", file: "api-token" }],
        volumes: ["data:/data"],
        depends_on: ["db"],
        health: { http: "/healthz", interval: "100ms", deadline: "10s" },
        drain_timeout: "1s",
        stop_timeout: "1s",
        ...api,
      },
    },
  };
}

function json(stdout: string) {
  return JSON.parse(stdout) as Record<string, any>;
}

function docker(args: string[]): string {
  return execFileSync("docker", args, { encoding: "utf8" }).trim();
}

/** The app's containers as docker sees them: container id → name (running or not). */
function containers(app: string): Record<string, string> {
  const out = docker([
    "ps",
    "-a",
    "--no-trunc",
    "--filter",
    `label=${appLabel}=${app}`,
    "--format",
    "{{.ID}} {{.Names}}",
  ]);
  return Object.fromEntries(out ? out.split("\n").map((l) => l.split(" ") as [string, string]) : []);
}

/** Removes whatever of the app is left in the engine: containers, then its network and volumes. */
function removeLeftovers(app: string) {
  const filter = `label=${appLabel}=${app}`;
  const ids = (cmd: string[]) =>
    docker([...cmd, "--filter", filter])
      .split("\n")
      .filter(Boolean);
  const c = ids(["ps", "-aq"]);
  if (c.length) docker(["rm", "-f", ...c]);
  const n = ids(["network", "ls", "-q"]);
  if (n.length) docker(["network", "rm", ...n]);
  const v = ids(["volume", "ls", "-q"]);
  if (v.length) docker(["volume", "rm", "-f", ...v]);
}

describe("slipway deploy (docker runtime)", () => {
  let app: AppDir;
  let name: string;
  let port: number;
  let url: string;

  const status = async () => json((await app.cli(["status", "--json"])).stdout);
  const service = async (svc: string) =>
    (await status()).services.find((s: { name: string }) => s.name === svc);

  beforeAll(async () => {
    name = `dk-${randomBytes(3).toString("hex")}`;
    app = makeAppDir("docker");
    port = await freePort();
    url = `http://127.0.0.1:${port}/`;
    for (const [secret, value] of [
      ["DB_PASSWORD", "hunter2"],
      ["API_TOKEN", "tok-123"],
    ]) {
      const r = await app.cli(["secret", "set", secret, "--env", "production"], { input: value });
      expect(r.code, r.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    try {
      await app?.cleanup();
    } finally {
      if (name) removeLeftovers(name);
    }
  });

  it("deploys v1: db first, then two api containers behind the router", async () => {
    app.writeSpec(spec(name, port));
    const r = await app.cli(["deploy", "--json", "--version", "v1.0.0"]);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r.stdout)).toMatchObject({
      number: 1,
      status: "succeeded",
      version: "v1.0.0",
      revisions: { db: "r1", api: "r1" },
      images: { api: { image } },
    });
    expect((await get(url)).body).toMatch(/^v1 api-r1-/);
    const api = await service("api");
    expect(api.instances.filter((i: { state: string }) => i.state === "ready")).toHaveLength(2);
    expect(api.router.weights).toEqual({ r1: 100 });
    // Real containers, labelled for re-adoption and cleanup, on the app's network.
    const names = Object.values(containers(name)).sort();
    expect(names).toHaveLength(3);
    for (const n of names) expect(n).toMatch(new RegExp(`^slipway-${name}-production-(api|db)-r1-`));
    expect(docker(["network", "ls", "--filter", `label=${appLabel}=${name}`, "--format", "{{.Name}}"])).toBe(
      `slipway-${name}-production`,
    );
  });

  it("starts the api only once the db is healthy, and the api reaches it by its name", async () => {
    const shown = json((await app.cli(["releases", "show", "1", "--json"])).stdout);
    const events = shown.events as { type: string; service: string | null }[];
    const dbDone = events.findIndex((e) => e.service === "db" && e.type === "service.done");
    const apiFirst = events.findIndex((e) => e.service === "api" && e.type !== "prepare");
    expect(dbDone).toBeGreaterThan(0);
    expect(apiFirst, JSON.stringify(events.map((e) => [e.service, e.type]))).toBeGreaterThan(dbDone);
    expect((await get(`${url}db`)).body).toBe("db-ok\n");
  });

  it("injects secrets as an environment variable and as a file", async () => {
    expect((await get(`${url}secret`)).body).toBe("hunter2");
    expect((await get(`${url}token`)).body).toBe("tok-123");
    // The file is copied in (mode 0600), not bind-mounted: the only mount is the named volume.
    const [id] = Object.entries(containers(name)).find(([, n]) => n.includes("-api-"))!;
    expect(docker(["exec", id, "stat", "-c", "%a", "/run/secrets/api-token"])).toBe("600");
    expect(docker(["inspect", "-f", "{{range .Mounts}}{{.Type}}:{{.Destination}} {{end}}", id])).toBe(
      "volume:/data",
    );
  });

  it("rolls v2 out under load with no failed request; the named volume survives the release", async () => {
    app.writeSpec(spec(name, port, { env: { APP_VERSION: "v2" } }));
    const load = startLoad(url, { concurrency: 6 });
    await new Promise((r) => setTimeout(r, 300));
    const r = await app.cli(["deploy", "--json"]);
    await new Promise((r) => setTimeout(r, 300));
    const result = await load.stop();
    expect(r.code, r.stderr).toBe(0);
    // Only the api changed: the db keeps its r1 container.
    expect(json(r.stdout)).toMatchObject({
      status: "succeeded",
      changed: ["api"],
      revisions: { db: "r1", api: "r2" },
    });
    expect(result.failed, result.errors.join("\n")).toBe(0);
    expect(result.versions.v1).toBeGreaterThan(0);
    expect(result.versions.v2).toBeGreaterThan(0);
    expect((await get(url)).body).toMatch(/^v2 api-r2-/);
    // A v2 container read what the v1 containers wrote into the volume.
    const boots = (await get(`${url}boots`)).body.trim().split("\n");
    expect(boots.slice(0, 2)).toEqual(["v1", "v1"]);
    expect(boots).toContain("v2");
    expect(docker(["volume", "ls", "-q", "--filter", `label=${appLabel}=${name}`])).toBe(
      `slipway-${name}-production-data`,
    );
  });

  it("an image that does not exist fails the deploy before any container is touched", async () => {
    const before = containers(name);
    const r = await app.cli(["deploy", "--json", "--image", "api=slipway/no-such-image:1"]);
    expect(r.code).toBe(1);
    const release = json(r.stdout);
    expect(release).toMatchObject({ status: "failed", phase: "nothing changed" });
    expect(release.error).toMatch(/slipway\/no-such-image:1/);
    expect(containers(name)).toEqual(before);
    expect((await get(url)).body).toMatch(/^v2 /);
  });

  it("a failing pre-deploy hook stops the deploy with nothing touched", async () => {
    const before = containers(name);
    app.writeSpec(
      spec(name, port, {
        env: { APP_VERSION: "v3" },
        hooks: { pre_deploy: "echo migrating; echo 'no database' >&2; exit 3" },
      }),
    );
    const r = await app.cli(["deploy", "--json"]);
    expect(r.code).toBe(1);
    const release = json(r.stdout);
    expect(release.status).toBe("failed");
    expect(release.error).toMatch(/pre-deploy hook exited with 3/);
    expect(release.error).toMatch(/no database/);
    expect(containers(name)).toEqual(before);
    expect((await get(url)).body).toMatch(/^v2 /);
  });

  it("a version that never gets healthy is rolled back; the old one keeps serving", async () => {
    const before = containers(name);
    app.writeSpec(
      spec(name, port, {
        env: { APP_VERSION: "v4", FAIL_HEALTH: "1" },
        health: { http: "/healthz", interval: "100ms", deadline: "2s" },
      }),
    );
    const load = startLoad(url, { concurrency: 4 });
    const r = await app.cli(["deploy", "--json"]);
    const result = await load.stop();
    expect(r.code).toBe(1);
    const release = json(r.stdout);
    expect(release).toMatchObject({ status: "failed", phase: "rolled back" });
    expect(release.error).toMatch(/did not become ready/);
    expect(release.error).toMatch(/404/);
    expect(result.failed, result.errors.join("\n")).toBe(0);
    expect(result.versions.v4 ?? 0).toBe(0);
    expect((await get(url)).body).toMatch(/^v2 /);
    // The v4 container is gone; v2's are the same containers as before.
    expect(containers(name)).toEqual(before);
  });

  it("blue-green switches at once under load, keeps the old containers, and rolls back by one swap", async () => {
    app.writeSpec(
      spec(name, port, { env: { APP_VERSION: "v5" }, strategy: { type: "blue-green", keep_old: "1m" } }),
    );
    const load = startLoad(url, { concurrency: 6 });
    const r = await app.cli(["deploy", "--json"]);
    const result = await load.stop();
    expect(r.code, r.stderr).toBe(0);
    const rev = json(r.stdout).revisions.api as string;
    expect(result.failed, result.errors.join("\n")).toBe(0);
    expect((await get(url)).body).toMatch(/^v5 /);
    const api = await service("api");
    expect(api.router.weights).toMatchObject({ [rev]: 100 });
    const kept = api.instances.filter((i: { state: string }) => i.state === "kept");
    expect(kept).toHaveLength(2);
    expect(Object.values(containers(name)).filter((n) => n.includes("-api-r2-"))).toHaveLength(2);

    const back = await app.cli(["rollback", "--json"]);
    expect(back.code, back.stderr).toBe(0);
    expect(json(back.stdout)).toMatchObject({
      kind: "rollback",
      status: "succeeded",
      revisions: { api: "r2" },
    });
    expect(back.stderr).toMatch(/switched back to the kept instances of r2/);
    expect((await get(url)).body).toMatch(/^v2 /);
  });

  it("the agent killed with -9: the containers keep running, `slipway up` re-adopts the same ones", async () => {
    const s = await status();
    const before = containers(name);
    const ids = s.services
      .flatMap((x: { instances: { id: string }[] }) => x.instances.map((i) => i.id))
      .sort();
    process.kill(s.agent.pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 200));
    // Docker keeps them up while nothing supervises them.
    expect(docker(["ps", "-q", "--filter", `label=${appLabel}=${name}`]).split("\n")).toHaveLength(
      Object.keys(before).length,
    );
    const up = await app.cli(["up", "--json"]);
    expect(up.code, up.stderr).toBe(0);
    const again = json(up.stdout);
    expect(again.agent.converged).toMatchObject({ started: 0, stopped: 0 });
    expect(again.agent.converged.adopted).toBe(ids.length);
    expect(
      again.services.flatMap((x: { instances: { id: string }[] }) => x.instances.map((i) => i.id)).sort(),
    ).toEqual(ids);
    expect(containers(name)).toEqual(before);
    expect((await get(url)).body).toMatch(/^v2 /);
  });

  it("down stops every container of the app", async () => {
    const r = await app.cli(["down", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(containers(name)).toEqual({});
    // The app's network goes with its last container (named volumes stay: they hold data).
    const networks = execFileSync("docker", ["network", "ls", "--format", "{{.Name}}"], { encoding: "utf8" });
    expect(networks.split("\n")).not.toContain(`slipway-${name}-production`);
  });
});
