// vitest globalSetup: makes Docker Engine, the registry binary and slipway/busybox:latest available once
// per test run (scripts/setup-docker.sh is idempotent and fast when everything is there).
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";

export default function setup(): void {
  const script = resolve(import.meta.dirname, "..", "..", "scripts", "setup-docker.sh");
  execFileSync("bash", [script], { stdio: ["ignore", "inherit", "inherit"], timeout: 5 * 60_000 });
}
