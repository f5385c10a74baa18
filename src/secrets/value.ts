// A secret value that does not print itself: String(), JSON and util.inspect give "[REDACTED]", so a
// value that slips into a log line, an error message or an API response shows nothing. The bytes are
// kept as given (binary-safe); `reveal()` is the one, greppable, way to the clear value.
import { inspect } from "node:util";

export const redacted = "[REDACTED]";

export class SecretValue {
  readonly #bytes: Buffer;

  constructor(value: string | Uint8Array) {
    this.#bytes = typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value);
  }

  /** The value as UTF-8 text (bytes that are not UTF-8 become U+FFFD; use `revealBytes` for files). */
  reveal(): string {
    return this.#bytes.toString("utf8");
  }

  /** A copy of the exact bytes. */
  revealBytes(): Buffer {
    return Buffer.from(this.#bytes);
  }

  get byteLength(): number {
    return this.#bytes.length;
  }

  toString(): string {
    return redacted;
  }

  toJSON(): string {
    return redacted;
  }

  [inspect.custom](): string {
    return redacted;
  }

  get [Symbol.toStringTag](): string {
    return "SecretValue";
  }
}
