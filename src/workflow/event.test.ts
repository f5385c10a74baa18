import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { makeRepo as makeTestRepo } from "../../test/support/git.js";
import { UserError } from "../lib/errors.js";
import { eventRef, eventSha, loadEventFile, parseRemoteUrl, synthesizeEvent } from "./event.js";
import { matchWorkflowTrigger } from "./triggers.js";

const zeroSha = "0".repeat(40);
const temps: string[] = [];

afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(name = "repo"): Promise<string> {
  const parent = await mkdtemp(path.join(tmpdir(), "slipway-event-"));
  temps.push(parent);
  const dir = path.join(parent, name);
  await mkdir(dir);
  return dir;
}

type Repo = {
  dir: string;
  git: (...args: string[]) => Promise<string>;
  write: (files: Record<string, string>) => Promise<void>;
  commit: (message: string) => Promise<string>;
};

// A real repository that commits everything written to it.
async function makeRepo(name = "repo"): Promise<Repo> {
  const dir = await tempDir(name);
  const repo = await makeTestRepo(path.dirname(dir), name);
  const write = async (files: Record<string, string>) => {
    for (const [file, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), content);
    }
  };
  const commit = async (message: string) => {
    await repo.git("add", "-A");
    return repo.commit(message);
  };
  return { dir, git: repo.git, write, commit };
}

describe("synthesizeEvent errors", () => {
  test("a directory that is not a git repository", async () => {
    const dir = await tempDir("plain");
    const attempt = synthesizeEvent(dir, "push");
    await expect(attempt).rejects.toThrow(UserError);
    await expect(synthesizeEvent(dir, "push")).rejects.toThrow(`${dir} is not a git repository`);
  });

  test("a directory that does not exist", async () => {
    const dir = path.join(await tempDir(), "missing");
    await expect(synthesizeEvent(dir, "push")).rejects.toThrow(`${dir} is not a git repository`);
  });

  test("a repository with no commits", async () => {
    const repo = await makeRepo();
    await expect(synthesizeEvent(repo.dir, "push")).rejects.toThrow(UserError);
    await expect(synthesizeEvent(repo.dir, "push")).rejects.toThrow(/has no commits/);
  });
});

