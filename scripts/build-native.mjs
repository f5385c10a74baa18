// Compiles the runner's native spawner (src/runner/native/spawn.c) into dist/native/spawn.node with the
// machine's C compiler against the running Node's headers. Optional: without a compiler or the headers,
// it says so and the runner starts steps through its Perl helper instead (slower, same behaviour).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "src/runner/native/spawn.c");
const target = join(root, "dist/native/spawn.node");

/** The directory holding node_api.h and uv.h for the Node that runs this. */
function nodeHeaders() {
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, "include/node"),
    join(dirname(dirname(process.execPath)), "include/node"),
    "/usr/include/node",
    "/usr/local/include/node",
  ].filter(Boolean);
  return candidates.find((d) => existsSync(join(d, "node_api.h")) && existsSync(join(d, "uv.h")));
}

export function buildNative({ quiet = false } = {}) {
  if (process.platform !== "linux") return false;
  if (existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs) return true;
  const headers = nodeHeaders();
  const say = (m) => quiet || process.stderr.write(`build-native: ${m}\n`);
  if (!headers) {
    say("Node's headers (node_api.h) not found: steps will be started through the Perl helper");
    return false;
  }
  mkdirSync(dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.tmp`;
  try {
    execFileSync(
      process.env.CC || "cc",
      ["-O2", "-fPIC", "-shared", "-Wall", "-std=gnu11", `-I${headers}`, "-o", tmp, source],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    renameSync(tmp, target);
    return true;
  } catch (err) {
    rmSync(tmp, { force: true });
    say(
      `cannot compile ${source} (${
        String(err.stderr || err.message)
          .trim()
          .split("\n")[0]
      }): steps will be started through the Perl helper`,
    );
    return false;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) buildNative();
