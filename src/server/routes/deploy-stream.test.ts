// The error line of a deploy stream: what a client reads once the status went out.
import { describe, expect, it } from "vitest";
import { NotFoundError, OperationError, UserError } from "../../lib/errors.js";
import { ndjson } from "./deploy-stream.js";

const dataDir = "/srv/slipway-data";

async function errorLine(err: unknown, logged: string[]): Promise<Record<string, unknown>> {
  const res = ndjson(
    { deploy: {} },
    async () => {
      throw err;
    },
    async () => {},
    { dataDir, log: (line) => logged.push(line) },
  );
  const lines = (await res.text())
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l));
  expect(lines[0]).toEqual({ deploy: {} });
  return lines.at(-1).error;
}

describe("deploy stream errors", () => {
  it("hides an internal error's message and stack, logging them under the id it gives", async () => {
    const logged: string[] = [];
    const bug = new TypeError(
      `cannot read properties of undefined (reading 'spec') at ${dataDir}/deploy/a/b`,
    );
    const error = await errorLine(bug, logged);
    expect(error.kind).toBe("internal");
    expect(error.message).toMatch(/^internal error \(id [0-9a-f]{12}\)$/);
    expect(JSON.stringify(error)).not.toContain(dataDir);
    const id = /id ([0-9a-f]+)/.exec(error.message as string)![1];
    expect(logged.join("\n")).toContain(id);
    expect(logged.join("\n")).toContain("TypeError");
  });

  it("keeps an operation's message without the data directory's path", async () => {
    const error = await errorLine(new OperationError(`cannot extract ${dataDir}/checkouts/x: disk full`), []);
    expect(error.kind).toBe("operation");
    expect(error.message).toMatch(
      /^cannot extract <data-dir>\/checkouts\/x: disk full \(error id [0-9a-f]+\)$/,
    );
  });

  it("passes a refusal on as it is, with its problems", async () => {
    const problems = [{ file: "slipway.yaml", line: 3, col: 1, message: "bad" }];
    expect(await errorLine(new UserError("slipway.yaml is invalid", problems), [])).toEqual({
      kind: "user",
      message: "slipway.yaml is invalid",
      problems,
    });
    expect((await errorLine(new NotFoundError("no such release"), [])).kind).toBe("not-found");
  });
});
