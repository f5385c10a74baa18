// The audit log's filters on both databases: by repository, by action or action prefix (matched literally,
// never as a LIKE pattern), by subject, and paged back by id.
import { describe, expect, it } from "vitest";
import { testBackends, useStore } from "../../test/support/store.js";

const backends = await testBackends();

describe.each(backends)("audit log on %s", (backend) => {
  const ctx = useStore(backend);

  it("filters by repository, action, prefix and subject; pages back newest first", async () => {
    const a = ctx.store.audit;
    await a.append({ actor: "ann", action: "repo.add", subject: "acme/web", repo: "acme/web", now: 1 });
    await a.append({ actor: "ann", action: "secret.set", subject: "KEY", repo: "acme/web", now: 2 });
    await a.append({ actor: "bob", action: "secret.rotate-key", subject: "KEY", now: 3 });
    await a.append({ actor: "bob", action: "secretXset", subject: "look-alike", now: 4 });
    await a.append({
      actor: "bob",
      action: "token.create",
      subject: "ci",
      detail: { role: "viewer" },
      now: 5,
    });

    const actions = (entries: { action: string }[]) => entries.map((e) => e.action);
    expect(actions(await a.list({ repo: "acme/web" }))).toEqual(["secret.set", "repo.add"]);
    expect(actions(await a.list({ actionPrefix: "secret." }))).toEqual(["secret.rotate-key", "secret.set"]);
    expect(actions(await a.list({ actionPrefix: "secret.rotate-" }))).toEqual(["secret.rotate-key"]);
    expect(actions(await a.list({ action: "secret.set" }))).toEqual(["secret.set"]);
    expect(actions(await a.list({ subject: "KEY" }))).toEqual(["secret.rotate-key", "secret.set"]);
    const first = await a.list({ limit: 2 });
    expect(actions(first)).toEqual(["token.create", "secretXset"]);
    expect(actions(await a.list({ beforeId: first[1].id, limit: 2 }))).toEqual([
      "secret.rotate-key",
      "secret.set",
    ]);
    expect((await a.list({ action: "token.create" }))[0]).toMatchObject({
      actor: "bob",
      subject: "ci",
      repo: null,
      env: null,
      detail: { role: "viewer" },
      at: 5,
    });
  });

  it("refuses a prefix that a LIKE pattern could widen", async () => {
    await ctx.store.audit.append({ actor: "x", action: "secret.set", subject: "K" });
    for (const prefix of ["%", "secret_", "secret.%", "a'b"])
      await expect(ctx.store.audit.list({ actionPrefix: prefix })).rejects.toThrow(/actionPrefix/);
  });
});
