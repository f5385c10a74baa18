import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { listWorkflowFiles, loadWorkflowFile, loadWorkflows } from "./load.js";
import { evaluateMapping, evaluateToken, tokenToJson } from "./template.js";

const repo = mkdtempSync(join(tmpdir(), "slipway-load-"));
mkdirSync(join(repo, ".github", "workflows"), { recursive: true });
afterAll(() => rmSync(repo, { recursive: true, force: true }));

function write(name: string, content: string): string {
  const p = join(repo, ".github", "workflows", name);
  writeFileSync(p, content);
  return p;
}

async function problemsOf(content: string): Promise<string[]> {
  const p = write("wf.yml", content);
  try {
    await loadWorkflowFile(p, repo);
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return (err as UserError).problems.map((x) => `${x.file}:${x.line}:${x.col}: ${x.message}`);
  }
  return [];
}

describe("loadWorkflowFile", () => {
  it("loads jobs, steps and the fields the converter drops", async () => {
    const p = write(
      "ok.yml",
      `name: CI
on: push
defaults:
  run:
    shell: bash
jobs:
  build:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    continue-on-error: true
    steps:
      - id: one
        run: echo hi
        shell: sh
        working-directory: sub
        timeout-minutes: 0.5
      - uses: actions/cache@v4
        with:
          key: k
  call:
    needs: build
    uses: ./.github/workflows/other.yml
    with: { a: 1 }
    secrets: inherit
`,
    );
    const wf = await loadWorkflowFile(p, repo);
    expect(wf.name).toBe("CI");
    expect(wf.relPath).toBe(".github/workflows/ok.yml");
    const [build, call] = wf.jobs;
    expect(build.timeoutMinutes).toBeDefined();
    expect(build.continueOnError).toBeDefined();
    expect(build.steps.map((s) => [s.id, s.explicitId])).toEqual([
      ["one", true],
      ["__actions_cache", false],
    ]);
    expect(build.steps[0].shell).toBeDefined();
    expect(build.steps[0].workingDirectory).toBeDefined();
    expect(build.steps[0].timeoutMinutes).toBeDefined();
    expect(tokenToJson(build.steps[1].with!)).toEqual({ key: "k" });
    expect(call.uses).toBe("./.github/workflows/other.yml");
    expect(call.needs).toEqual(["build"]);
    expect(call.inheritSecrets).toBe(true);
  });

  it("reports each problem with file:line:col", async () => {
    expect(
      await problemsOf(
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo ${{ foo.bar }}\n",
      ),
    ).toEqual([".github/workflows/wf.yml:6:19: Unrecognized named-value: 'foo'"]);
    const cyc = await problemsOf(
      "on: push\njobs:\n  a:\n    needs: b\n    runs-on: x\n    steps: [{run: x}]\n  b:\n    needs: a\n    runs-on: x\n    steps: [{run: x}]\n",
    );
    expect(cyc.join("\n")).toMatch(/:\d+:\d+: .*cycle/);
    const unknown = await problemsOf(
      "on: push\njobs:\n  a:\n    needs: nope\n    runs-on: x\n    steps: [{run: x}]\n",
    );
    expect(unknown).toEqual([".github/workflows/wf.yml:4:12: Job 'a' depends on unknown job 'nope'."]);
    const dup = await problemsOf(
      "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - id: s\n        run: x\n      - id: s\n        run: y\n",
    );
    expect(dup.join("\n")).toMatch(/wf\.yml:8:\d+: .*s/);
    const yaml = await problemsOf("on: push\njobs:\n  a: [\n");
    expect(yaml.length).toBeGreaterThan(0);
    expect(yaml[0]).toMatch(/^\.github\/workflows\/wf\.yml:\d+:\d+: /);
  });

  it("keeps a whole expression where the schema allows one, for the runner to evaluate", async () => {
    const p = write(
      "whole.yml",
      `on: push
jobs:
  a:
    runs-on: x
    strategy:
      matrix:
        env: [{ A: "1" }]
    env: \${{ fromJSON('{"J":"j"}') }}
    services: \${{ fromJSON('{}') }}
    container: \${{ fromJSON('{"image":"busybox"}') }}
    steps:
      - env: \${{ matrix.env }}
        run: echo one
      - uses: ./act
        with: \${{ fromJSON('{"k":"v"}') }}
`,
    );
    const wf = await loadWorkflowFile(p, repo);
    const [job] = wf.jobs;
    const contexts = { matrix: { env: { A: "1" } } };
    expect(job.steps.map((s) => s.id)).toEqual(["__run", "__self"]);
    expect(evaluateMapping(job.env!, { contexts }, "env")).toEqual({ J: "j" });
    expect(evaluateMapping(job.services!, { contexts }, "services")).toEqual({});
    expect(evaluateToken(job.container!, { contexts })).toEqual({ image: "busybox" });
    expect(evaluateMapping(job.steps[0].env!, { contexts }, "env")).toEqual({ A: "1" });
    expect(evaluateMapping(job.steps[1].with!, { contexts }, "with")).toEqual({ k: "v" });
    expect(() => evaluateMapping(job.steps[0].env!, { contexts: { matrix: { env: "A=1" } } }, "env")).toThrow(
      '.github/workflows/whole.yml:12:14: env must be a mapping, but the expression gave "A=1"',
    );
  });

  it("reads CRLF files as LF, and a block scalar holding one expression as that expression", async () => {
    const p = write(
      "crlf.yml",
      [
        "on: push",
        "jobs:",
        "  a:",
        "    runs-on: x",
        "    strategy:",
        "      matrix: |",
        "        ${{ fromJSON('{",
        '          "n": [1, 2]',
        "        }') }}",
        "    steps:",
        "      - run: |",
        "          echo ${{ matrix.n }}",
        "          echo done",
        "",
      ].join("\r\n"),
    );
    const wf = await loadWorkflowFile(p, repo);
    const [job] = wf.jobs;
    const contexts = { matrix: { n: 1 } };
    expect(evaluateToken(job.strategy!, { contexts })).toEqual({ matrix: { n: [1, 2] } });
    expect(evaluateToken(job.steps[0].run!, { contexts })).toBe("echo 1\necho done\n");
  });

  it("collects the problems of every file", async () => {
    const a = write("a.yml", "on: push\njobs:\n  a:\n    runs-on: x\n    bogus: 1\n    steps: [{run: x}]\n");
    const b = write(
      "b.yml",
      "on: push\njobs:\n  b:\n    runs-on: x\n    steps: [{run: '${{ github.sha ) }}'}]\n",
    );
    await expect(loadWorkflows(repo, [a, b])).rejects.toSatisfy((e: unknown) => {
      const files = (e as UserError).problems.map((p) => p.file);
      return files.includes(".github/workflows/a.yml") && files.includes(".github/workflows/b.yml");
    });
  });
});

describe("listWorkflowFiles", () => {
  it("lists yml and yaml files, or the one file given", () => {
    write("z.yaml", "on: push\n");
    writeFileSync(join(repo, ".github", "workflows", "README.md"), "x");
    const files = listWorkflowFiles(repo).map((f) => f.split("/").pop());
    expect(files).toContain("z.yaml");
    expect(files).not.toContain("README.md");
    expect(listWorkflowFiles(repo, ".github/workflows/z.yaml")).toHaveLength(1);
    expect(() => listWorkflowFiles(repo, "missing.yml")).toThrow(UserError);
  });
});
