// The deploy masker: the runner's masking rules applied to everything a deployer writes or says.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OperationError, UserError } from "../lib/errors.js";
import { openStore, type Store } from "../store/index.js";
import { createTestDatabase, type TestDatabase } from "../store/testing.js";
import { DeployMasker } from "./masking.js";

const secret = "hunter2-Billing/Key";

describe("DeployMasker", () => {
  let tdb: TestDatabase;
  let store: Store;
  beforeAll(async () => {
    tdb = await createTestDatabase("sqlite");
    store = await openStore({ url: tdb.url, dataDir: tdb.dataDir });
  });
  afterAll(async () => {
    await store.close();
    await tdb.drop();
  });

  it("masks values, their lines and their encodings in strings and nested documents", () => {
    const m = new DeployMasker();
    expect(m.redact({ a: secret })).toEqual({ a: secret });
    m.add([secret, "line one\nline-two-secret"]);
    expect(m.mask(`token=${secret}`)).toBe("token=***");
    expect(m.mask(Buffer.from(secret).toString("base64"))).toBe("***");
    expect(m.mask(encodeURIComponent(secret))).toBe("***");
    expect(m.mask("got line-two-secret")).toBe("got ***");
    expect(m.redact({ data: { output: [`x ${secret}`] }, n: 3 })).toEqual({
      data: { output: ["x ***"] },
      n: 3,
    });
  });

  it("masks errors with their class, causes and problems kept", () => {
    const m = new DeployMasker();
    m.add([secret]);
    const err = m.error(
      new UserError(`hook printed ${secret}`, [{ file: "x", message: secret }], {
        cause: new Error(`inner ${secret}`),
      }),
    );
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe("hook printed ***");
    expect(err.problems[0].message).toBe("***");
    expect((err.cause as Error).message).toBe("inner ***");
    expect(m.error(new OperationError(secret))).toBeInstanceOf(OperationError);
  });

  it("stores release errors, phases and events masked; the spec as it was", async () => {
    const m = new DeployMasker();
    m.add([secret]);
    const s = m.store(store);
    const r = await s.releases.create({
      app: "a",
      env: "p",
      specHash: "h",
      spec: { services: [{ env: { KEEP: "as written" } }] },
      images: {},
      trigger: "t",
      actor: "me",
    });
    await s.releases.addEvent(r.id, { type: "hook", message: `echo ${secret}`, data: { output: secret } });
    await s.releases.update(r.id, { phase: `phase ${secret}` });
    await s.releases.finish(r.id, "failed", { error: `health: ${secret}` });
    const stored = (await store.releases.get(r.id))!;
    expect(stored.error).toBe("health: ***");
    expect(stored.phase).toBe("phase ***");
    expect(stored.spec).toEqual({ services: [{ env: { KEEP: "as written" } }] });
    const events = await store.releases.events(r.id, { limit: 10 });
    expect(JSON.stringify(events)).not.toContain(secret);
    expect(events[0]).toMatchObject({ message: "echo ***", data: { output: "***" } });
  });
});
