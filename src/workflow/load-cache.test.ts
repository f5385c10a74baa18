// A workflow is parsed once per content in a process: the server loads the same file at the trigger, at
// the orchestration and in every leg.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { loadWorkflowFile } from "./load.js";

const base = mkdtempSync(join(tmpdir(), "slipway-wfcache-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function write(root: string, content: string): string {
  const file = join(root, ".github", "workflows", "ci.yml");
  mkdirSync(join(root, ".github", "workflows"), { recursive: true });
  writeFileSync(file, content);
  return file;
}

const yaml = (step: string) =>
  `on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ${step}\n`;

describe("loadWorkflowFile's parse cache", () => {
  it("parses the same file content once, wherever the file is, and names the caller's path", async () => {
    const a = write(join(base, "a"), yaml("echo one"));
    const b = write(join(base, "b"), yaml("echo one"));
    const first = await loadWorkflowFile(a, join(base, "a"));
    const second = await loadWorkflowFile(b, join(base, "b"));
    expect(second.jobs).toBe(first.jobs);
    expect(first.path).toBe(a);
    expect(second.path).toBe(b);
    expect(second.relPath).toBe(".github/workflows/ci.yml");
  });

  it("parses changed content again, and keeps no invalid workflow", async () => {
    const root = join(base, "c");
    const file = write(root, yaml("echo one"));
    const before = await loadWorkflowFile(file, root);
    write(root, yaml("echo two"));
    const after = await loadWorkflowFile(file, root);
    expect(after.jobs).not.toBe(before.jobs);
    write(root, "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps: 3\n");
    await expect(loadWorkflowFile(file, root)).rejects.toBeInstanceOf(UserError);
    await expect(loadWorkflowFile(file, root)).rejects.toBeInstanceOf(UserError);
  });
});
