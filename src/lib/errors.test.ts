// The one error model: each kind's HTTP status and exit code, and the wire encoding decoded back to the
// same class on the other side (an HTTP answer by its status, a streamed line by its kind).
import { describe, expect, it } from "vitest";
import {
  ConflictError,
  errorFromProblem,
  exitCodeFor,
  httpStatusFor,
  InternalError,
  NotFoundError,
  OperationError,
  problemBody,
  RefusalError,
  streamedError,
  UserError,
} from "./errors.js";

const located = [{ file: "slipway.yaml", line: 3, col: 5, message: "unknown key 'replica'" }];

describe("httpStatusFor and exitCodeFor", () => {
  it.each([
    [new UserError("bad"), 400, 2],
    [new NotFoundError("no run 7"), 404, 2],
    [new ConflictError("the job is not this runner's"), 409, 2],
    [new OperationError("git fetch failed"), 500, 1],
    [new InternalError("a bug"), 500, 70],
    [new TypeError("undefined is not a function"), 500, 70],
    ["a thrown string", 500, 70],
  ])("%s → %i, exit %i", (err, status, exit) => {
    expect(httpStatusFor(err)).toBe(status);
    expect(exitCodeFor(err)).toBe(exit);
  });

  it("answers a refusal with its own status; its kind follows the status", () => {
    expect(httpStatusFor(new RefusalError(413, "too large"))).toBe(413);
    expect(exitCodeFor(new RefusalError(413, "too large"))).toBe(2);
    expect(httpStatusFor(new RefusalError(503, "busy"))).toBe(503);
    expect(exitCodeFor(new RefusalError(401, "bad signature"))).toBe(1);
  });

  it("keeps subclasses of UserError user errors (instanceof checks elsewhere still hold)", () => {
    expect(new NotFoundError("x")).toBeInstanceOf(UserError);
    expect(new ConflictError("x")).toBeInstanceOf(UserError);
  });
});

/** What a client sees: the body as JSON text and the status. */
const overHttp = (err: unknown, message?: string) =>
  errorFromProblem(httpStatusFor(err), JSON.parse(JSON.stringify(problemBody(err, message))), {
    prefix: "GET /api/v1/runs/7",
  });

describe("encode → decode over HTTP", () => {
  it.each([
    [new UserError("'url' is required", located), UserError],
    [new NotFoundError("no run 7"), NotFoundError],
    [new ConflictError("token 1 is the last active admin token"), ConflictError],
  ])("%s comes back as the same class, message and problems", (err, cls) => {
    const back = overHttp(err);
    expect(back).toBeInstanceOf(cls);
    expect(back.constructor).toBe(cls);
    expect(back.message).toBe(err.message);
    expect((back as UserError).problems).toEqual(err.problems);
    expect(back.status).toBe(httpStatusFor(err));
    expect(exitCodeFor(back)).toBe(exitCodeFor(err));
  });

  it("a failure of the server is an OperationError naming the request (exit 1), its detail hidden", () => {
    const op = overHttp(new OperationError("git fetch failed"), "git fetch failed (error id abc)");
    expect(op).toBeInstanceOf(OperationError);
    expect(op.message).toBe("GET /api/v1/runs/7: git fetch failed (error id abc)");
    const bug = overHttp(new InternalError("secret detail"), "internal error (id abc)");
    expect(bug).toBeInstanceOf(OperationError);
    expect(bug.message).not.toContain("secret detail");
    expect(exitCodeFor(bug)).toBe(1);
  });

  it("a refused token is an OperationError (exit 1), not bad input", () => {
    const r = errorFromProblem(401, { error: "a valid API token is required" }, { prefix: "GET /x" });
    expect(r).toBeInstanceOf(OperationError);
    expect(r.message).toBe("GET /x: a valid API token is required");
  });

  it("an answer that is not the encoding still decodes by its status", () => {
    expect(errorFromProblem(404, "<html>", { fallback: "404 Not Found" })).toBeInstanceOf(NotFoundError);
    expect(errorFromProblem(502, {}, { fallback: "502 Bad Gateway" }).message).toBe("502 Bad Gateway");
  });

  it("the body is {error, problems} for user errors and {error} otherwise", () => {
    expect(problemBody(new NotFoundError("no run 7"))).toEqual({ error: "no run 7", problems: [] });
    expect(problemBody(new OperationError("x"), "x (error id 1)")).toEqual({ error: "x (error id 1)" });
    expect(problemBody("plain message")).toEqual({ error: "plain message" });
  });
});

describe("encode → decode in a stream (the status was sent before the error)", () => {
  it.each([
    [new UserError("bad spec", located), UserError],
    [new NotFoundError("no release #9"), NotFoundError],
    [new ConflictError("busy"), ConflictError],
    [new OperationError("health check failed"), OperationError],
  ])("%s keeps its class by its kind", (err, cls) => {
    const line = JSON.parse(JSON.stringify({ error: streamedError(err) }));
    const back = errorFromProblem(undefined, line);
    expect(back.constructor).toBe(cls);
    expect(back.message).toBe(err.message);
    expect(back.status).toBeUndefined();
  });

  it("an internal error of the other side ends the command as a failed operation", () => {
    const back = errorFromProblem(undefined, { error: streamedError(new Error("boom")) });
    expect(back).toBeInstanceOf(OperationError);
    expect(back.message).toBe("boom");
  });
});
