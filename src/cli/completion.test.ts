// The completion scripts are made from the whole command tree; the bash one is checked in a real bash:
// it parses (`bash -n`) and, sourced, completes subcommands, flags and file names as a user's Tab would.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { completionScript, completionTree } from "./completion.js";
import { loadFullProgram, main } from "./program.js";

let dir: string;
let bash: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "slipway-completion-"));
  // Through the command itself, as `slipway completion bash >file` makes it.
  const out: string[] = [];
  const write = vi.spyOn(process.stdout, "write").mockImplementation((s) => {
    out.push(String(s));
    return true;
  });
  try {
    expect(await main(["node", "slipway", "completion", "bash"])).toBe(0);
  } finally {
    write.mockRestore();
  }
  bash = out.join("");
  writeFileSync(join(dir, "slipway.bash"), bash);
  writeFileSync(join(dir, "workflow.yml"), "on: push\n");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What Tab offers after `line` (the last word is the one being completed), from a real bash. */
function complete(line: string): string[] {
  const words = line.split(" ");
  const script = [
    `source ${JSON.stringify(join(dir, "slipway.bash"))}`,
    `COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")})`,
    `COMP_CWORD=${words.length - 1}`,
    "_slipway",
    `printf '%s\\n' "\${COMPREPLY[@]}"`,
  ].join("\n");
  const out = execFileSync("bash", ["--norc", "--noprofile", "-c", script], { cwd: dir, encoding: "utf8" });
  return out.split("\n").filter(Boolean).sort();
}

describe("slipway completion bash", () => {
  it("is a valid bash script", () => {
    execFileSync("bash", ["-n", join(dir, "slipway.bash")]);
    expect(bash).toContain("complete -o filenames -F _slipway slipway");
  });

  it("completes top-level commands, and subcommands below them", () => {
    expect(complete("slipway dep")).toEqual(["deploy"]);
    expect(complete("slipway re")).toEqual(["registry", "reject", "release", "releases", "repo", "rerun"]);
    expect(complete("slipway secret r")).toEqual(["rm", "rotate-key"]);
    expect(complete("slipway release ")).toEqual(["next"]);
  });

  it("completes a command's flags, not its hidden old spellings", () => {
    expect(complete("slipway deploy --e")).toEqual(["--env"]);
    expect(complete("slipway deploy -E staging --se")).toEqual(["--server", "--service"]);
    expect(complete("slipway run --dr")).toEqual(["--dry-run"]);
    expect(complete("slipway deploy --to")).toEqual(["--token-file"]);
  });

  it("completes an argument's choices, and file names after a flag that takes a value", () => {
    expect(complete("slipway completion ")).toEqual(["bash", "fish", "zsh"]);
    expect(complete("slipway run -W wor")).toEqual(["workflow.yml"]);
  });
});

describe("zsh and fish", () => {
  let tree: ReturnType<typeof completionTree>;
  beforeAll(async () => {
    tree = completionTree(await loadFullProgram());
    writeFileSync(join(dir, "slipway.zsh"), completionScript("zsh", tree));
    writeFileSync(join(dir, "slipway.fish"), completionScript("fish", tree));
  });

  it("zsh: a valid script whose walker, under bashcompinit's 1-based arrays, finds the command path", () => {
    execFileSync("zsh", ["-n", join(dir, "slipway.zsh")]);
    // As bashcompinit calls it: COMP_WORDS a zsh array, COMP_CWORD counted from 0. zsh itself then keeps
    // the words that start with what was typed.
    const out = execFileSync(
      "zsh",
      [
        "-f",
        "-c",
        `source ${JSON.stringify(join(dir, "slipway.zsh"))}; COMP_WORDS=(slipway secret r); COMP_CWORD=2; _slipway; print -l -- $COMPREPLY`,
      ],
      { encoding: "utf8" },
    );
    expect(out.split("\n").filter(Boolean).sort()).toEqual(["audit", "list", "rm", "rotate-key", "set"]);
  });

  it("fish: a valid script that completes commands with their descriptions, flags and choices", () => {
    execFileSync("fish", ["-n", join(dir, "slipway.fish")]);
    const fish = (line: string) =>
      execFileSync(
        "fish",
        ["-c", `source ${JSON.stringify(join(dir, "slipway.fish"))}; complete -C ${JSON.stringify(line)}`],
        {
          encoding: "utf8",
        },
      )
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split("\t")[0])
        .sort();
    expect(fish("slipway dep")).toEqual(["deploy"]);
    expect(fish("slipway secret r")).toEqual(["rm", "rotate-key"]);
    expect(fish("slipway deploy -E x --ser")).toEqual(["--server", "--service"]);
    expect(fish("slipway completion ")).toEqual(["bash", "fish", "zsh"]);
    expect(fish("slipway run --dry")).toEqual(["--dry-run"]);
  });

  it("refuses an unknown shell as a usage error", async () => {
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(await main(["node", "slipway", "completion", "tcsh"])).toBe(2);
    } finally {
      err.mockRestore();
    }
  });
});
