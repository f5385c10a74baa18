// `slipway --help` is answered from the table in commands.ts without loading the command groups: the table
// must say what the groups register, and the help must read as it does with every group loaded.
import { Help } from "@commander-js/extra-typings";
import { describe, expect, it, vi } from "vitest";
import { slipwayVersion } from "../lib/version.js";
import { type CommandGroup, commandGroups, topLevelCommands } from "./commands.js";
import { createProgram, finishProgram, groupFor, listCommands, loadFullProgram, main } from "./program.js";

const groups = Object.keys(commandGroups) as CommandGroup[];

describe("the table of top-level commands", () => {
  it("lists, in order, what each group registers: name, options, arguments and description", async () => {
    const help = new Help();
    const registered = [];
    for (const group of groups) {
      const program = createProgram();
      (await commandGroups[group]())(program);
      for (const c of program.commands)
        registered.push({
          name: c.name(),
          group,
          term: help.subcommandTerm(c),
          description: c.description(),
        });
    }
    expect(topLevelCommands).toEqual(registered);
  });

  it("gives the same --help as the program with every group loaded", async () => {
    const full = await loadFullProgram();
    const listed = createProgram();
    listCommands(listed);
    finishProgram(listed);
    const help = (p: typeof full) => {
      let text = "";
      p.configureOutput({
        writeOut: (s) => {
          text += s;
        },
      });
      p.outputHelp();
      return text;
    };
    expect(help(listed)).toBe(help(full));
    expect(help(listed)).toContain("approve [options] <run>");
    // Grouped by purpose, with the exit codes.
    expect(help(listed)).toMatch(
      /Run workflows:\n {2}run [\s\S]*Deploy:\n {2}deploy [\s\S]*Exit codes:\n {2}0 /,
    );
    expect(help(listed)).toContain("130  interrupted");
  });
});

describe("groupFor", () => {
  const argv = (...args: string[]) => ["node", "slipway", ...args];

  it("loads no group for the version, help, no command or an unknown one", () => {
    for (const args of [
      ["--version"],
      ["-V"],
      ["--help"],
      ["-h"],
      [],
      ["help"],
      ["deplyo"],
      ["help", "nope"],
    ])
      expect([args, groupFor(argv(...args))]).toEqual([args, undefined]);
  });

  it("loads the group of the command run, or asked help for", () => {
    expect(groupFor(argv("run", "push", "-W", "ci.yml"))).toBe("run");
    expect(groupFor(argv("runs", "list", "--json"))).toBe("ci");
    expect(groupFor(argv("approve", "12"))).toBe("ci");
    expect(groupFor(argv("runner", "ls"))).toBe("serve");
    expect(groupFor(argv("help", "rollback"))).toBe("deploy");
    expect(groupFor(argv("--help", "secret"))).toBe("secret");
  });
});

it("the version is package.json's", async () => {
  const { default: pkg } = await import("../../package.json", { with: { type: "json" } });
  expect(slipwayVersion).toBe(pkg.version);
});

it("--no-color, before or after the command, reaches the one colour decision", async () => {
  const { colorEnabled, setColorFlag } = await import("./tty.js");
  const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  try {
    for (const argv of [
      ["--no-color", "version"],
      ["version", "--no-color"],
    ]) {
      setColorFlag(undefined);
      expect(await main(["node", "slipway", ...argv])).toBe(0);
      expect(colorEnabled({ stream: { isTTY: true }, env: {} })).toBe(false);
    }
    setColorFlag(undefined);
    expect(await main(["node", "slipway", "version"])).toBe(0);
    expect(colorEnabled({ stream: { isTTY: true }, env: {} })).toBe(true);
  } finally {
    out.mockRestore();
    setColorFlag(undefined);
  }
});

describe("a password on the command line", () => {
  it("is warned about, without being repeated, when --database carries one; not otherwise", async () => {
    const run = async (argv: string[]) => {
      let err = "";
      const spy = vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
        err += String(s);
        return true;
      });
      try {
        // Nothing listens on port 1: the command fails after the hook has run, without touching a database.
        await main(["node", "slipway", ...argv]);
      } finally {
        spy.mockRestore();
        process.exitCode = undefined;
      }
      return err;
    };
    const withPassword = await run([
      "secret",
      "list",
      "--database",
      "postgres://ci:hunter2-secret@127.0.0.1:1/none",
    ]);
    expect(withPassword).toContain("the password in --database is visible to other local users");
    expect(withPassword).not.toContain("hunter2-secret");
    const without = await run(["secret", "list", "--database", "postgres://ci@127.0.0.1:1/none"]);
    expect(without).not.toContain("--database is visible");
  }, 30_000);
});