describe("synthesizeEvent push", () => {
  test("root commit: every file is added, before is zeros", async () => {
    const repo = await makeRepo("widgets");
    await repo.write({ "README.md": "hi\n", "src/app.ts": "export {};\n" });
    const sha = await repo.commit("Initial commit\n\nWith a body.");
    const tree = await repo.git("rev-parse", "HEAD^{tree}");

    const event = await synthesizeEvent(repo.dir, "push");
    const p = event.payload as any;
    expect(event.name).toBe("push");
    expect(p.ref).toBe("refs/heads/main");
    expect(p.before).toBe(zeroSha);
    expect(p.after).toBe(sha);
    expect(p).toMatchObject({ created: false, deleted: false, forced: false, compare: "" });
    expect(p.head_commit).toMatchObject({
      id: sha,
      tree_id: tree,
      message: "Initial commit\n\nWith a body.",
      url: "",
      author: { name: "Mona Lisa", email: "mona@example.com", username: "mona" },
      committer: { name: "Mona Lisa", email: "mona@example.com" },
      added: ["README.md", "src/app.ts"],
      removed: [],
      modified: [],
    });
    expect(new Date(p.head_commit.timestamp).toString()).not.toBe("Invalid Date");
    expect(p.commits).toEqual([p.head_commit]);
    expect(p.repository).toEqual({
      name: "widgets",
      full_name: "local/widgets",
      owner: { login: "local", name: "local" },
      default_branch: "main",
      clone_url: await repo.git("rev-parse", "--show-toplevel"),
      html_url: "",
    });
    expect(p.pusher).toEqual({ name: "Mona Lisa", email: "mona@example.com" });
    expect(p.sender).toMatchObject({ login: "mona" });
    expect(event.changedFiles).toEqual(["README.md", "src/app.ts"]);
    expect(eventRef(event)).toBe("refs/heads/main");
    expect(eventSha(event)).toBe(sha);
  });

  test("second commit with a rename: both paths count", async () => {
    const repo = await makeRepo();
    await repo.write({ "old.txt": "same content, long enough to be detected as a rename\n", "a.txt": "a\n" });
    await repo.write({ "gone.txt": "bye\n" });
    const first = await repo.commit("first");
    await repo.git("mv", "old.txt", "new.txt");
    await repo.git("rm", "-q", "gone.txt");
    await repo.write({ "a.txt": "changed\n", "b.txt": "new\n" });
    const second = await repo.commit("second");

    const event = await synthesizeEvent(repo.dir, "push");
    const p = event.payload as any;
    expect(p.before).toBe(first);
    expect(p.after).toBe(second);
    expect(p.head_commit.added.sort()).toEqual(["b.txt", "new.txt"]);
    expect(p.head_commit.removed.sort()).toEqual(["gone.txt", "old.txt"]);
    expect(p.head_commit.modified).toEqual(["a.txt"]);
    expect(event.changedFiles?.sort()).toEqual(["a.txt", "b.txt", "gone.txt", "new.txt", "old.txt"]);
  });

  test("detached HEAD at a tag pushes the tag; elsewhere the ref is the sha", async () => {
    const repo = await makeRepo();
    const first = await repo.commit("first");
    await repo.git("tag", "v1.0.0");
    await repo.git("tag", "-a", "v2.0.0", "-m", "annotated");
    await repo.commit("second");
    await repo.git("checkout", "-q", "--detach", "v1.0.0");

    const tagged = await synthesizeEvent(repo.dir, "push");
    // Of two tags at HEAD the highest version is taken.
    expect(tagged.payload.ref).toBe("refs/tags/v2.0.0");
    expect(eventRef(tagged)).toBe("refs/tags/v2.0.0");
    expect(eventSha(tagged)).toBe(first);
    expect(matchWorkflowTrigger({ push: { tags: ["v2.*"] } }, tagged).matched).toBe(true);
    expect(matchWorkflowTrigger({ push: { branches: ["main"] } }, tagged).matched).toBe(false);

    await repo.git("checkout", "-q", "--detach", "main");
    const detached = await synthesizeEvent(repo.dir, "push");
    const head = await repo.git("rev-parse", "HEAD");
    expect(detached.payload.ref).toBe(head);
    // The default branch is still known from refs/heads/main.
    expect((detached.payload.repository as any).default_branch).toBe("main");
  });
});

describe("repository identity", () => {
  test("an https origin: owner/name, without the credentials", async () => {
    const repo = await makeRepo("checkout-dir");
    await repo.commit("first");
    await repo.git("remote", "add", "origin", "https://user:s3cret@github.com/acme/widgets.git");
    const event = await synthesizeEvent(repo.dir, "push");
    const repository = event.payload.repository as any;
    expect(repository).toMatchObject({
      name: "widgets",
      full_name: "acme/widgets",
      owner: { login: "acme", name: "acme" },
      clone_url: "https://github.com/acme/widgets.git",
    });
    expect(JSON.stringify(event.payload)).not.toContain("s3cret");
  });

  test("an scp-like origin and its origin/HEAD as the default branch", async () => {
    const repo = await makeRepo();
    await repo.commit("first");
    await repo.git("remote", "add", "origin", "git@github.com:acme/gadgets.git");
    await repo.git("update-ref", "refs/remotes/origin/trunk", "HEAD");
    await repo.git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/trunk");
    const repository = (await synthesizeEvent(repo.dir, "push")).payload.repository as any;
    expect(repository).toMatchObject({
      full_name: "acme/gadgets",
      default_branch: "trunk",
      clone_url: "https://github.com/acme/gadgets.git",
    });
  });

  test("without main or origin/HEAD the current branch is the default", async () => {
    const repo = await makeRepo();
    await repo.git("checkout", "-q", "-b", "develop");
    await repo.commit("first");
    const repository = (await synthesizeEvent(repo.dir, "push")).payload.repository as any;
    expect(repository.default_branch).toBe("develop");
  });

  test("the sender's login comes from a GitHub noreply address when there is one", async () => {
    const repo = await makeRepo();
    await repo.git("config", "user.email", "12345+octocat@users.noreply.github.com");
    await repo.commit("first");
    const p = (await synthesizeEvent(repo.dir, "push")).payload as any;
    expect(p.sender.login).toBe("octocat");
    expect(p.head_commit.author.username).toBe("octocat");
  });

  test.each([
    ["https://github.com/acme/widgets.git", "github.com", "acme", "widgets"],
    ["https://github.com/acme/widgets", "github.com", "acme", "widgets"],
    ["https://github.com/acme/widgets/", "github.com", "acme", "widgets"],
    ["http://git.example.com:8080/team/app.git", "git.example.com", "team", "app"],
    ["ssh://git@github.com/acme/widgets.git", "github.com", "acme", "widgets"],
    ["ssh://git@example.com:2222/acme/widgets.git", "example.com", "acme", "widgets"],
    ["git@github.com:acme/widgets.git", "github.com", "acme", "widgets"],
    ["github.com:acme/widgets", "github.com", "acme", "widgets"],
    ["git@gitlab.com:group/sub/project.git", "gitlab.com", "sub", "project"],
  ])("parseRemoteUrl(%j)", (url, host, owner, name) => {
    expect(parseRemoteUrl(url)).toEqual({
      host,
      owner,
      name,
      cloneUrl: `https://${host}/${owner}/${name}.git`,
    });
  });

  test.each([
    "/srv/git/widgets.git",
    "../widgets",
    "file:///srv/git/acme/widgets.git",
    "C:\\repos\\widgets",
    "https://github.com/widgets",
  ])("parseRemoteUrl(%j) is not a hosted repository", (url) => {
    expect(parseRemoteUrl(url)).toBeUndefined();
  });
});

