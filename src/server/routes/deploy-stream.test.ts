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

  it("relays an agent's error line without its paths, and without a bug's detail", async () => {
    const logged: string[] = [];
    const relay = async (error: Record<string, unknown>) => {
      const res = ndjson(
        { deploy: {} },
        async (emit) => {
          const line = { error };
          emit(line);
          return line;
        },
        async () => {},
        { dataDir, log: (line) => logged.push(line) },
      );
      const lines = (await res.text())
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(lines).toHaveLength(2);
      return lines[1].error;
    };
    const failed = await relay({
      kind: "operation",
      message: `web did not become healthy: see ${dataDir}/deploy/a/b/web.log`,
      problems: [],
      release: { number: 3, spec: { notify: { slack: "x" }, services: {} } },
    });
    expect(failed.message).toBe("web did not become healthy: see <data-dir>/deploy/a/b/web.log");
    expect(failed.release).toEqual({ number: 3, spec: { services: {} } });
    const bug = await relay({ kind: "internal", message: `ENOENT: open '${dataDir}/x'`, problems: [] });
    expect(bug.message).toMatch(/^internal error in the deploy agent \(id [0-9a-f]{12}\)$/);
    expect(logged.join("\n")).toContain(`ENOENT: open '${dataDir}/x'`);
  });
});
