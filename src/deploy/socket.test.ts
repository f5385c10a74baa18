// The agent socket's safety checks, on real directories and sockets: a directory or socket another user
// owns, or a directory others can write to, is refused before anything is sent; the runtime directory is
// created 0700 and an existing one that is not is refused.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UserError } from "../lib/errors.js";
import { agentPaths } from "./agent.js";
import { callAgent } from "./client.js";
import { checkAgentSocket, prepareSocketDir, runtimeDir } from "./socket.js";

const root = mkdtempSync(join(tmpdir(), "slipway-socket-"));
const servers: net.Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
  rmSync(root, { recursive: true, force: true });
});
const isRoot = process.getuid?.() === 0;

/** A listening socket that would answer anything (a fake agent). */
async function listen(path: string): Promise<string[]> {
  const seen: string[] = [];
  const server = net.createServer((c) => {
    c.on("data", (d) => seen.push(d.toString()));
    c.end('HTTP/1.1 200 OK\r\ncontent-length: 17\r\n\r\n{"stopped":true}\n');
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(path, () => r()));
  return seen;
}

describe("agentPaths", () => {
  it("refuses app and environment names that would leave the data dir's deploy/ folder", () => {
    for (const [app, env] of [
      ["../x", "production"],
      ["..", "production"],
      ["app", "../../etc"],
      ["app", "a/b"],
      ["app", ""],
      ["a\0b", "production"],
    ])
      expect(() => agentPaths("/data", app, env)).toThrow(UserError);
    expect(agentPaths("/data", "shop", "production").stateDir).toBe("/data/deploy/shop/production");
  });
});

describe("agent sockets", () => {
  it("talks to its own socket in its own directory, and finds no agent where there is no socket", async () => {
    const dir = join(root, "mine");
    mkdirSync(dir, { mode: 0o700 });
    expect(checkAgentSocket(join(dir, "none.sock"))).toBe("absent");
    expect(await callAgent(join(dir, "none.sock"), "GET", "/status")).toBeUndefined();
    await listen(join(dir, "ok.sock"));
    expect(checkAgentSocket(join(dir, "ok.sock"))).toBe("ok");
  });

  it("refuses a socket in a directory others can write to, without sending anything", async () => {
    const dir = join(root, "shared");
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const seen = await listen(join(dir, "agent.sock"));
    expect(() => checkAgentSocket(join(dir, "agent.sock"))).toThrow(/not be writable by others/);
    await expect(callAgent(join(dir, "agent.sock"), "POST", "/rollback", {})).rejects.toThrow(UserError);
    expect(seen).toEqual([]);
  });

  it.runIf(isRoot)("refuses a directory or a socket owned by another user (nobody)", async () => {
    const theirs = join(root, "theirs");
    mkdirSync(theirs, { mode: 0o700 });
    const seen = await listen(join(theirs, "agent.sock"));
    chownSync(theirs, 65534, 65534);
    expect(() => checkAgentSocket(join(theirs, "agent.sock"))).toThrow(/owned by uid 65534/);
    const mine = join(root, "mine2");
    mkdirSync(mine, { mode: 0o700 });
    const seen2 = await listen(join(mine, "agent.sock"));
    chownSync(join(mine, "agent.sock"), 65534, 65534);
    await expect(callAgent(join(mine, "agent.sock"), "GET", "/status")).rejects.toThrow(
      /impersonating the agent/,
    );
    expect([...seen, ...seen2]).toEqual([]);
  });

  it("creates the runtime directory 0700, and refuses an existing one that is not private", () => {
    const runtime = join(root, "runtime");
    const socket = join(runtime, "x.sock");
    prepareSocketDir(socket, join(root, "state"));
    expect(statSync(runtime).mode & 0o777).toBe(0o700);
    chmodSync(runtime, 0o755);
    expect(() => prepareSocketDir(socket, join(root, "state"))).toThrow(/be mode 0700/);
    // The state directory itself is made private when it is ours.
    const state = join(root, "state2");
    mkdirSync(state, { mode: 0o755 });
    chmodSync(state, 0o755);
    prepareSocketDir(join(state, "agent.sock"), state);
    expect(statSync(state).mode & 0o777).toBe(0o700);
  });

  it("puts the socket of a long state path in the user's runtime directory, not in /tmp itself", () => {
    const deep = join("/srv", "x".repeat(120));
    const p = agentPaths(deep, "app", "production");
    expect(p.socketPath.startsWith(`${runtimeDir()}/`)).toBe(true);
    expect(runtimeDir({})).toBe(`/tmp/slipway-${process.getuid?.() ?? 0}`);
    expect(runtimeDir({ SLIPWAY_RUNTIME_DIR: "/run/user/1000/slipway" })).toBe("/run/user/1000/slipway");
  });
});
