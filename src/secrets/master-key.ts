// The master key that encrypts the secret store: 32 bytes from SLIPWAY_MASTER_KEY (base64 or hex), or
// else from `<dataDir>/master.key`, which the first start creates with mode 0600. The key never leaves
// this module's WeakMap: a MasterKey object prints only its fingerprint.
import { createHmac, randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { inspect } from "node:util";
import { UserError } from "../lib/errors.js";

export const masterKeyEnv = "SLIPWAY_MASTER_KEY";
export const masterKeyFileName = "master.key";
const keyLength = 32;

const keyBytes = new WeakMap<MasterKey, Buffer>();

export class MasterKey {
  /** Identifies the key without revealing it (HMAC of a constant under the key, 16 hex digits). */
  readonly fingerprint: string;
  /** Where it came from: `SLIPWAY_MASTER_KEY` or the key file's path. */
  readonly source: string;
  /** True when this call created the key file (tell the operator to back it up). */
  readonly created: boolean;

  constructor(bytes: Uint8Array, source: string, created = false) {
    if (bytes.length !== keyLength)
      throw new Error(`a master key has ${keyLength} bytes, not ${bytes.length}`);
    const copy = Buffer.from(bytes);
    keyBytes.set(this, copy);
    this.fingerprint = createHmac("sha256", copy)
      .update("slipway master key fingerprint v1")
      .digest("hex")
      .slice(0, 16);
    this.source = source;
    this.created = created;
  }

  toString(): string {
    return `MasterKey(${this.fingerprint})`;
  }

  toJSON(): { fingerprint: string; source: string } {
    return { fingerprint: this.fingerprint, source: this.source };
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** The key's bytes, for the cipher functions of this domain only (not exported from index.ts). */
export function masterKeyBytes(key: MasterKey): Buffer {
  const bytes = keyBytes.get(key);
  if (!bytes) throw new Error("not a MasterKey made by loadMasterKey");
  return bytes;
}

/** A fresh key, base64-encoded: what `openssl rand -base64 32` prints. */
export function generateMasterKey(): string {
  return randomBytes(keyLength).toString("base64");
}

/** 64 hex digits or base64 (standard or URL-safe) of exactly 32 bytes; null for anything else. */
export function parseMasterKey(text: string): Buffer | null {
  const s = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(s)) return Buffer.from(s, "hex");
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(s)) return null;
  const bytes = Buffer.from(s.replace(/-/g, "+").replace(/_/g, "/"), "base64");
  return bytes.length === keyLength ? bytes : null;
}

export type LoadMasterKeyOptions = {
  dataDir: string;
  env?: NodeJS.ProcessEnv;
  /** Create `<dataDir>/master.key` when there is neither it nor the variable (default true). */
  create?: boolean;
};

/**
 * The master key: SLIPWAY_MASTER_KEY when set, else `<dataDir>/master.key`, created (0600, atomically:
 * concurrent first starts agree on one key) when missing. A malformed variable, a key file of the wrong
 * length or one that others can read is a UserError saying how to fix it.
 */
export function loadMasterKey(opts: LoadMasterKeyOptions): MasterKey {
  const env = opts.env ?? process.env;
  const fromEnv = env[masterKeyEnv];
  if (fromEnv !== undefined && fromEnv.trim() !== "") {
    const bytes = parseMasterKey(fromEnv);
    if (!bytes)
      throw new UserError(
        `${masterKeyEnv} must be ${keyLength} bytes written as 64 hex digits or as base64 (e.g. the output of \`openssl rand -base64 32\`)`,
      );
    return new MasterKey(bytes, masterKeyEnv);
  }

  const file = join(opts.dataDir, masterKeyFileName);
  const existing = readKeyFile(file);
  if (existing) return new MasterKey(existing, file);
  if (opts.create === false)
    throw new UserError(`no master key: set ${masterKeyEnv} or start the server once to create ${file}`);
  const created = createKeyFile(opts.dataDir, file);
  return created.bytes ? new MasterKey(created.bytes, file, created.created) : loadMasterKey(opts);
}

function readKeyFile(file: string): Buffer | null {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new UserError(`cannot read the master key file ${file}: ${(err as Error).message}`);
  }
  if (!stat.isFile()) throw new UserError(`the master key file ${file} is not a file`);
  if (process.platform !== "win32" && (stat.mode & 0o077) !== 0)
    throw new UserError(
      `the master key file ${file} has mode ${(stat.mode & 0o777).toString(8).padStart(4, "0")}: others may read it; make it private with \`chmod 600 ${file}\``,
    );
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UserError(`cannot read the master key file ${file}: ${(err as Error).message}`);
  }
  const bytes = parseMasterKey(text);
  if (!bytes)
    throw new UserError(
      `the master key file ${file} does not hold a ${keyLength}-byte key (64 hex digits or base64); restore it from your backup`,
    );
  return bytes;
}

/** Writes a new key to a temporary file and links it into place, so no reader sees a half-written key. */
function createKeyFile(dataDir: string, file: string): { bytes: Buffer | null; created: boolean } {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const bytes = randomBytes(keyLength);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const fd = openSync(tmp, "wx", 0o600);
  try {
    writeSync(fd, `${bytes.toString("base64")}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
    return { bytes, created: true };
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return { bytes: null, created: false };
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}
