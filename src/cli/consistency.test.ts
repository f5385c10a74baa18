// The CLI's consistency rules (docs/cli.md), checked on the whole command tree as users get it (every
// group loaded, finished as main() finishes it), so a command added in any group is held to them too:
// one meaning per short flag, `-n, --dry-run` for every dry run, `--yes` on destructive commands, `--json`
// on every command with output a script would read, no token or secret value on the command line, and
// one style of help text. Each rule is also run on a small program that breaks it, to show it can fail.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Command, Option } from "@commander-js/extra-typings";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { aliasOf, aliasOption, setNoticeSink } from "./flags.js";
import { finishProgram, loadFullProgram } from "./program.js";

type Cmd = Command & { _hidden?: boolean; _actionHandler?: unknown };
type Node = { path: string; cmd: Cmd };

function nodesOf(program: Command): Node[] {
  const out: Node[] = [];
  const visit = (cmd: Cmd, path: string) => {
    out.push({ path, cmd });
    for (const c of cmd.commands as Cmd[]) visit(c, path ? `${path} ${c.name()}` : c.name());
  };
  visit(program as Cmd, "");
  return out;
}

/** Options users type, not the old spellings kept for a release (those are checked apart). */
const realOptions = (cmd: Cmd) => cmd.options.filter((o) => !aliasOf(o));

/** Each short flag stands for one long flag, and a long flag with a short one has it everywhere. */
function shortFlagRule(nodes: Node[]): string[] {
  const longsOf = new Map<string, Map<string, string[]>>();
  const shortsOf = new Map<string, Map<string, string[]>>();
  for (const { path, cmd } of nodes) {
    for (const o of realOptions(cmd)) {
      if (!o.long) continue;
      const add = (m: Map<string, Map<string, string[]>>, k: string, v: string) => {
        const inner = m.get(k) ?? new Map<string, string[]>();
        inner.set(v, [...(inner.get(v) ?? []), path || "slipway"]);
        m.set(k, inner);
      };
      if (o.short) add(longsOf, o.short, o.long);
      // The root's -V, --version is slipway's; a command's --version is a release's, without a short.
      if (path) add(shortsOf, o.long, o.short ?? "(none)");
    }
  }
  const bad: string[] = [];
  const describe = (m: Map<string, string[]>) =>
    [...m].map(([v, where]) => `${v} (${where.slice(0, 3).join(", ")})`).join(" vs ");
  for (const [short, longs] of longsOf) if (longs.size > 1) bad.push(`${short} means ${describe(longs)}`);
  for (const [long, shorts] of shortsOf)
    if (shorts.size > 1) bad.push(`${long} is spelled ${describe(shorts)}`);
  return bad;
}

/** A dry run is `-n, --dry-run` (with act's --dryrun); prune commands have one. */
function dryRunRule(nodes: Node[]): string[] {
  const bad: string[] = [];
  for (const { path, cmd } of nodes) {
    const opts = realOptions(cmd);
    for (const o of opts)
      if (/dry-?run/i.test(o.long ?? "") && (o.long !== "--dry-run" || o.short !== "-n"))
        bad.push(`${path}: ${o.flags} (a dry run is -n, --dry-run)`);
    const has = opts.some((o) => o.long === "--dry-run");
    if (has && !cmd.options.some((o) => o.long === "--dryrun" && aliasOf(o)?.target === "--dry-run"))
      bad.push(`${path}: --dry-run without act's --dryrun`);
    if (cmd.name() === "prune" && !has) bad.push(`${path}: prunes without --dry-run`);
  }
  return bad;
}

const destructive = /^(rm|remove|delete|prune|revoke|down|destroy|purge|reset)$/;

/** Commands that delete or stop ask first, and take -y, --yes for scripts. */
function yesRule(nodes: Node[]): string[] {
  return nodes
    .filter(({ path, cmd }) => path && destructive.test(cmd.name()))
    .filter(({ cmd }) => !realOptions(cmd).some((o) => o.long === "--yes" && o.short === "-y"))
    .map(({ path }) => `${path}: destructive without -y, --yes`);
}

/** Commands that print no document a script would read, and why. */
const withoutJson: Record<string, string> = {
  serve: "a server: its output is its log",
  runner: "a daemon: its output is its log",
  "deploy agent": "internal: started by slipway deploy, speaks on its socket",
  "deploy import-compose": "prints YAML for slipway.yaml",
  "config schema": "prints JSON already (the JSON Schema)",
  completion: "prints a shell script",
};

