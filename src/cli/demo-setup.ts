// The first step of `slipway demo`: its directory and the fixture repository in it — examples/demo-shop
// copied without its later versions (.demo/), published on free ports, committed as v1 — and the choice
// of whether its images are built with Docker. Also the demo's fixed names, ports and commit messages.
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseDocument } from "yaml";
import { UserError } from "../lib/errors.js";
import { git } from "../lib/git.js";

/** The demo app's name (deploy.app of its slipway.yaml) and the environment it is deployed to. */
export const demoApp = "demo-shop";
export const demoEnvironment = "production";
/** The base image the demo's Dockerfiles build on (see examples/demo-shop/slipway.yaml). */
export const demoBaseImage = "slipway/busybox:latest";
/** Ports the demo publishes on when they are free: web, then api. */
export const preferredPorts = { web: 8480, api: 8481 } as const;
export const demoCommits = {
  v1: "[minor] first release",
  v2: "[minor] v2: spring sale and a new product",
} as const;

export type DemoPorts = { web: number; api: number };

/**
 * The example's slipway.yaml with the demo's ports: where the router publishes web and api, and the api
 * URL web and worker call (through api's router). Comments and layout are kept.
 */
export function withPorts(yamlText: string, ports: DemoPorts): string {
  const doc = parseDocument(yamlText);
  const apiUrl = `http://127.0.0.1:${ports.api}`;
  doc.setIn(["deploy", "services", "web", "publish"], ports.web);
  doc.setIn(["deploy", "services", "api", "publish"], ports.api);
  doc.setIn(["deploy", "services", "web", "env", "API_URL"], apiUrl);
  doc.setIn(["deploy", "services", "worker", "env", "API_URL"], apiUrl);
  return doc.toString();
}

/** examples/demo-shop of this slipway: found upwards from this module (src/cli or dist/chunks). */
export function findExample(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, "examples", "demo-shop");
    if (existsSync(join(candidate, "slipway.yaml"))) return candidate;
    dir = dirname(dir);
  }
  throw new UserError(
    "the demo app (examples/demo-shop) is not part of this installation of slipway: run `npx slipway demo` from a clone of slipway's repository",
  );
}

export function prepareDir(dir: string | undefined): string {
  if (dir === undefined) return mkdtempSync(join(tmpdir(), "slipway-demo-"));
  const abs = resolve(dir);
  if (existsSync(abs) && readdirSync(abs).length > 0)
    throw new UserError(`--dir ${dir}: the directory is not empty (the demo makes a new repository there)`);
  mkdirSync(abs, { recursive: true });
  return abs;
}

/** A port that nothing listens on: the preferred one when it is free, otherwise one the kernel picks. */
async function freePort(preferred: number, taken: number[]): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | undefined>((done) => {
      const server = net.createServer();
      server.once("error", () => done(undefined));
      server.listen(port, "127.0.0.1", () => {
        const got = (server.address() as net.AddressInfo).port;
        server.close(() => done(got));
      });
    });
  if (!taken.includes(preferred)) {
    const got = await tryListen(preferred);
    if (got !== undefined) return got;
  }
  for (;;) {
    const got = await tryListen(0);
    if (got !== undefined && !taken.includes(got)) return got;
  }
}

/** Whether the image build can run: an engine answers and has the demo's base image. */
export async function dockerChoice(wanted: boolean | undefined): Promise<{ used: boolean; reason: string }> {
  if (wanted === false) return { used: false, reason: "--no-docker" };
  let reason: string;
  try {
    const { connectEngine } = await import("../engines/index.js");
    const engine = connectEngine({ timeoutMs: 3000 });
    await engine.ping(AbortSignal.timeout(3000));
    if (await engine.imageExists(demoBaseImage)) return { used: true, reason: "a Docker engine answers" };
    reason = `the Docker engine has no ${demoBaseImage} image (scripts/setup-docker.sh makes it)`;
  } catch (err) {
    reason = `no Docker engine answers (${(err as Error).message.split("\n")[0]})`;
  }
  if (wanted === true) throw new UserError(`--docker: ${reason}`);
  return { used: false, reason };
}

const demoIdentity = {
  GIT_AUTHOR_NAME: "slipway demo",
  GIT_AUTHOR_EMAIL: "demo@slipway.localhost",
  GIT_COMMITTER_NAME: "slipway demo",
  GIT_COMMITTER_EMAIL: "demo@slipway.localhost",
};

/** git in the demo's own repository: a fixed identity, never a signing prompt. */
function demoGit(dir: string, args: string[]): Promise<string> {
  return git(dir, ["-c", "commit.gpgsign=false", ...args], { env: demoIdentity });
}

async function commitAll(dir: string, message: string): Promise<string> {
  await demoGit(dir, ["add", "-A"]);
  await demoGit(dir, ["commit", "-q", "-m", message]);
  return demoGit(dir, ["rev-parse", "HEAD"]);
}

/**
 * Copies the example into dir without its later versions (.demo/), publishes it on free ports (told to
 * onPorts as soon as they are chosen), makes the repository on main and commits v1; returns that commit.
 */
export async function makeDemoRepository(
  example: string,
  dir: string,
  onPorts: (ports: DemoPorts) => void,
): Promise<string> {
  // .demo/ holds the later versions' changes: not part of the first commit.
  const later = join(example, ".demo");
  cpSync(example, dir, { recursive: true, filter: (src) => src !== later && !src.startsWith(later + sep) });
  const web = await freePort(preferredPorts.web, []);
  const api = await freePort(preferredPorts.api, [web]);
  onPorts({ web, api });
  writeFileSync(
    join(dir, "slipway.yaml"),
    withPorts(readFileSync(join(dir, "slipway.yaml"), "utf8"), { web, api }),
  );
  await demoGit(dir, ["init", "-q"]);
  await demoGit(dir, ["symbolic-ref", "HEAD", "refs/heads/main"]);
  return commitAll(dir, demoCommits.v1);
}

/** Adds the example's v2 changes to the repository and commits them; returns the commit. */
export async function commitV2(example: string, dir: string): Promise<string> {
  cpSync(join(example, ".demo", "v2"), dir, { recursive: true });
  return commitAll(dir, demoCommits.v2);
}
