// runProcess through the spawn helper and through Node's own spawn must be indistinguishable to a step:
// the same env, exit codes, signals, errors, output, and a cancel or timeout that ends the whole tree.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../../test/support/wait.js";
import { type RunProcessOptions, runProcess, spawnMethod } from "./process.js";

const dir = mkdtempSync(join(tmpdir(), "slipway-spawn-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const saved = process.env.SLIPWAY_SPAWN_HELPER;
afterEach(() => {
  if (saved === undefined) delete process.env.SLIPWAY_SPAWN_HELPER;
  else process.env.SLIPWAY_SPAWN_HELPER = saved;
});

const env = { PATH: "/usr/bin:/bin", ONE: "a b", MULTI: "line 1\nline 2", EMPTY: "" };

async function run(script: string, extra: Partial<RunProcessOptions> = {}) {
  const lines: string[] = [];
  const result = await runProcess({
    command: "bash",
    args: ["-c", script],
    cwd: dir,
    env,
    onLine: (l, s) => lines.push(`${s}: ${l}`),
    ...extra,
  });
  return { ...result, lines };
}

/** This process's descriptors above 2 without close-on-exec: every child inherits them, however started. */
function inheritedFromOutside(): string[] {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      const flags = /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1];
      return Number(fd) > 2 && flags !== undefined && (Number.parseInt(flags, 8) & 0o2000000) === 0;
    } catch {
      return false;
    }
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.each(["native", "helper", "node"] as const)("runProcess (%s)", (how) => {
  const use = () => {
    process.env.SLIPWAY_SPAWN_HELPER = how === "native" ? "native" : how === "helper" ? "perl" : "node";
  };

  it("is started the way asked for: the native spawner and the helper are there on this machine", async () => {
    use();
    // No silent fallback here: CI builds the native spawner and has perl.
    expect(spawnMethod()).toBe(how === "helper" ? "perl" : how);
    const r = await run("echo $PPID");
    const ppid = Number(r.lines[0].replace("stdout: ", ""));
    // posix_spawn and Node's spawn start it as this process's child; the helper as its own.
    if (how === "helper") expect(ppid).not.toBe(process.pid);
    else expect(ppid).toBe(process.pid);
  });

  it("gives the process exactly the env asked for, in its own session, stdin empty", async () => {
    use();
    const lines: string[] = [];
    const r = await runProcess({
      command: "/usr/bin/env",
      args: ["-0"],
      cwd: dir,
      env,
      onLine: (l) => lines.push(l),
    });
    expect(r.exitCode).toBe(0);
    const vars = lines.join("\n").split("\0").filter(Boolean);
    expect(vars.sort()).toEqual(
      Object.entries(env)
        .map(([k, v]) => `${k}=${v}`)
        .sort(),
    );
    const printed = await run(`read -r x; echo "stdin $?"; ps -o sid=,pgid=,pid= -p $$`);
    expect(printed.lines).toContain("stdout: stdin 1");
    const [sid, pgid, pid] = printed.lines.at(-1)!.replace("stdout: ", "").trim().split(/\s+/).map(Number);
    expect(sid).toBe(pid);
    expect(pgid).toBe(pid);
  });

  it("passes a multi-line value intact, as Node's spawn does", async () => {
    use();
    const r = await run(`printf '%s' "$MULTI" | od -An -c | tr -s ' '`);
    expect(r.lines.join("\n")).toContain("l i n e 1 \\n l i n e 2");
  });

  it("reports exit codes, deaths by signal and output on both streams, in order per stream", async () => {
    use();
    const r = await run("for i in 1 2 3; do echo out$i; echo err$i >&2; done; exit 7");
    expect(r.exitCode).toBe(7);
    expect(r.signal).toBeNull();
    expect(r.lines.filter((l) => l.startsWith("stdout"))).toEqual([
      "stdout: out1",
      "stdout: out2",
      "stdout: out3",
    ]);
    expect(r.lines.filter((l) => l.startsWith("stderr"))).toEqual([
      "stderr: err1",
      "stderr: err2",
      "stderr: err3",
    ]);
    const killed = await run("kill -TERM $$");
    expect(killed.exitCode).toBeNull();
    expect(killed.signal).toBe("SIGTERM");
  });

  it("relays large output whole", async () => {
    use();
    const r = await run("head -c 3000000 /dev/zero | tr '\\0' x; echo");
    expect(r.exitCode).toBe(0);
    expect(r.lines.join("").replace(/stdout: /g, "").length).toBe(3_000_000);
  });

  it("fails to start a missing command or in a missing directory as Node's spawn does", async () => {
    use();
    const missing = await runProcess({
      command: "no-such-program-x",
      args: [],
      cwd: dir,
      env,
      onLine: () => {},
    });
    expect(missing.exitCode).toBeNull();
    expect(missing.spawnError?.message).toBe("spawn no-such-program-x ENOENT");
    expect((missing.spawnError as NodeJS.ErrnoException).code).toBe("ENOENT");
    const noDir = await run("true", { cwd: join(dir, "nope") });
    expect(noDir.spawnError?.message).toBe("spawn bash ENOENT");
    const nul = await runProcess({
      command: "bash",
      args: ["-c", "true"],
      cwd: dir,
      env: { X: "a\0b" },
      onLine: () => {},
    });
    expect((nul.spawnError as NodeJS.ErrnoException).code).toBe("ERR_INVALID_ARG_VALUE");
  });

  it("finds the command on the env's PATH, not slipway's, and refuses one that cannot run", async () => {
    use();
    const bin = join(dir, `bin-${how}`);
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "own-tool"), "#!/bin/sh\necho own tool in $PWD\n", { mode: 0o755 });
    writeFileSync(join(bin, "not-runnable"), "#!/bin/sh\necho ran\n", { mode: 0o644 });
    const found = await runProcess({
      command: "own-tool",
      args: [],
      cwd: dir,
      env: { PATH: `${bin}:/usr/bin:/bin` },
      onLine: (l) => expect(l).toBe(`own tool in ${dir}`),
    });
    expect(found.exitCode).toBe(0);
    const denied = await runProcess({
      command: "not-runnable",
      args: [],
      cwd: dir,
      env: { PATH: `${bin}:/usr/bin:/bin` },
      onLine: () => {},
    });
    expect((denied.spawnError as NodeJS.ErrnoException).code).toBe("EACCES");
  });

  it("hands over no descriptor but its three and no ignored signal (SIGPIPE ends a writer)", async () => {
    use();
    // Another step running meanwhile holds pipes of its own: none of them may reach this one.
    const stop = new AbortController();
    const other = run("sleep 30", { signal: stop.signal });
    await new Promise((r) => setTimeout(r, 100));
    const fds: string[] = [];
    const listed = await runProcess({
      command: "ls",
      args: ["/proc/self/fd"],
      cwd: dir,
      env,
      onLine: (l) => fds.push(l),
    });
    stop.abort();
    await other;
    expect(listed.exitCode).toBe(0);
    // 3 is ls's own, reading the folder; besides, only what this test process itself inherited without
    // close-on-exec (from whoever started the test run) passes through, as it would through any fork.
    expect(
      fds.filter((fd) => !["0", "1", "2", "3"].includes(fd) && !inheritedFromOutside().includes(fd)),
    ).toEqual([]);
    const piped = await run(`yes | head -n 1 >/dev/null; echo "\${PIPESTATUS[0]}"`);
    expect(piped.lines).toEqual(["stdout: 141"]);
  });

  it("ends on the shell's exit although a background child holds the pipes", async () => {
    use();
    const r = await run(`sleep 30 & echo $! > ${dir}/bg-${how}; echo done`);
    expect(r.exitCode).toBe(0);
    expect(r.lines).toEqual(["stdout: done"]);
    const bg = Number(readFileSync(join(dir, `bg-${how}`), "utf8"));
    expect(alive(bg)).toBe(true);
    process.kill(-r.pid!, "SIGKILL");
  });

  it("stops the whole process group on cancel and on timeout", async () => {
    use();
    const ac = new AbortController();
    const pending = run(`sleep 60 & echo $! > ${dir}/c-${how}; echo started; wait`, { signal: ac.signal });
    await waitFor("the background child", () => /\d/.test(readFileSync(join(dir, `c-${how}`), "utf8")));
    ac.abort();
    const r = await pending;
    expect(r.stoppedBy).toBe("cancel");
    const child = Number(readFileSync(join(dir, `c-${how}`), "utf8"));
    await waitFor("the group to end", () => !alive(child));

    const t = await run(`sleep 60 & echo $! > ${dir}/t-${how}; wait`, { timeoutMs: 300 });
    expect(t.stoppedBy).toBe("timeout");
    expect(t.signal).toBe("SIGINT");
    const grandchild = Number(readFileSync(join(dir, `t-${how}`), "utf8"));
    await waitFor("the group to end", () => !alive(grandchild));
  });

  it("runs many processes at once, each with its own output", async () => {
    use();
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => run(`for j in 1 2 3; do echo ${i}-$j; done; exit ${i}`)),
    );
    results.forEach((r, i) => {
      expect(r.exitCode).toBe(i);
      expect(r.lines).toEqual([`stdout: ${i}-1`, `stdout: ${i}-2`, `stdout: ${i}-3`]);
    });
  });
});

describe("the spawn helper", () => {
  it("stops a step whose helper was killed under it, and starts the next through a new helper", async () => {
    process.env.SLIPWAY_SPAWN_HELPER = "perl";
    const pending = run(`echo $PPID > ${dir}/helper; exec sleep 60`);
    await waitFor("the step", () => /\d/.test(readFileSync(join(dir, "helper"), "utf8")));
    const helper = Number(readFileSync(join(dir, "helper"), "utf8"));
    process.kill(helper, "SIGKILL");
    const r = await pending;
    expect(r.exitCode).toBeNull();
    expect(r.signal).toBe("SIGKILL");
    await waitFor("the step's group to end", () => !alive(r.pid!));
    const next = await run("echo $PPID");
    expect(next.exitCode).toBe(0);
    expect(Number(next.lines[0].replace("stdout: ", ""))).not.toBe(helper);
  });
});