/** Every command that runs has --json, unless listed above. */
function jsonRule(nodes: Node[], exempt = withoutJson): string[] {
  return nodes
    .filter(({ path, cmd }) => path && cmd._actionHandler && !(path in exempt))
    .filter(({ cmd }) => !cmd.options.some((o) => o.long === "--json"))
    .map(({ path }) => `${path}: no --json`);
}

const secretish = /token|secret|password|passphrase|api-?key|credential/i;
const notAValue = /^(file|dir|path|name|NAME)$/;

/**
 * No visible flag or argument takes a token or secret's value (only a file, a name of an environment
 * variable, or stdin); the hidden --token (kept for scripts) warns when used, token-flags.ts.
 */
function secretRule(nodes: Node[]): string[] {
  const bad: string[] = [];
  for (const { path, cmd } of nodes) {
    for (const o of cmd.options) {
      if (!secretish.test(o.long ?? "") || !(o.required || o.optional)) continue;
      const value = o.flags.match(/[<[]([^>\]]+)[>\]]/)?.[1] ?? "";
      if (o.hidden && o.long === "--token") continue;
      if (!notAValue.test(value)) bad.push(`${path}: ${o.flags} takes a secret on the command line`);
    }
    for (const a of cmd.registeredArguments)
      if (secretish.test(a.name()) || /^value$/i.test(a.name()))
        bad.push(`${path}: argument <${a.name()}> takes a secret on the command line`);
  }
  return bad;
}

/** Help texts start lowercase (an acronym or a name like GitHub may lead) and end without a period. */
function styleRule(nodes: Node[]): string[] {
  const bad: string[] = [];
  const check = (where: string, text: string) => {
    if (!text) bad.push(`${where}: no help text`);
    else if (/^[A-Z][a-z]+\b/.test(text) && !/^[A-Z][a-z]+[A-Z]/.test(text))
      bad.push(`${where}: starts with a capital: ${JSON.stringify(text)}`);
    else if (/\.$/.test(text) && !/\.\.\.$|…$/.test(text)) bad.push(`${where}: ends with a period`);
  };
  for (const { path, cmd } of nodes) {
    if (cmd._hidden) continue;
    if (path) check(path, cmd.description());
    for (const o of cmd.options) if (!o.hidden) check(`${path || "slipway"} ${o.flags}`, o.description);
  }
  return bad;
}

const rules = { shortFlagRule, dryRunRule, yesRule, jsonRule, secretRule, styleRule };

describe("every command of slipway", () => {
  let nodes: Node[];
  beforeAll(async () => {
    nodes = nodesOf(await loadFullProgram());
  });

  it("is the whole tree: every group loaded, subcommands too", () => {
    const paths = nodes.map((n) => n.path);
    for (const p of ["run", "deploy", "release next", "secret rm", "runner rm", "completion", "version"])
      expect(paths).toContain(p);
  });

  for (const [name, rule] of Object.entries(rules))
    it(`keeps ${name}`, () => {
      expect(rule(nodes)).toEqual([]);
    });

  it("has the short flags docs/cli.md's table lists, each with its long flag", () => {
    const doc = readFileSync(resolve(import.meta.dirname, "../../docs/cli.md"), "utf8");
    const documented = [...doc.matchAll(/^\| `(-[A-Za-z])` \| `(--[a-z-]+)` \|/gm)]
      .map((m) => `${m[1]} ${m[2]}`)
      .filter((f) => f !== "-h --help");
    const used = new Set<string>();
    for (const { cmd } of nodes)
      for (const o of realOptions(cmd)) if (o.short) used.add(`${o.short} ${o.long}`);
    expect([...used].sort()).toEqual(documented.sort());
  });

  it("lists in withoutJson only commands that exist", () => {
    const paths = new Set(nodes.map((n) => n.path));
    expect(Object.keys(withoutJson).filter((p) => !paths.has(p))).toEqual([]);
  });
});

