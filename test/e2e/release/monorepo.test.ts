// Issue 4's proof, end to end: a 7-service chat monorepo (plus a shared base image) in a throwaway git
// repository with a bare origin and a real registry. A merged PR titled `[minor] add read receipts` gives
// the tag v1.3.0-<sha7>; `slipway build --all --push` builds and pushes every image; a change to one
// service rebuilds and pushes only that one; `registry latest` and `registry prune` tidy the repository;
// the release workflow does the same under `slipway run`. Every step runs the built CLI as a user would.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRegistry, type TestRegistry } from "../../support/registry.js";
import { binPath, type CliResult, runCli } from "../helpers.js";
import {
  baseDependents,
  createRepo,
  docker,
  imageExists,
  type Repo,
  releaseTemplate,
  removeImagesOf,
  services,
} from "./support.js";

let registry: TestRegistry;
let root: string;
let repo: Repo;
let origin: string;
let data: string;
let logs: string;

const systemRepo = () => `${registry.host}/team/chat-system`;
const baseRepo = () => `${registry.host}/team/chat-base`;
const sha7 = (sha: string) => sha.slice(0, 7);
const tagOf = (service: string, version: string) => `chat-${service}_${version}`;

function slipway(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { cwd: repo.dir, dataDir: data, logDir: logs, env });
}

/** The last lines of a run's output, so that a failed assertion explains itself. */
function explain(r: CliResult): string {
  const tail = (s: string) => s.split("\n").slice(-40).join("\n");
  return `exit ${r.code}\n--- stderr (tail) ---\n${tail(r.stderr)}\n--- stdout (tail) ---\n${tail(r.stdout)}`;
}

async function registryTags(repository: string): Promise<string[]> {
  const r = await slipway(["registry", "tags", repository, "--json"]);
  expect(r.code, explain(r)).toBe(0);
  expect(r.json.repository).toBe(repository);
  return r.json.tags;
}

/** Tags and pushes the next release with the CLI, as a release job would; the tag. */
async function release(): Promise<string> {
  const r = await slipway(["release", "next", "--template", releaseTemplate, "--push", "--json"]);
  expect(r.code, explain(r)).toBe(0);
  expect(r.json.pushed).toBe(true);
  return r.json.tag;
}

function originTag(tag: string): string | undefined {
  try {
    return execFileSync("git", ["-C", origin, "rev-parse", "--verify", "--quiet", `refs/tags/${tag}`], {
      encoding: "utf8",
    }).trim();
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  registry = await startRegistry();
  root = mkdtempSync(join(tmpdir(), "slipway-e2e-release-"));
  data = join(root, "data");
  logs = join(root, "logs");
  mkdirSync(data);
  mkdirSync(logs);
  origin = join(root, "origin.git");
  execFileSync("git", ["init", "-q", "--bare", "-b", "main", origin]);
  repo = createRepo(join(root, "chat"), registry.host);
  repo.git("remote", "add", "origin", origin);
  // The previous release, already on origin.
  repo.git("tag", "-a", "-m", "Release 1.2.0", `v1.2.0-${sha7(repo.sha())}`);
  repo.git("push", "-q", "origin", "main", "--follow-tags");
  // Work on main since then, and the pull request being released.
  repo.commit("user: trim profile names", {
    "services/user/www/cgi-bin/profile": `${repo.read("services/user/www/cgi-bin/profile")}# trimmed\n`,
  });
  repo.mergePullRequest({
    number: 42,
    branch: "read-receipts",
    title: "[minor] add read receipts",
    files: {
      "services/chat/www/cgi-bin/receipts": `${repo.read("services/chat/www/cgi-bin/receipts")}# v2\n`,
    },
  });
});

afterAll(async () => {
  await registry?.stop();
  if (registry) removeImagesOf(registry.host);
  if (root && !process.env.SLIPWAY_E2E_KEEP) rmSync(root, { recursive: true, force: true });
});

