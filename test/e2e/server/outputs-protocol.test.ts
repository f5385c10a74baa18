// The runner protocol's artifact and report endpoints under attack, spoken raw as a hostile runner
// would: a runner reaches only the job it holds (runner A cannot upload to or read job B's artifacts),
// names that are paths or hold a secret are refused, and what a runner reports unmasked is masked by
// the server before it is stored. Another run's artifacts (`?run=`, download-artifact's run-id) are
// served for a run of the job's own repository, refused for another repository's.
import tar from "tar-stream";
import { describe, expect } from "vitest";
import { addRepo, api, cleanupAfterAll, dispatchRun, makeRepo, test, waitForRun } from "./helpers.js";

cleanupAfterAll();

const name = "acme/app";
const secret = "s3cret-value-for-masking";

const workflow = `name: Pair
on: workflow_dispatch
jobs:
  a:
    runs-on: pool
    steps:
      - run: echo a \${{ secrets.TOKEN }}
  b:
    runs-on: pool
    steps:
      - run: echo b
`;

function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [n, body] of Object.entries(files)) pack.entry({ name: n }, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    pack.on("data", (c: Buffer) => chunks.push(c));
    pack.on("end", () => resolve(Buffer.concat(chunks)));
    pack.on("error", reject);
  });
}

describe("runner protocol: artifacts and reports", () => {
  test("a runner reaches only its own job; bad names are refused; reports are masked", async ({ h }) => {
    const server = await h.startServer({ args: ["--local-runners", "0"] });
    await addRepo(server, makeRepo({ ".github/workflows/pair.yml": workflow }), name);
    expect(
      (await api(server, "POST", "/api/v1/secrets", { name: "TOKEN", value: secret, repo: name })).status,
    ).toBe(201);
    const register = async (n: string) =>
      (await api<{ token: string }>(server, "POST", "/api/v1/runners", { name: n, labels: ["pool"] })).body
        .token;
    const tokenA = await register("runner-a");
    const tokenB = await register("runner-b");
    const runId = await dispatchRun(server, name, "pair.yml");
    const as = (token: string) => ({ url: server.url, token });
    const claim = async (token: string) => {
      const r = await api<{ jobRowId: string; spec: { jobId: string } }>(
        as(token),
        "POST",
        "/api/v1/runner/claim",
        {
          waitMs: 20_000,
        },
      );
      expect(r.status).toBe(200);
      return r.body;
    };
    const jobA = await claim(tokenA);
    const jobB = await claim(tokenB);
    const upload = async (token: string, job: string, query: string, body: Buffer) => {
      const res = await fetch(`${server.url}/api/v1/runner/jobs/${job}/artifacts?${query}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/x-tar" },
        body,
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const files = await tarOf({ "x.txt": "data" });

    // Runner A against runner B's job: refused, and nothing stored.
    const intrude = await upload(tokenA, jobB.jobRowId, "name=planted", files);
    expect(intrude.status).toBe(409);
    expect(intrude.body.error).toContain("not running on this runner");
    expect((await api(as(tokenA), "GET", `/api/v1/runner/jobs/${jobB.jobRowId}/artifacts`)).status).toBe(409);
    // B's own upload succeeds; A still cannot read it through B's job.
    expect((await upload(tokenB, jobB.jobRowId, "name=b-files", files)).status).toBe(201);
    expect(
      (await api(as(tokenA), "GET", `/api/v1/runner/jobs/${jobB.jobRowId}/artifacts/b-files`)).status,
    ).toBe(409);
    // An admin token is not a runner token.
    expect((await upload(server.token, jobA.jobRowId, "name=x", files)).status).toBe(401);

    // Names that would be paths, hold NUL, or carry the job's secret.
    for (const bad of ["../../etc/x", "a/b", "nul\0x", ".."]) {
      const r = await upload(tokenA, jobA.jobRowId, `name=${encodeURIComponent(bad)}`, files);
      expect(r.status, bad).toBe(400);
      expect(r.body.error).toContain("artifact name is not valid");
    }
    const leaky = await upload(tokenA, jobA.jobRowId, `name=${encodeURIComponent(`dist-${secret}`)}`, files);
    expect(leaky.status).toBe(400);
    expect(leaky.body.error).toBe('the artifact name "dist-***" contains a secret: choose another name');
    // A hostile archive: refused, named.
    const hostile = await upload(tokenA, jobA.jobRowId, "name=hostile", await tarOf({ "../../escape": "x" }));
    expect(hostile.status).toBe(400);
    expect(hostile.body.error).toContain("refusing archive entry");

    const listed = await api<{ artifacts: { name: string }[] }>(
      server,
      "GET",
      `/api/v1/runs/${runId}/artifacts`,
    );
    expect(listed.body.artifacts.map((a) => a.name)).toEqual(["b-files"]);

    // A runner that reports its annotations and summary unmasked: the server masks them.
    for (const [token, job] of [
      [tokenA, jobA],
      [tokenB, jobB],
    ] as const) {
      const done = await api(as(token), "POST", `/api/v1/runner/jobs/${job.jobRowId}/complete`, {
        status: "success",
        annotations: [{ level: "error", message: `leaked ${secret}`, title: secret }],
        summary: `summary ${secret}\n`,
      });
      expect(done.status).toBe(200);
    }
    const view = await waitForRun(server, runId);
    const text = JSON.stringify(view);
    expect(text).not.toContain(secret);
    const a = (view.attempts[0].jobs as any[]).find((j) => String(j.id) === jobA.jobRowId);
    expect(a.annotations).toEqual([{ level: "error", message: "leaked ***", title: "***" }]);
    expect(a.summary).toBe("summary ***\n");
  });

  test("another run's artifacts (download-artifact's run-id): the same repository's only", async ({ h }) => {
    // Six legs held at once (the default is one per CPU).
    const server = await h.startServer({ args: ["--local-runners", "0", "--max-jobs", "8"] });
    await addRepo(server, makeRepo({ ".github/workflows/pair.yml": workflow }), name);
    await addRepo(server, makeRepo({ ".github/workflows/pair.yml": workflow }), "mallory/other");
    // One runner per leg, as a runner holds one leg at a time; all of them act as `as` does.
    let runners = 0;
    const claim = async () => {
      const r = (
        await api<{ token: string }>(server, "POST", "/api/v1/runners", {
          name: `r${++runners}`,
          labels: ["pool"],
        })
      ).body.token;
      const job = (
        await api<{ jobRowId: string }>({ url: server.url, token: r }, "POST", "/api/v1/runner/claim", {
          waitMs: 20_000,
        })
      ).body.jobRowId;
      expect(job, `claim ${runners}`).toBeDefined();
      tokens.set(job, r);
      return job;
    };
    const tokens = new Map<string, string>();
    const first = await dispatchRun(server, name, "pair.yml");
    const firstJob = await claim();
    const files = await tarOf({ "x.txt": "from the first run" });
    const up = await fetch(`${server.url}/api/v1/runner/jobs/${firstJob}/artifacts?name=kept`, {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.get(firstJob)}`, "content-type": "application/x-tar" },
      body: files,
    });
    expect(up.status).toBe(201);
    await claim(); // the first run's other job, held so the next claims are the later runs'
    const second = await dispatchRun(server, name, "pair.yml");
    const secondJob = await claim();
    await claim(); // and its other job, so that the next claim is the other repository's
    const list = (job: string, run: string) =>
      api<{ artifacts: { name: string }[]; error?: string }>(
        { url: server.url, token: tokens.get(job)! },
        "GET",
        `/api/v1/runner/jobs/${job}/artifacts?run=${encodeURIComponent(run)}`,
      );
    // The same repository's earlier run: listed and downloadable through the later run's job.
    expect((await list(secondJob, String(first))).body.artifacts.map((a) => a.name)).toEqual(["kept"]);
    const got = await fetch(`${server.url}/api/v1/runner/jobs/${secondJob}/artifacts/kept?run=${first}`, {
      headers: { authorization: `Bearer ${tokens.get(secondJob)}` },
    });
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).toString()).toContain("from the first run");
    // Its own run without ?run: not the first run's artifacts.
    expect(
      (
        await api<{ artifacts: unknown[] }>(
          { url: server.url, token: tokens.get(secondJob)! },
          "GET",
          `/api/v1/runner/jobs/${secondJob}/artifacts`,
        )
      ).body.artifacts,
    ).toEqual([]);
    // Another repository's job asks for it: refused, saying why; nothing of it is served.
    const intruder = await dispatchRun(server, "mallory/other", "pair.yml");
    expect(intruder).toBeGreaterThan(second);
    const intruderJob = await claim();
    const refused = await list(intruderJob, String(first));
    expect(refused.status).toBe(403);
    expect(refused.body.error).toContain(`run ${first} is another repository's`);
    const refusedGet = await fetch(
      `${server.url}/api/v1/runner/jobs/${intruderJob}/artifacts/kept?run=${first}`,
      {
        headers: { authorization: `Bearer ${tokens.get(intruderJob)}` },
      },
    );
    expect(refusedGet.status).toBe(403);
    // Not a run id, and no such run.
    for (const bad of ["../1", "1 OR 1=1", "-1", "0x1"])
      expect((await list(secondJob, bad)).status, bad).toBe(400);
    expect((await list(secondJob, "987654")).status).toBe(404);
  });
});
