// Names people give to tokens, runners and labels. They are printed in tables, logs and notifications,
// so a control character (a newline, an escape sequence) could forge lines or rewrite a terminal:
// only printable characters, trimmed, with a length cap.
import { UserError } from "../lib/errors.js";

/** Control, format, unassigned and private-use characters, and the line/paragraph separators. */
const unprintable = /[\p{C}\u2028\u2029]/u;

/** The value shown in an error: escaped (JSON) and cut, so the error cannot carry what it refuses. */
export function shownValue(value: string, max = 60): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  // JSON escapes the C0 controls; the others (bidi overrides, separators…) are escaped here.
  return JSON.stringify(cut).replace(
    /[\p{C}\u2028\u2029]/gu,
    (ch) => `\\u${ch.codePointAt(0)!.toString(16).padStart(4, "0")}`,
  );
}

/** A name of 1..max printable characters; a UserError naming `what` otherwise. */
export function checkName(what: string, value: unknown, max = 100): string {
  if (typeof value !== "string") throw new UserError(`${what} must be a string`);
  if (value.trim() === "") throw new UserError(`${what} must not be empty`);
  if (value.length > max)
    throw new UserError(`${what} ${shownValue(value)} is longer than ${max} characters`);
  if (unprintable.test(value))
    throw new UserError(`${what} ${shownValue(value)} has control or unprintable characters`);
  if (value !== value.trim())
    throw new UserError(`${what} ${shownValue(value)} starts or ends with white space`);
  return value;
}
