// slipway/build for a fork's pull request: it may build, never push with the server's credentials.
import { describe, expect, it } from "vitest";
import { UserError } from "../../lib/errors.js";
import { slipwayBuild } from "./slipway-build.js";
import { makeContext } from "./testing.js";

describe("slipway/build", () => {
  it("refuses to push for a fork's pull request, before building anything", async () => {
    const { ctx, rec } = makeContext({ inputs: { push: "true" }, untrusted: true });
    const err = await slipwayBuild.main(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/cannot push for a pull request from a fork/);
    expect(rec.logs).toEqual([]);
  });
});
