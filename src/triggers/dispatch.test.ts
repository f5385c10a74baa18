import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { UserError } from "../lib/errors.js";
import { eventRef, eventSha, loadWorkflowFile, matchWorkflowTrigger } from "../workflow/index.js";
import { workflowDispatchEvent } from "./index.js";

const repository = {
  fullName: "acme/webapp",
  defaultBranch: "main",
  cloneUrl: "https://git.example.com/acme/webapp.git",
  htmlUrl: "https://git.example.com/acme/webapp",
};

describe("workflowDispatchEvent", () => {
  test("GitHub's payload for a manual run", () => {
    const event = workflowDispatchEvent({
      repository,
      ref: "refs/heads/release",
      inputs: { environment: "staging", dry_run: true, replicas: 3 },
      actor: "alice",
      workflow: ".github/workflows/deploy.yml",
      sha: "9f2e7d3c1b0a8e6f4d2c0b9a7e5f3d1c9b7a5e3f",
    });
    expect(event).toEqual({
      name: "workflow_dispatch",
      payload: {
        // github.event.inputs holds strings, as on GitHub.
        inputs: { environment: "staging", dry_run: "true", replicas: "3" },
        ref: "refs/heads/release",
        repository: {
          name: "webapp",
          full_name: "acme/webapp",
          owner: { login: "acme" },
          html_url: "https://git.example.com/acme/webapp",
          clone_url: "https://git.example.com/acme/webapp.git",
          default_branch: "main",
        },
        sender: { login: "alice", type: "User" },
        workflow: ".github/workflows/deploy.yml",
      },
      ref: "refs/heads/release",
      sha: "9f2e7d3c1b0a8e6f4d2c0b9a7e5f3d1c9b7a5e3f",
    });
    expect(eventRef(event)).toBe("refs/heads/release");
    expect(eventSha(event)).toBe("9f2e7d3c1b0a8e6f4d2c0b9a7e5f3d1c9b7a5e3f");
  });

  test.each([
    [undefined, "refs/heads/main"],
    ["", "refs/heads/main"],
    ["feature/x", "refs/heads/feature/x"],
    ["refs/tags/v1.2.0", "refs/tags/v1.2.0"],
  ])("ref %j → %s", (ref, expected) => {
    const event = workflowDispatchEvent({ repository, ref, actor: "alice" });
    expect(event.payload.ref).toBe(expected);
    expect(event.payload.inputs).toEqual({});
    expect(event.sha).toBeUndefined();
  });

  test("no ref and no default branch is a UserError", () => {
    expect(() => workflowDispatchEvent({ repository: { fullName: "acme/webapp" }, actor: "alice" })).toThrow(
      UserError,
    );
  });

  const dir = mkdtempSync(join(tmpdir(), "slipway-dispatch-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("triggers workflows with on: workflow_dispatch only", async () => {
    const load = async (name: string, on: string) => {
      writeFileSync(join(dir, name), `on:\n${on}\njobs:\n  a:\n    runs-on: x\n    steps: [{ run: hi }]\n`);
      return (await loadWorkflowFile(join(dir, name), dir)).events;
    };
    const event = workflowDispatchEvent({ repository, actor: "alice", inputs: { environment: "prod" } });
    const dispatch = await load(
      "d.yml",
      "  workflow_dispatch:\n    inputs:\n      environment: { type: string }",
    );
    expect(matchWorkflowTrigger(dispatch, event).matched).toBe(true);
    expect(matchWorkflowTrigger(await load("p.yml", "  push"), event).matched).toBe(false);
  });
});
