// known_hosts as OpenSSH reads it: entries (markers, hashed names, wildcard and negated patterns, ports),
// the verdict on the key a host presented (known, unknown, changed, revoked), and the host key algorithms
// to offer so that the key known_hosts holds is the one the host shows. Pure: no file is read here.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export type KnownHost = {
  file: string;
  line: number;
  marker?: "revoked" | "cert-authority";
  /** The host field as written: patterns (`a,b,[c]:2222,!d,*.e`) or one hashed name (`|1|salt|hash`). */
  hosts: string;
  keyType: string;
  key: Buffer;
};

/** The entries of a known_hosts file; lines that are not entries (comments, garbage) are skipped as OpenSSH does. */
export function parseKnownHosts(text: string, file = "known_hosts"): KnownHost[] {
  const entries: KnownHost[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith("#")) return;
    let marker: KnownHost["marker"];
    if (fields[0] === "@revoked" || fields[0] === "@cert-authority") {
      marker = fields[0] === "@revoked" ? "revoked" : "cert-authority";
      fields.shift();
    }
    const [hosts, keyType, base64] = fields;
    if (!hosts || !keyType || !base64) return;
    const key = Buffer.from(base64, "base64");
    if (key.length === 0) return;
    entries.push({ file, line: i + 1, ...(marker ? { marker } : {}), hosts, keyType, key });
  });
  return entries;
}

/** How known_hosts names a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, name: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${re}$`, "i").test(name);
}

/** Whether an entry's host field names `name` (OpenSSH's rules: hashed names, wildcards, `!` negation). */
export function hostFieldMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith("|1|")) {
    const [, , salt, hash] = hosts.split("|");
    if (!salt || !hash) return false;
    const expected = Buffer.from(hash, "base64");
    const actual = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest();
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
  let matched = false;
  for (const pattern of hosts.split(",")) {
    if (pattern.startsWith("!")) {
      if (globMatch(pattern.slice(1), name)) return false;
    } else if (globMatch(pattern, name)) matched = true;
  }
  return matched;
}

/** The type inside an SSH public key blob (`ssh-ed25519`, `ssh-rsa`, …). */
export function keyType(key: Buffer): string {
  if (key.length < 4) return "unknown";
  const length = key.readUInt32BE(0);
  return key.subarray(4, 4 + length).toString("latin1");
}

/** As `ssh-keygen -l` prints it: `ssh-ed25519 SHA256:…`. */
export function keyFingerprint(key: Buffer): string {
  const digest = createHash("sha256").update(key).digest("base64").replace(/=+$/, "");
  return `${keyType(key)} SHA256:${digest}`;
}

export type HostKeyVerdict =
  | { status: "known"; entry: KnownHost }
  | { status: "unknown"; otherTypes: string[] }
  | { status: "changed"; entry: KnownHost }
  | { status: "revoked"; entry: KnownHost };

/**
 * What known_hosts says about the key a host presented: revoked, known, changed (an entry of the same key
 * type holds another key: a reinstalled host, or someone in between), or unknown.
 */
export function verifyHostKey(entries: KnownHost[], host: string, port: number, key: Buffer): HostKeyVerdict {
  const name = knownHostName(host, port);
  const revoked = entries.find((e) => e.marker === "revoked" && e.key.equals(key));
  if (revoked) return { status: "revoked", entry: revoked };
  const forHost = entries.filter((e) => !e.marker && hostFieldMatches(e.hosts, name));
  const known = forHost.find((e) => e.key.equals(key));
  if (known) return { status: "known", entry: known };
  const type = keyType(key);
  const changed = forHost.find((e) => keyType(e.key) === type);
  if (changed) return { status: "changed", entry: changed };
  return { status: "unknown", otherTypes: [...new Set(forHost.map((e) => keyType(e.key)))] };
}

/** Host key algorithms ssh2 offers by default, in its order. */
const hostKeyAlgorithms = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
];

/**
 * The algorithms to offer, those of the keys known_hosts holds for the host first (as OpenSSH orders them),
 * so that a host known by its RSA key is not reported as unknown because it also has an ed25519 one.
 */
export function preferredHostKeyAlgorithms(entries: KnownHost[], host: string, port: number): string[] {
  const name = knownHostName(host, port);
  const types = new Set(
    entries.filter((e) => !e.marker && hostFieldMatches(e.hosts, name)).map((e) => keyType(e.key)),
  );
  const known = hostKeyAlgorithms.filter((a) => types.has(a.startsWith("rsa-sha2-") ? "ssh-rsa" : a));
  return [...known, ...hostKeyAlgorithms.filter((a) => !known.includes(a))];
}
