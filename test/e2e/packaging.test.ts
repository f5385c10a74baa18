// The container image (packaging/Dockerfile), built here as the docs say for a machine without a registry:
// a local base image with this machine's node and git (scripts/build-base-image.sh), the context staged
// from dist/ (packaging/stage.mjs), target `prebuilt`. The image is tagged by the hash of what went into it
// so that runs with the same content share it; it must print slipway's version, run as its own user, and
// serve /healthz.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import http from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait.js";
import { rootDir } from "./helpers.js";

const repo = "slipway-test/image";
const docker = (args: string[], timeout = 60_000) =>
  execFileSync("docker", args, { encoding: "utf8", timeout, stdio: ["ignore", "pipe", "pipe"] }).trim();

/** sha256 over every file's path and content under dir, plus `extra`. */
function treeHash(dir: string, extra: string[]): string {
  const h = createHash("sha256");
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else h.update(p.slice(dir.length)).update("\0").update(readFileSync(p)).update("\0");
    }
  };
  walk(dir);
  for (const e of extra) h.update(e);
  return h.digest("hex").slice(0, 16);
}

/**
 * GET /healthz with a deadline. Not fetch: while the container starts, docker-proxy accepts and drops
 * connections, and Node 20's fetch can then wait forever with nothing keeping the process alive.
 */
function healthz(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/healthz", timeout: 3000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => resolve(res.statusCode === 200 ? body : undefined));
      res.on("error", () => resolve(undefined));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
  });
}

describe("the container image", () => {
  let tag: string;
  const containers: string[] = [];
  const version = JSON.parse(readFileSync(join(rootDir, "package.json"), "utf8")).version as string;

  beforeAll(() => {
    execFileSync("bash", [join(rootDir, "scripts", "build-base-image.sh")], {
      stdio: "inherit",
      timeout: 300_000,
    });
    const context = mkdtempSync(join(tmpdir(), "slipway-image-"));
    try {
      execFileSync(process.execPath, [join(rootDir, "packaging", "stage.mjs"), context], {
        stdio: "inherit",
        timeout: 120_000,
      });
      const dockerfile = readFileSync(join(rootDir, "packaging", "Dockerfile"), "utf8");
      const base = docker(["image", "inspect", "-f", "{{.Id}}", "slipway/node:local"]);
      tag = `${repo}:${treeHash(context, [dockerfile, base])}`;
      if (!docker(["images", "-q", tag])) {
        // Older content's images go: one image of this repository is kept at a time.
        for (const old of docker(["images", repo, "--format", "{{.Repository}}:{{.Tag}}"])
          .split("\n")
          .filter(Boolean))
          docker(["rmi", "-f", old]);
        docker(
          [
            "build",
            "-q",
            "-f",
            join(rootDir, "packaging", "Dockerfile"),
            "--target",
            "prebuilt",
            "--build-arg",
            "BASE=slipway/node:local",
            "-t",
            tag,
            context,
          ],
          300_000,
        );
      }
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
  }, 600_000);
  afterAll(() => {
    for (const c of containers) docker(["rm", "-f", c]);
  });

  it("prints slipway's version", () => {
    expect(docker(["run", "--rm", tag, "--version"])).toBe(version);
  });

  it("runs as its own unprivileged user with a private data directory", () => {
    expect(docker(["image", "inspect", "-f", "{{.Config.User}}", tag])).toBe("10001:10001");
    const out = docker([
      "run",
      "--rm",
      "--entrypoint",
      "/bin/sh",
      tag,
      "-c",
      "id -u; stat -c %a /var/lib/slipway",
    ]);
    expect(out.split("\n")).toEqual(["10001", "700"]);
  });

  it("serves: `slipway serve` is the default command and answers /healthz", async () => {
    const id = docker(["run", "-d", "-p", "127.0.0.1::8420", tag]);
    containers.push(id);
    const port = docker(["port", id, "8420/tcp"]).split("\n")[0].split(":").at(-1);
    const body = await waitFor("the server in the container", () => healthz(Number(port)), 60_000, 250);
    expect(body).toBe("ok\n");
  }, 90_000);
});