describe("synthesizeEvent pull_request", () => {
  test("a branch: base is the merge base with the default branch, files are the branch's changes", async () => {
    const repo = await makeRepo();
    await repo.write({ "shared.txt": "1\n" });
    const forkPoint = await repo.commit("base");
    await repo.git("checkout", "-q", "-b", "feature/login");
    await repo.write({ "src/login.ts": "x\n" });
    await repo.commit("Add login");
    await repo.write({ "docs/login.md": "y\n" });
    const head = await repo.commit("Document login\n\nCloses #7.");
    // The default branch moves on; its changes are not part of the pull request.
    await repo.git("checkout", "-q", "main");
    await repo.write({ "shared.txt": "2\n" });
    await repo.commit("main moves on");
    await repo.git("checkout", "-q", "feature/login");

    const event = await synthesizeEvent(repo.dir, "pull_request");
    const p = event.payload as any;
    expect(p.action).toBe("opened");
    expect(p.number).toBe(1);
    expect(p.pull_request).toMatchObject({
      number: 1,
      title: "Document login",
      body: "Closes #7.",
      merged: false,
      html_url: "",
      user: { login: "mona" },
      head: { ref: "feature/login", sha: head },
      base: { ref: "main", sha: forkPoint },
    });
    expect(p.repository.full_name).toMatch(/^local\//);
    expect(event.changedFiles?.sort()).toEqual(["docs/login.md", "src/login.ts"]);
    expect(eventRef(event)).toBe("refs/pull/1/merge");
    expect(eventSha(event)).toBe(head);

    const on = { pull_request: { branches: ["main"], paths: ["src/**"] } };
    expect(matchWorkflowTrigger(on, event)).toMatchObject({ matched: true });
    expect(matchWorkflowTrigger({ pull_request: { paths: ["shared.txt"] } }, event).matched).toBe(false);
  });

  test("on the default branch itself the last commit is the change", async () => {
    const repo = await makeRepo();
    await repo.write({ "a.txt": "1\n" });
    const first = await repo.commit("first");
    await repo.write({ "b.txt": "2\n" });
    const second = await repo.commit("second");

    const event = await synthesizeEvent(repo.dir, "pull_request");
    const pr = (event.payload as any).pull_request;
    expect(pr.head).toMatchObject({ ref: "main", sha: second });
    expect(pr.base).toMatchObject({ ref: "main", sha: first });
    expect(pr.body).toBeNull();
    expect(event.changedFiles).toEqual(["b.txt"]);
  });
});

describe("synthesizeEvent other events", () => {
  test("workflow_dispatch carries inputs, the ref, and the commit beside the payload", async () => {
    const repo = await makeRepo();
    await repo.git("checkout", "-q", "-b", "dev");
    const sha = await repo.commit("first");
    const event = await synthesizeEvent(repo.dir, "workflow_dispatch", { inputs: { level: "debug" } });
    expect(event.payload).toMatchObject({ inputs: { level: "debug" }, ref: "refs/heads/dev" });
    expect(event.payload.repository).toBeDefined();
    expect(event.payload.sender).toBeDefined();
    expect(event.changedFiles).toBeUndefined();
    expect(eventRef(event)).toBe("refs/heads/dev");
    expect(eventSha(event)).toBe(sha);
  });

  test("any other event: repository and sender, and an action when one is given", async () => {
    const repo = await makeRepo();
    const sha = await repo.commit("first");
    const plain = await synthesizeEvent(repo.dir, "issues");
    expect(Object.keys(plain.payload).sort()).toEqual(["repository", "sender"]);
    const labeled = await synthesizeEvent(repo.dir, "issues", { inputs: { action: "labeled" } });
    expect(labeled.payload.action).toBe("labeled");
    expect(matchWorkflowTrigger({ issues: { types: ["opened"] } }, labeled).matched).toBe(false);
    expect(eventRef(plain)).toBe("refs/heads/main");
    expect(eventSha(plain)).toBe(sha);
  });
});

describe("loadEventFile", () => {
  async function eventFile(content: string): Promise<string> {
    const file = path.join(await tempDir("events"), "event.json");
    await writeFile(file, content);
    return file;
  }

  test("invalid JSON is reported with the file, line and column", async () => {
    const repo = await makeRepo();
    const file = await eventFile('{\n  "ref": "refs/heads/main",\n  "after": oops\n}\n');
    const error = await loadEventFile(file, "push", repo.dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toMatch(new RegExp(`^${file}:3:12: invalid JSON`));
    expect((error as UserError).problems).toEqual([
      expect.objectContaining({ file, line: 3, col: 12, message: expect.stringMatching(/^invalid JSON/) }),
    ]);
  });

  test.each([
    ['{"a": 1,}', 1, 9],
    ['{"a": 1', 1, 8],
    ["", 1, 1],
    ["[1, 2]\n\n  x", 3, 3],
    ['{"s": "tab\there"}', 1, 11],
  ])("JSON error position of %j is %i:%i", async (content, line, col) => {
    const file = await eventFile(content);
    await expect(loadEventFile(file, "push", await tempDir())).rejects.toMatchObject({
      problems: [{ file, line, col }],
    });
  });

  test("a payload that is not an object", async () => {
    const file = await eventFile("[1, 2]");
    await expect(loadEventFile(file, "push", await tempDir())).rejects.toThrow(
      `${file}: an event payload must be`,
    );
  });

  test("an unreadable file names the path", async () => {
    const file = path.join(await tempDir(), "nope.json");
    const attempt = loadEventFile(file, "push", await tempDir());
    await expect(attempt).rejects.toThrow(UserError);
    await expect(loadEventFile(file, "push", await tempDir())).rejects.toThrow(
      `cannot read event file ${file}`,
    );
  });

  test("a push with commits: changed files are the union of their lists", async () => {
    const repo = await makeRepo();
    const sha = await repo.commit("first");
    const payload = {
      ref: "refs/heads/main",
      before: "1".repeat(40),
      after: "2".repeat(40),
      commits: [
        { id: "a", added: ["src/new.ts"], removed: [], modified: ["README.md"] },
        { id: "b", added: [], removed: ["old.ts"], modified: ["README.md", "src/new.ts"] },
      ],
    };
    const event = await loadEventFile(await eventFile(JSON.stringify(payload)), "push", repo.dir);
    expect(event.name).toBe("push");
    expect(event.payload).toEqual(payload);
    expect(event.changedFiles?.sort()).toEqual(["README.md", "old.ts", "src/new.ts"]);
    expect(eventRef(event)).toBe("refs/heads/main");
    expect(eventSha(event)).toBe("2".repeat(40));
    expect(event.sha).toBe(sha);
  });

  test("a push without commits: git diff before..after when both exist locally", async () => {
    const repo = await makeRepo();
    await repo.write({ "a.txt": "1\n" });
    const before = await repo.commit("first");
    await repo.write({ "b.txt": "2\n", "c/d.txt": "3\n" });
    await repo.commit("second");
    await repo.write({ "a.txt": "changed\n" });
    const after = await repo.commit("third");

    const known = { ref: "refs/heads/main", before, after };
    const event = await loadEventFile(await eventFile(JSON.stringify(known)), "push", repo.dir);
    expect(event.changedFiles?.sort()).toEqual(["a.txt", "b.txt", "c/d.txt"]);

    const unknown = { ref: "refs/heads/main", before: "f".repeat(40), after, commits: [] };
    const unknownEvent = await loadEventFile(await eventFile(JSON.stringify(unknown)), "push", repo.dir);
    expect(unknownEvent.changedFiles).toBeUndefined();

    const created = { ref: "refs/heads/main", before: zeroSha, after };
    expect(
      (await loadEventFile(await eventFile(JSON.stringify(created)), "push", repo.dir)).changedFiles,
    ).toBe(undefined);
  });

  test("a pull_request: three-dot diff of base and head when both exist locally", async () => {
    const repo = await makeRepo();
    await repo.write({ "shared.txt": "1\n" });
    const base = await repo.commit("base");
    await repo.git("checkout", "-q", "-b", "topic");
    await repo.write({ "topic.txt": "t\n" });
    const head = await repo.commit("topic");
    await repo.git("checkout", "-q", "main");
    await repo.write({ "shared.txt": "2\n" });
    const mainTip = await repo.commit("main moves");

    // base.sha is the base branch tip when the PR was last updated; its later changes do not count.
    const payload = {
      action: "synchronize",
      number: 42,
      pull_request: { number: 42, base: { ref: "main", sha: mainTip }, head: { ref: "topic", sha: head } },
    };
    const event = await loadEventFile(await eventFile(JSON.stringify(payload)), "pull_request", repo.dir);
    expect(event.changedFiles).toEqual(["topic.txt"]);
    expect(eventRef(event)).toBe("refs/pull/42/merge");
    expect(eventSha(event)).toBe(head);

    const target = await loadEventFile(
      await eventFile(JSON.stringify(payload)),
      "pull_request_target",
      repo.dir,
    );
    expect(eventRef(target)).toBe("refs/heads/main");
    expect(eventSha(target)).toBe(mainTip);

    const foreign = { ...payload, pull_request: { ...payload.pull_request, head: { sha: "e".repeat(40) } } };
    const foreignEvent = await loadEventFile(
      await eventFile(JSON.stringify(foreign)),
      "pull_request",
      repo.dir,
    );
    expect(foreignEvent.changedFiles).toBeUndefined();
    expect(base).not.toBe(mainTip);
  });

  test("a pull_request between unrelated histories leaves the changes unknown", async () => {
    const repo = await makeRepo();
    const base = await repo.commit("main root");
    await repo.git("checkout", "-q", "--orphan", "other");
    const head = await repo.commit("other root");
    const payload = {
      action: "opened",
      number: 1,
      pull_request: { base: { sha: base }, head: { sha: head } },
    };
    const event = await loadEventFile(await eventFile(JSON.stringify(payload)), "pull_request", repo.dir);
    expect(event.changedFiles).toBeUndefined();
  });

  test("other events take GITHUB_REF from the payload where GitHub does, else the checkout", async () => {
    const repo = await makeRepo();
    await repo.git("checkout", "-q", "-b", "dev");
    const sha = await repo.commit("first");
    const release = { action: "published", release: { tag_name: "v2.0.0" } };
    const releaseEvent = await loadEventFile(await eventFile(JSON.stringify(release)), "release", repo.dir);
    expect(eventRef(releaseEvent)).toBe("refs/tags/v2.0.0");
    expect(eventSha(releaseEvent)).toBe(sha);
    expect(releaseEvent.changedFiles).toBeUndefined();

    const create = { ref: "v3", ref_type: "tag" };
    expect(eventRef(await loadEventFile(await eventFile(JSON.stringify(create)), "create", repo.dir))).toBe(
      "refs/tags/v3",
    );
    const issues = { action: "opened", repository: { default_branch: "main" } };
    const issuesEvent = await loadEventFile(await eventFile(JSON.stringify(issues)), "issues", repo.dir);
    expect(eventRef(issuesEvent)).toBe("refs/heads/dev");
    expect(eventRef({ name: "issues", payload: issues })).toBe("refs/heads/main");
  });
});
