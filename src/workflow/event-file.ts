// An event read from a webhook payload saved as JSON (`slipway run -e FILE`): JSON errors at their
// line:column, and the changed files the payload lists or names through commits in the local repository.
import { readFile } from "node:fs/promises";
import { UserError } from "../lib/errors.js";
import { changedPaths, commitExists, diffArgs, diffChanges, gitMaybe, parseNameStatus } from "./event-git.js";
import { record, str } from "./payload-fields.js";
import type { TriggerEvent } from "./triggers.js";

/** Offset of the first JSON syntax error, since V8's messages give one only for some errors. */
function jsonErrorOffset(text: string): number {
  let i = 0;
  const failure = { at: 0 };
  const fail = (): never => {
    failure.at = i;
    throw failure;
  };
  const space = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const string = () => {
    i++;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        i++;
        return;
      }
      if (c === "\\") {
        i++;
        if (text[i] === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 5;
        } else if (text[i] !== undefined && '"\\/bfnrt'.includes(text[i])) i++;
        else fail();
      } else if (c < " ") fail();
      else i++;
    }
    fail();
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      i++;
      space();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === "{") {
          space();
          if (text[i] !== '"') fail();
          string();
          space();
          if (text[i] !== ":") fail();
          i++;
        }
        value();
        space();
        if (text[i] === close) {
          i++;
          return;
        }
        if (text[i] !== ",") fail();
        i++;
      }
    }
    if (c === '"') {
      string();
      return;
    }
    const literal = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
    literal.lastIndex = i;
    const match = literal.exec(text);
    if (match === null) fail();
    else i += match[0].length;
  };
  try {
    value();
    space();
    if (i < text.length) fail();
    return text.length;
  } catch (err) {
    if (err === failure) return failure.at;
    throw err;
  }
}

function lineAndColumn(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, col: offset - (before.lastIndexOf("\n") + 1) + 1 };
}

function parseEventJson(file: string, text: string): Record<string, unknown> {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (err) {
    const { line, col } = lineAndColumn(text, jsonErrorOffset(text));
    const why = (err as Error).message.replace(/ in JSON at position \d+.*$/, "");
    const message = `invalid JSON: ${why}`;
    throw new UserError(`${file}:${line}:${col}: ${message}`, [{ file, line, col, message }], { cause: err });
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new UserError(`${file}: an event payload must be a JSON object`);
  }
  return payload as Record<string, unknown>;
}

async function changedFilesOfPayload(
  eventName: string,
  payload: Record<string, unknown>,
  repoDir: string,
): Promise<string[] | undefined> {
  if (eventName === "push") {
    const commits = Array.isArray(payload.commits) ? payload.commits.map(record) : [];
    if (commits.length > 0) {
      const files = commits.flatMap((c) =>
        [c.added, c.modified, c.removed].flatMap((l) => (Array.isArray(l) ? l.map(String) : [])),
      );
      return [...new Set(files)];
    }
    const before = str(payload.before);
    const after = str(payload.after);
    if (before !== undefined && after !== undefined) {
      if ((await commitExists(repoDir, before)) && (await commitExists(repoDir, after))) {
        return changedPaths(await diffChanges(repoDir, before, after));
      }
    }
    return undefined;
  }
  const pr = record(payload.pull_request);
  const base = str(record(pr.base).sha);
  const head = str(record(pr.head).sha);
  if (base !== undefined && head !== undefined) {
    if ((await commitExists(repoDir, base)) && (await commitExists(repoDir, head))) {
      // Three dots: what the head branch changed since it left the base, as GitHub's PR diff shows.
      // Unrelated histories have no merge base, and then the changes are unknown.
      const output = await gitMaybe(repoDir, ["diff", ...diffArgs, `${base}...${head}`]);
      return output === undefined ? undefined : changedPaths(parseNameStatus(output));
    }
  }
  return undefined;
}

/**
 * Reads a webhook payload saved as JSON (`slipway run -e FILE`). Changed files come from the payload
 * or, when it only names commits, from the repository at `repoDir`; if neither can tell, they are
 * left unknown and path filters pass.
 */
export async function loadEventFile(file: string, eventName: string, repoDir: string): Promise<TriggerEvent> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new UserError(`cannot read event file ${file}: ${(err as Error).message}`, [], { cause: err });
  }
  const payload = parseEventJson(file, text.replace(/^\uFEFF/, ""));
  const changedFiles = await changedFilesOfPayload(eventName, payload, repoDir);
  // The local checkout stands in for the ref and commit of events whose payload names neither.
  const [sha, ref] = await Promise.all([
    gitMaybe(repoDir, ["rev-parse", "-q", "--verify", "HEAD^{commit}"]),
    gitMaybe(repoDir, ["symbolic-ref", "-q", "HEAD"]),
  ]);
  const event: TriggerEvent = { name: eventName, payload, changedFiles };
  if (sha !== undefined) {
    event.sha = sha;
    event.ref = ref ?? sha;
  }
  return event;
}