describe("each rule catches what breaks it", () => {
  const broken = () => {
    const p = new Command("slipway");
    p.command("deploy")
      .option("-e, --env <name>", "the environment")
      .option("--dryrun", "plan only")
      .option("--token <token>", "an API token")
      .option("--json", "JSON output")
      .action(() => {});
    p.command("run")
      .option("-e, --eventpath <file>", "an event")
      .option("-n, --dry-run", "plan only")
      .option("--json", "JSON output")
      .action(() => {});
    const images = p.command("images");
    images
      .command("prune")
      .option("--json", "JSON output")
      .description("prune images.")
      .action(() => {});
    p.command("logs")
      .description("Show logs")
      .argument("<password>")
      .action(() => {});
    return nodesOf(p as unknown as Command);
  };

  it("fails on each broken rule, naming the command and the flag", () => {
    const nodes = broken();
    expect(shortFlagRule(nodes)).toEqual(["-e means --env (deploy) vs --eventpath (run)"]);
    expect(dryRunRule(nodes)).toEqual([
      "deploy: --dryrun (a dry run is -n, --dry-run)",
      "run: --dry-run without act's --dryrun",
      "images prune: prunes without --dry-run",
    ]);
    expect(yesRule(nodes)).toEqual(["images prune: destructive without -y, --yes"]);
    expect(jsonRule(nodes, {})).toEqual(["logs: no --json"]);
    expect(secretRule(nodes)).toEqual([
      "deploy: --token <token> takes a secret on the command line",
      "logs: argument <password> takes a secret on the command line",
    ]);
    expect(styleRule(nodes)).toEqual([
      "deploy: no help text",
      "run: no help text",
      "images: no help text",
      "images prune: ends with a period",
      'logs: starts with a capital: "Show logs"',
    ]);
  });
});

describe("old spellings", () => {
  const notices: string[] = [];
  afterEach(() => {
    notices.length = 0;
    setNoticeSink((l) => process.stderr.write(l));
  });

  /** Parses argv with the real tree, every action replaced by one that keeps what it was given. */
  async function parse(...args: string[]) {
    setNoticeSink((l) => notices.push(l));
    const program = await loadFullProgram();
    let seen: Record<string, unknown> | undefined;
    for (const { cmd } of nodesOf(program))
      if (cmd._actionHandler)
        cmd.action((...a: unknown[]) => {
          seen = (a.at(-1) as Command).opts();
        });
    program.exitOverride();
    await program.parseAsync(["node", "slipway", ...args]);
    return seen ?? {};
  }

  it("are accepted for one release, land where the new flag's value does, and say so once on stderr", async () => {
    const flags = await parse("deploy", "-e", "staging", "-s", "api", "-s", "web", "--dryrun");
    expect(flags).toMatchObject({ env: "staging", service: ["api", "web"], dryRun: true });
    expect(notices).toEqual([
      "slipway: deprecated: -e is now -E/--env (-e is --eventpath, as in `slipway run`); -e goes in the next release\n",
      "slipway: deprecated: -s is now --service (-s is --secret, as in `slipway run`); -s goes in the next release\n",
    ]);
  });

  it("keeps act's --dryrun without a notice, and -n for a limit with one", async () => {
    expect(await parse("run", "--dryrun")).toMatchObject({ dryRun: true });
    expect(notices).toEqual([]);
    expect(await parse("releases", "-n", "5")).toMatchObject({ limit: "5" });
    expect(notices).toEqual([
      "slipway: deprecated: -n is now -L/--limit (-n is --dry-run everywhere); -n goes in the next release\n",
    ]);
  });

  it("runs `version next` as `release next`, saying it moved", async () => {
    expect(await parse("version", "next", "--template", "v{version}")).toMatchObject({
      template: "v{version}",
    });
    expect(notices).toEqual([
      "slipway: deprecated: `slipway version next` is now `slipway release next`; the old name goes in the next release\n",
    ]);
  });

  it("hides them from help", async () => {
    const program = await loadFullProgram();
    const deploy = program.commands.find((c) => c.name() === "deploy")!;
    expect(deploy.helpInformation()).not.toMatch(/--dryrun|\n {2}-e |\n {2}-s |--token /);
  });

  it("an alias of a flag that does not exist is a bug caught at once", () => {
    const c = new Command("x").addOption(new Option("--json"));
    expect(() => aliasOption(c, "-j", "--jason")).toThrow("x has no --jason");
    expect(() => finishProgram(new Command("y") as unknown as Command)).not.toThrow();
  });
});
