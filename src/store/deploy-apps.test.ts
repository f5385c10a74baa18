// App owners on SQLite and PostgreSQL: the first claim wins, also when claims from different
// repositories race in different connections; a rebind replaces the owner.
import { beforeAll, describe, expect, it } from "vitest";
import type { Store } from "./index.js";
import { testBackends, useStore } from "../../test/support/store.js";

const backends = await testBackends();

describe.each(backends)("deploy app owners on %s", (backend) => {
  const ctx = useStore(backend);
  // Four connections to one database, for claims that race.
  const stores: Store[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 4; i++) stores.push(await ctx.open());
  });

  it("binds an app environment to the first repository that claims it, once", async () => {
    const claims = await Promise.all(
      stores.map((s, i) =>
        s.deployApps.claim({ app: "billing", env: "production", repo: `r${i}`, actor: "t" }),
      ),
    );
    expect(claims.filter((c) => c.claimed)).toHaveLength(1);
    const owner = claims.find((c) => c.claimed)!.binding.repo;
    for (const c of claims) expect(c.binding.repo).toBe(owner);
    expect((await stores[0].deployApps.get("billing", "production"))?.repo).toBe(owner);
    // Another environment of the same app is its own binding.
    const staging = await stores[1].deployApps.claim({
      app: "billing",
      env: "staging",
      repo: "other",
      actor: "t",
    });
    expect(staging).toMatchObject({ claimed: true, binding: { repo: "other" } });
  });

  it("rebinds (an admin's decision) and lists the owners", async () => {
    const rebound = await stores[0].deployApps.bind({
      app: "billing",
      env: "production",
      repo: "acme/new",
      actor: "admin",
    });
    expect(rebound).toMatchObject({ repo: "acme/new", actor: "admin" });
    const again = await stores[2].deployApps.claim({
      app: "billing",
      env: "production",
      repo: "r9",
      actor: "t",
    });
    expect(again).toMatchObject({ claimed: false, binding: { repo: "acme/new" } });
    expect((await stores[3].deployApps.list({ app: "billing" })).map((a) => [a.env, a.repo])).toEqual([
      ["production", "acme/new"],
      ["staging", "other"],
    ]);
  });
});