describe("releasing the chat monorepo", () => {
  let v130: string; // the version the images of release v1.3.0-<sha7> carry
  let tag130: string;

  it("computes v1.3.0-<sha7> from the merged PR's title", async () => {
    const head = repo.sha();
    expect(repo.git("log", "-1", "--format=%s%n%b")).toBe(
      "Merge pull request #42 from team/read-receipts\n[minor] add read receipts",
    );
    const r = await slipway(["release", "next", "--template", releaseTemplate, "--json"]);
    expect(r.code, explain(r)).toBe(0);
    expect(r.json).toMatchObject({
      version: "1.3.0",
      tag: `v1.3.0-${sha7(head)}`,
      bump: "minor",
      previous: { version: "1.2.0" },
      sha: head,
      created: false,
      pushed: false,
    });
    expect(r.json.changelog).toContain("add read receipts");
    expect(r.json.changelog).toContain("#42");
    // Planning creates nothing.
    expect(repo.git("tag", "--list", "v1.3.0-*")).toBe("");
  });

  it("--push creates the annotated tag and pushes it to origin; a second run never moves it", async () => {
    const head = repo.sha();
    tag130 = `v1.3.0-${sha7(head)}`;
    const r = await slipway(["release", "next", "--template", releaseTemplate, "--push", "--json"]);
    expect(r.code, explain(r)).toBe(0);
    expect(r.json).toMatchObject({ tag: tag130, created: true, pushed: true });
    const tagObject = originTag(tag130);
    expect(tagObject, `origin has ${tag130}`).toBeDefined();
    expect(
      execFileSync("git", ["-C", origin, "cat-file", "-t", tagObject!], { encoding: "utf8" }).trim(),
    ).toBe("tag");
    expect(
      execFileSync("git", ["-C", origin, "rev-parse", `${tag130}^{commit}`], { encoding: "utf8" }).trim(),
    ).toBe(head);

    // Run again on the same clone: the release is already there, nothing new to tag.
    const again = await slipway(["release", "next", "--template", releaseTemplate, "--push", "--json"]);
    expect(again.code, explain(again)).toBe(0);
    expect(again.json).toMatchObject({ tag: null, bump: "none", created: false, pushed: false });
    expect(again.json.previous.tag).toBe(tag130);
    expect(originTag(tag130)).toBe(tagObject);

    // Run again from a clone that lacks the tag (a CI checkout without tags): the push is refused.
    repo.git("tag", "-d", tag130);
    const clash = await slipway(["release", "next", "--template", releaseTemplate, "--push", "--json"]);
    expect(clash.code, explain(clash)).toBe(1);
    expect(clash.stderr).toMatch(new RegExp(`tag ${tag130.replace(/\./g, "\\.")} already exists on origin`));
    expect(originTag(tag130), "origin's tag is unchanged").toBe(tagObject);
    repo.git("fetch", "-q", "origin", `refs/tags/${tag130}:refs/tags/${tag130}`);
    expect(repo.git("rev-parse", tag130)).toBe(tagObject);
    v130 = tag130.slice(1);
  });

  it("builds and pushes all 7 services (and the base image) at the release", async () => {
    const r = await slipway(["build", "--all", "--push", "--json"]);
    expect(r.code, explain(r)).toBe(0);
    const result = r.json;
    // {version} of a build is the version of the release tag at HEAD, here with its sha7 suffix.
    expect(result.version).toBe(v130);
    expect(Object.keys(result.services).sort()).toEqual(["base", ...services].sort());
    for (const s of services) {
      const ref = `${systemRepo()}:${tagOf(s, v130)}`;
      expect(result.services[s], s).toMatchObject({
        status: "built",
        reference: ref,
        references: [ref],
        pushed: true,
      });
      expect(result.services[s].digest, s).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    expect(result.services.base).toMatchObject({
      status: "built",
      reference: `${baseRepo()}:${tagOf("base", v130)}`,
      pushed: true,
    });
    // Dependencies first: base was built before any service built on it.
    const order = [...r.stderr.matchAll(/^slipway: built (\S+)/gm)].map((m) => m[1]);
    for (const s of baseDependents) expect(order.indexOf("base"), s).toBeLessThan(order.indexOf(s));

    expect(await registryTags(systemRepo())).toEqual(services.map((s) => tagOf(s, v130)).sort());
    expect(await registryTags(baseRepo())).toEqual([tagOf("base", v130)]);

    const labels = JSON.parse(
      docker(
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        `${systemRepo()}:${tagOf("chat", v130)}`,
      ),
    );
    expect(labels).toMatchObject({
      "io.slipway.service": "chat",
      "io.slipway.version": v130,
      "org.opencontainers.image.revision": repo.sha(),
    });
  });

  it("the chat image is a working HTTP service on the base image", async () => {
    const id = docker("run", "-d", "--rm", "-p", "127.0.0.1::8080", `${systemRepo()}:${tagOf("chat", v130)}`);
    try {
      const port = docker("port", id, "8080/tcp").split("\n")[0].split(":").pop();
      let body = "";
      for (let i = 0; i < 50 && !body; i++) {
        body = await fetch(`http://127.0.0.1:${port}/cgi-bin/receipts`)
          .then((res) => (res.ok ? res.text() : ""))
          .catch(() => "");
        if (!body) await new Promise((ok) => setTimeout(ok, 100));
      }
      expect(JSON.parse(body)).toEqual({ message: "m1", readBy: ["grace", "linus"] });
      const health = await fetch(`http://127.0.0.1:${port}/health`).then((res) => res.json());
      expect(health).toEqual({ service: "chat", status: "UP" });
    } finally {
      docker("rm", "-f", id);
    }
  });

  let v131: string;

  it("after a change to one service, only that image is rebuilt and pushed", async () => {
    repo.mergePullRequest({
      number: 43,
      branch: "typing-indicator",
      title: "[patch] chat: show who is typing",
      files: {
        "services/chat/www/index.html": `${repo.read("services/chat/www/index.html")}<p>typing…</p>\n`,
      },
    });
    const tag = await release();
    expect(tag).toBe(`v1.3.1-${sha7(repo.sha())}`);
    v131 = tag.slice(1);

    const r = await slipway(["build", "--push", "--json"]);
    expect(r.code, explain(r)).toBe(0);
    const result = r.json;
    expect(result.version).toBe(v131);
    expect(result.services.chat).toMatchObject({
      status: "built",
      reference: `${systemRepo()}:${tagOf("chat", v131)}`,
      pushed: true,
      reasons: ["changed: services/chat/www/index.html"],
    });
    for (const s of services.filter((x) => x !== "chat"))
      expect(result.services[s], s).toMatchObject({
        status: "skipped",
        pushed: false,
        references: [],
        reference: `${systemRepo()}:${tagOf(s, v130)}`,
      });
    expect(result.services.base).toMatchObject({
      status: "skipped",
      reference: `${baseRepo()}:${tagOf("base", v130)}`,
    });
    expect(r.stderr).not.toMatch(/^slipway: building (?!chat$)/m);

    expect(await registryTags(systemRepo())).toEqual(
      [...services.map((s) => tagOf(s, v130)), tagOf("chat", v131)].sort(),
    );
    expect(await registryTags(baseRepo())).toEqual([tagOf("base", v130)]);
  });

  it("plans rebuilds through shared paths and image dependencies (dry run)", async () => {
    // Each change on its own branch off the release: what would the next build rebuild?
    const plan = async (branch: string, files: Record<string, string>) => {
      repo.git("checkout", "-q", "-b", branch, "main");
      try {
        repo.commit(branch, files);
        const r = await slipway(["build", "--dry-run", "--json"]);
        expect(r.code, explain(r)).toBe(0);
        return Object.entries(r.json.services as Record<string, { build: boolean }>)
          .filter(([, s]) => s.build)
          .map(([n]) => n)
          .sort();
      } finally {
        repo.git("checkout", "-q", "main");
        repo.git("branch", "-q", "-D", branch);
      }
    };
    const proto = `${repo.read("libs/proto/chat.proto")}\nmessage Typing {}\n`;
    expect(await plan("proto", { "libs/proto/chat.proto": proto })).toEqual(["chat", "gateway"]);
    const serve = `${repo.read("images/base/serve.sh")}# log requests\n`;
    expect(await plan("base", { "images/base/serve.sh": serve })).toEqual(["base", ...baseDependents].sort());
    expect(await plan("docs", { "README.md": "# chat system\n" })).toEqual([]);
  });

  it("registry latest gives the newest tag of a service", async () => {
    const r = await slipway([
      "registry",
      "latest",
      systemRepo(),
      "--match",
      "*-chat_*",
      "--by",
      "semver",
      "--json",
    ]);
    expect(r.code, explain(r)).toBe(0);
    expect(r.json).toMatchObject({
      tag: tagOf("chat", v131),
      reference: `${systemRepo()}:${tagOf("chat", v131)}`,
    });
    expect(r.json.digest).toMatch(/^sha256:/);
    const gateway = await slipway(["registry", "latest", systemRepo(), "--match", "*-gateway_*", "--ref"]);
    expect(gateway.code, explain(gateway)).toBe(0);
    expect(gateway.stdout.trim()).toBe(`${systemRepo()}:${tagOf("gateway", v130)}`);
    const none = await slipway(["registry", "latest", systemRepo(), "--match", "*-billing_*"]);
    expect(none.code, explain(none)).toBe(1);
    expect(none.stderr).toContain("no tag of");
  });

  it("registry prune keeps the newest, never deletes a protected tag, and deletes the rest", async () => {
    const protectedTag = tagOf("chat", v130);
    const args = [
      "registry",
      "prune",
      systemRepo(),
      "--keep",
      "1",
      "--protect",
      protectedTag,
      "--json",
      "--yes",
    ];
    const dry = await slipway([...args, "--dry-run"]);
    expect(dry.code, explain(dry)).toBe(0);
    const doomed = services
      .filter((s) => s !== "chat")
      .map((s) => tagOf(s, v130))
      .sort();
    expect(dry.json.kept).toEqual([tagOf("chat", v131)]);
    expect(dry.json.protected).toEqual([protectedTag]);
    expect(dry.json.delete.flatMap((d: { tags: string[] }) => d.tags).sort()).toEqual(doomed);
    expect(await registryTags(systemRepo()), "a dry run deletes nothing").toHaveLength(8);

    const r = await slipway(args);
    expect(r.code, explain(r)).toBe(0);
    expect(r.json.delete.flatMap((d: { tags: string[] }) => d.tags).sort()).toEqual(doomed);
    expect(await registryTags(systemRepo())).toEqual([protectedTag, tagOf("chat", v131)].sort());
    // The protected image is still whole: its manifest resolves.
    const latestOld = await slipway(["registry", "latest", systemRepo(), "--match", `*_${v130}`, "--json"]);
    expect(latestOld.code, explain(latestOld)).toBe(0);
    expect(latestOld.json.tag).toBe(protectedTag);
  });

  it("the release workflow tags and builds under `slipway run` (push to main)", async () => {
    const head = repo.mergePullRequest({
      number: 44,
      branch: "discovery",
      title: "[patch] registry: list instances with ports",
      files: {
        "services/registry/www/index.html": `${repo.read("services/registry/www/index.html")}<!-- v2 -->\n`,
      },
    });
    const r = await slipway(["run", "push", "--var", `SLIPWAY_BIN=${binPath}`, "--json"]);
    expect(r.code, explain(r)).toBe(0);
    const job = r.json.jobs.find((j: { id: string }) => j.id === "release");
    const tag = `v1.3.2-${sha7(head)}`;
    expect(job).toMatchObject({ status: "success", outputs: { tag, version: "1.3.2" } });
    // slipway/version pushed the tag to the workspace's origin: this repository.
    expect(repo.git("rev-parse", `${tag}^{commit}`)).toBe(head);
    expect(repo.git("cat-file", "-t", tag)).toBe("tag");
    const build = JSON.parse(job.outputs.build);
    const v132 = tag.slice(1);
    expect(build.services.registry).toMatchObject({
      status: "built",
      pushed: true,
      reference: `${systemRepo()}:${tagOf("registry", v132)}`,
    });
    for (const s of ["base", ...services.filter((x) => x !== "registry")])
      expect(build.services[s].status, s).toBe("skipped");
    expect(await registryTags(systemRepo())).toEqual(
      [tagOf("chat", v130), tagOf("chat", v131), tagOf("registry", v132)].sort(),
    );
    expect(r.stderr).toContain(`released ${tag} (patch)`);
  });

  it("a release after partial ones builds on, and names, the images its skipped services last had", async () => {
    // Since v1.3.0 only chat (1.3.1) and registry (1.3.2) were rebuilt: gateway's image is still 1.3.0's,
    // and so is base's, which presence builds on.
    repo.mergePullRequest({
      number: 45,
      branch: "heartbeats",
      title: "[patch] presence: faster heartbeats",
      files: {
        "services/presence/Dockerfile": repo
          .read("services/presence/Dockerfile")
          .replace("HEARTBEAT_SECONDS=30", "HEARTBEAT_SECONDS=10"),
      },
    });
    const tag = await release();
    const version = tag.slice(1);
    const r = await slipway(["build", "--push", "--json"]);
    expect(r.json?.services?.presence?.status, explain(r)).toBe("built");
    expect(r.code, explain(r)).toBe(0);
    expect(r.json.services.presence.reference).toBe(`${systemRepo()}:${tagOf("presence", version)}`);
    const expected: Record<string, string> = {
      base: `${baseRepo()}:${tagOf("base", v130)}`,
      gateway: `${systemRepo()}:${tagOf("gateway", v130)}`,
      chat: `${systemRepo()}:${tagOf("chat", v131)}`,
    };
    for (const [s, ref] of Object.entries(expected)) {
      expect(r.json.services[s], s).toMatchObject({ status: "skipped", reference: ref });
      expect(imageExists(ref), `${ref} exists`).toBe(true);
    }
  });
});
