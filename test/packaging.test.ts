// What ships for operators: the systemd units in packaging/systemd and docs/server.md. The units must
// keep their security settings, start commands and flags that exist, and pass `systemd-analyze verify`
// where it is installed; the page must name every SLIPWAY_* variable the code reads.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { describe, expect, it } from "vitest";
import { type CommandGroup, commandGroups } from "../src/cli/commands.js";
import { createProgram } from "../src/cli/program.js";

const root = resolve(import.meta.dirname, "..");
const unitDir = join(root, "packaging", "systemd");
const units = readdirSync(unitDir).filter((f) => f.endsWith(".service"));

type Unit = Record<string, Record<string, string[]>>;

/** A unit file's sections and keys (a key may repeat); comments and blank lines dropped. */
function parseUnit(text: string): Unit {
  const unit: Unit = {};
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header?.[1]) {
      section = header[1];
      unit[section] ??= {};
      continue;
    }
    const eq = line.indexOf("=");
    expect(eq, `not key=value: ${line}`).toBeGreaterThan(0);
    unit[section] ??= {};
    const values = unit[section];
    const key = line.slice(0, eq).trim();
    values[key] = [...(values[key] ?? []), line.slice(eq + 1).trim()];
  }
  return unit;
}

const service = (name: string) => parseUnit(readFileSync(join(unitDir, name), "utf8")).Service ?? {};
const one = (s: Record<string, string[]>, key: string) => s[key]?.at(-1);

/**
 * The argv slipway receives from a unit's ExecStart, for the instance `shop:production`: systemd's
 * `$$` and `%i` expanded, and a `/bin/sh -c` wrapper run for real with slipway replaced by printf.
 */
function slipwayArgv(s: Record<string, string[]>): string[] {
  const exec = one(s, "ExecStart") ?? "";
  const expanded = exec.replaceAll("$$", "$").replaceAll("%i", "shop:production");
  if (expanded.startsWith("/usr/bin/slipway ")) return expanded.split(/\s+/).slice(1);
  const sh = /^\/bin\/sh -c '(.*)' (\S+) (\S+)$/.exec(expanded);
  expect(sh, `ExecStart is neither slipway nor /bin/sh -c '…': ${exec}`).not.toBeNull();
  const [, script = "", arg0 = "", arg1 = ""] = sh ?? [];
  expect(script).toContain("exec /usr/bin/slipway ");
  const printing = script.replace("exec /usr/bin/slipway ", "exec printf '%s\\n' ");
  const out = execFileSync("/bin/sh", ["-c", printing, arg0, arg1], {
    env: { PATH: process.env.PATH, SLIPWAY_DATA_DIR: "/var/lib/slipway" },
    encoding: "utf8",
  });
  return out.trimEnd().split("\n");
}

let loaded: Promise<Command> | undefined;
const fullProgram = (): Promise<Command> => {
  loaded ??= loadProgram();
  return loaded;
};

async function loadProgram(): Promise<Command> {
  const program = createProgram();
  for (const group of Object.keys(commandGroups) as CommandGroup[])
    (await commandGroups[group]())(program as never);
  return program as unknown as Command;
}

