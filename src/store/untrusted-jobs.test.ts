// A fork's leg in the queue, on SQLite and PostgreSQL: only a runner that says it takes forks' legs
// (it isolates them, or its machine is disposable) claims one; a runner that does not passes it over
// and the leg says why it waits, until a runner that takes it claims it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type Store } from "./index.js";
import { createTestDatabase, type TestDatabase, testBackends } from "./testing.js";

const backends = await testBackends();
const why = "waiting for a runner that isolates fork pull requests";

describe.each(backends)("forks' legs in the queue on %s", (backend) => {
  let tdb: TestDatabase;
  let store: Store;
  beforeAll(async () => {
    tdb = await createTestDatabase(backend);
    store = await openStore({ url: tdb.url, dataDir: tdb.dataDir });
  });
  afterAll(async () => {
    await store?.close();
    await tdb?.drop();
  });

  const queued = async (label: string, untrusted: boolean) => {
    const repo = await store.repos.create({
      name: `repo-${Math.random().toString(16).slice(2)}`,
      url: "https://example.com/x.git",
    });
    const run = await store.runs.create({
      repoId: repo.id,
      workflowFile: ".github/workflows/ci.yml",
      workflowName: "CI",
      eventName: "pull_request",
      event: {},
      sha: "abc123",
      ref: "refs/pull/1/merge",
      trigger: "webhook",
    });
    const [job] = await store.jobs.insertMany(run.id, 1, [
      { jobKey: "test", jobId: "test", name: "test", labels: [label], status: "queued", untrusted },
    ]);
    return job;
  };

  it("a runner that does not take forks' legs never claims one, and the leg says why it waits", async () => {
    const fork = await queued("fork-a", true);
    const claim = (untrusted?: boolean) =>
      store.jobs.claim({
        runnerId: "r1",
        labels: ["fork-a"],
        leaseMs: 60_000,
        untrustedWaitReason: why,
        ...(untrusted === undefined ? {} : { untrusted }),
      });
    expect(await claim()).toBeNull();
    expect(await claim(false)).toBeNull();
    expect(await store.jobs.get(fork.id)).toMatchObject({ status: "queued", runnerId: null, reason: why });
    const taken = await claim(true);
    expect(taken).toMatchObject({ id: fork.id, status: "running", runnerId: "r1", reason: null });
  });

  it("the repository's own legs go to any runner, passing over a fork's leg queued before them", async () => {
    const fork = await queued("fork-b", true);
    const own = await queued("fork-b", false);
    const taken = await store.jobs.claim({ runnerId: "r2", labels: ["fork-b"], leaseMs: 60_000 });
    expect(taken?.id).toBe(own.id);
    expect((await store.jobs.get(fork.id))?.status).toBe("queued");
  });
});
