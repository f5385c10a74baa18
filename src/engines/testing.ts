// Test helpers for the engines' own tests: SSH keypairs made by ssh-keygen, as a host or a client has them.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export type Keypair = { path: string; publicLine: string; blob: Buffer };

/** A fresh unencrypted keypair at `dir/name` (and `.pub`); `blob` is the public key as SSH sends it. */
export function keygen(dir: string, name: string, type = "ed25519"): Keypair {
  const path = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", name, "-f", path]);
  const publicLine = readFileSync(`${path}.pub`, "utf8").trim();
  return { path, publicLine, blob: Buffer.from(publicLine.split(" ")[1], "base64") };
}
