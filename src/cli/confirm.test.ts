// The confirmation of destructive commands, with the terminal simulated by injected streams.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { exitCodeFor, UserError } from "../lib/errors.js";
import { confirm } from "./confirm.js";
import { readTokenFile, resolveTokenFlags } from "./token-flags.js";

function terminal(opts: { stdinTty?: boolean; stderrTty?: boolean; env?: NodeJS.ProcessEnv } = {}) {
  const stdin = Object.assign(new PassThrough(), { isTTY: opts.stdinTty ?? true });
  const stderr = Object.assign(new PassThrough(), { isTTY: opts.stderrTty ?? true });
  let written = "";
  stderr.on("data", (d) => {
    written += String(d);
  });
  return { io: { stdin, stderr, env: opts.env ?? {} }, stdin, written: () => written };
}

const question = "Remove secret DEPLOY_KEY (repo acme/api)?";

describe("confirm", () => {
  it("asks on stderr and goes on after y or yes", async () => {
    for (const answer of ["y\n", "yes\n", "Y\n"]) {
      const t = terminal();
      const done = confirm(question, {}, t.io);
      t.stdin.write(answer);
      await expect(done).resolves.toBeUndefined();
      expect(t.written()).toBe("Remove secret DEPLOY_KEY (repo acme/api)? [y/N] ");
    }
  });

  it("stops (exit 1) on anything else, an empty line or the end of input", async () => {
    for (const answer of ["\n", "n\n", "nope\n", null]) {
      const t = terminal();
      const done = confirm(question, {}, t.io);
      if (answer === null) t.stdin.end();
      else t.stdin.write(answer);
      const err = await done.catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/not confirmed; nothing was changed/);
      expect(exitCodeFor(err)).toBe(1);
    }
  });

  it("refuses (exit 2) without asking when nobody can answer: no terminal, CI, --json", async () => {
    for (const [t, flags] of [
      [terminal({ stdinTty: false }), {}],
      [terminal({ stderrTty: false }), {}],
      [terminal({ env: { CI: "true" } }), {}],
      [terminal(), { json: true }],
    ] as const) {
      const err = await confirm(question, flags, t.io).catch((e: Error) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toBe(
        "Remove secret DEPLOY_KEY (repo acme/api): pass --yes to confirm (not asking: no terminal); nothing was changed",
      );
      expect(exitCodeFor(err)).toBe(2);
      expect(t.written()).toBe("");
    }
  });

  it("goes on without asking with --yes, terminal or not", async () => {
    for (const t of [terminal(), terminal({ stdinTty: false, env: { CI: "1" } })]) {
      await expect(confirm(question, { yes: true, json: true }, t.io)).resolves.toBeUndefined();
      expect(t.written()).toBe("");
    }
  });
});

describe("--token-file and --token", () => {
  const dir = mkdtempSync(join(tmpdir(), "slipway-token-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string, mode: number) => {
    const p = join(dir, name);
    writeFileSync(p, content);
    chmodSync(p, mode);
    return p;
  };

  it("reads the token, without one trailing newline", () => {
    expect(readTokenFile(file("a", "slw_abc\n", 0o600))).toBe("slw_abc");
    expect(readTokenFile(file("b", "slw_abc", 0o400))).toBe("slw_abc");
    expect(readTokenFile(file("c", "slw_abc\r\n", 0o600))).toBe("slw_abc");
  });

  it("refuses a file others can read, an empty one and a missing one", () => {
    expect(() => readTokenFile(file("open", "slw_abc\n", 0o644))).toThrow(
      /readable by other users \(mode 0644\); chmod 600 it/,
    );
    expect(() => readTokenFile(file("group", "slw_abc\n", 0o640))).toThrow(UserError);
    expect(() => readTokenFile(file("empty", "\n", 0o600))).toThrow(/the file is empty/);
    expect(() => readTokenFile(join(dir, "missing"))).toThrow(/--token-file .*missing: ENOENT/);
  });

  it("warns about a token in argv, not one from elsewhere; refuses both flags", () => {
    const warnings: string[] = [];
    const warn = (l: string) => warnings.push(l);
    expect(resolveTokenFlags({ token: "slw_x" }, true, warn)).toBe("slw_x");
    expect(warnings).toEqual([
      "slipway: warning: --token on the command line is visible to other local users (ps, /proc) and shell history; use --token-file or the environment\n",
    ]);
    expect(resolveTokenFlags({ token: "slw_x" }, false, warn)).toBe("slw_x");
    expect(resolveTokenFlags({}, false, warn)).toBeUndefined();
    expect(resolveTokenFlags({ tokenFile: file("d", "slw_f\n", 0o600) }, false, warn)).toBe("slw_f");
    expect(warnings).toHaveLength(1);
    expect(() => resolveTokenFlags({ token: "a", tokenFile: "b" }, true, warn)).toThrow(
      "give --token or --token-file, not both",
    );
  });
});