describe("the systemd units", () => {
  it("ship: slipway, the runner and the per-environment deploy agent", () => {
    expect(units.sort()).toEqual(["slipway-runner.service", "slipway-up@.service", "slipway.service"]);
  });

  it.each(units)("%s: a state directory, a private umask, a restart policy, no secrets on argv", (name) => {
    const s = service(name);
    expect(one(s, "UMask")).toBe("0077");
    expect(one(s, "StateDirectory")).toBeTruthy();
    expect(one(s, "StateDirectoryMode")).toBe("0700");
    expect(
      s.Environment?.some((e) => e.startsWith(`SLIPWAY_DATA_DIR=/var/lib/${one(s, "StateDirectory")}`)),
    ).toBe(true);
    expect(one(s, "Restart")).toMatch(/^(on-failure|always)$/);
    expect(one(s, "PrivateTmp")).toBe("yes");
    expect(one(s, "ExecStart")).not.toMatch(/--token|--database|SLIPWAY_MASTER_KEY|postgres:\/\//);
  });

  it.each(units.filter((n) => n !== "slipway-runner.service"))(
    "%s: a dedicated user and the full hardening",
    (name) => {
      const s = service(name);
      expect(one(s, "User")).toBe("slipway");
      expect(one(s, "NoNewPrivileges")).toBe("yes");
      expect(one(s, "ProtectSystem")).toBe("strict");
      expect(one(s, "ReadWritePaths")?.split(/\s+/)).toContain("/var/lib/slipway");
      expect(one(s, "ProtectHome")).toBe("yes");
    },
  );

  it("the runner runs as root, so that fork legs can run as nobody, and reads its token from a file", () => {
    const s = service("slipway-runner.service");
    // Switching a fork's leg to --untrusted-user needs root (runner/isolation.ts).
    expect(s.User).toBeUndefined();
    expect(s.NoNewPrivileges).toBeUndefined();
    expect(one(s, "EnvironmentFile")).toBe("/etc/slipway/runner.env");
    expect(readFileSync(join(unitDir, "slipway-runner.service"), "utf8")).toContain("SLIPWAY_RUNNER_TOKEN=");
  });

  it("the deploy agent unit splits APP:ENV and keeps the agent up when idle", () => {
    const s = service("slipway-up@.service");
    expect(slipwayArgv(s)).toEqual([
      "deploy",
      "agent",
      "--app",
      "shop",
      "--env",
      "production",
      "--data-dir",
      "/var/lib/slipway/server",
    ]);
    expect(s.Environment).toContain("SLIPWAY_AGENT_IDLE_TIMEOUT=0");
  });

  it.each(units)("%s: ExecStart names a slipway command and options that exist", async (name) => {
    const argv = slipwayArgv(service(name));
    let cmd = await fullProgram();
    const words = argv.slice(0, argv.findIndex((a) => a.startsWith("-")) >>> 0);
    for (const word of words) {
      const sub = cmd.commands.find((c) => c.name() === word);
      expect(sub, `no command '${words.join(" ")}'`).toBeDefined();
      cmd = sub as Command;
    }
    expect(words.length).toBeGreaterThan(0);
    const known = new Set(cmd.options.flatMap((o) => [o.long, o.short].filter(Boolean)));
    for (const flag of argv.filter((a) => a.startsWith("-")))
      expect(known, `slipway ${words.join(" ")} has no ${flag}`).toContain(flag);
  });

  const analyze = spawnSync("systemd-analyze", ["--version"]).status === 0;
  it.runIf(analyze)("pass systemd-analyze verify", () => {
    const dir = mkdtempSync(join(tmpdir(), "slipway-units-"));
    try {
      // verify checks that ExecStart's program exists: point it at this checkout's bin.
      for (const name of units)
        writeFileSync(
          join(dir, name),
          readFileSync(join(unitDir, name), "utf8").replaceAll(
            "/usr/bin/slipway",
            join(root, "bin", "slipway.js"),
          ),
        );
      // An instance of the template (without ':', which systemd-analyze's [Install] check trips on).
      copyFileSync(join(dir, "slipway-up@.service"), join(dir, "slipway-up@shop.service"));
      const files = units.filter((n) => !n.endsWith("@.service")).concat("slipway-up@shop.service");
      // --root=/ : without it, systemd 252 in a container fails on [Install] ("Couldn't process aliases").
      const r = spawnSync("systemd-analyze", ["verify", "--man=no", "--root=/", ...files], {
        cwd: dir,
        encoding: "utf8",
      });
      expect(`${r.stdout}${r.stderr}`.trim()).toBe("");
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("docs/server.md", () => {
  /** Every SLIPWAY_* name in src/ (tests and test data aside); a trailing `_` is a prefix (`SLIPWAY_IMAGE_<NAME>`). */
  function namesInSrc(dir = join(root, "src")): Set<string> {
    const names = new Set<string>();
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "testdata") for (const n of namesInSrc(path)) names.add(n);
      } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) {
        for (const m of readFileSync(path, "utf8").matchAll(/SLIPWAY_[A-Z0-9_]+/g)) names.add(m[0]);
      }
    }
    return names;
  }

  it("documents every SLIPWAY_* variable the code reads or sets", () => {
    const page = readFileSync(join(root, "docs", "server.md"), "utf8");
    const names = [...namesInSrc()];
    expect(names.length).toBeGreaterThan(30);
    const missing = names.filter((n) =>
      n.endsWith("_") ? !page.includes(`${n}<`) : !new RegExp(`\\b${n}\\b`).test(page),
    );
    expect(missing).toEqual([]);
  });
});
