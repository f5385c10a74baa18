// `slipway demo`: the whole story on this machine in well under a minute. It makes a git repository from
// examples/demo-shop, runs its workflow with the code `slipway run` uses (test → version → build → deploy),
// which releases and deploys v1; then it commits a v2 and runs the workflow again while a load probe sends
// steady keep-alive requests to the published URLs, so the blue-green switch is seen to drop nothing. It
// prints the URLs, the versions, the release records and the probe's counts, and stops what it started
// (unless --keep).
//
// Everything it makes lives in one directory: the repository, and under `.slipway/` (git-ignored) the run
// data, the deploy store with the agent's state, and the staged releases the instances run from.//
// This file registers the command and tells the story step by step; the steps live beside it: the
// fixture repository (demo-setup.ts), a pipeline run that deploys v1 or v2 (demo-pipeline.ts), the load
// probe (demo-probe.ts), the teardown (demo-teardown.ts) and the summary (demo-report.ts).
import { setMaxListeners } from "node:events";
import { join } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { agentPaths } from "../deploy/index.js";
import { sleep } from "../lib/async.js";
import { describeError, OperationError } from "../lib/errors.js";
import { killAllGroups } from "../runner/index.js";
import { type PipelineContext, runPipeline } from "./demo-pipeline.js";
import { fetchVersion, startProbe } from "./demo-probe.js";
import {
  type DemoReport,
  type DemoStage,
  plural,
  type ReleaseView,
  renderDemoReport,
} from "./demo-report.js";
import {
  commitV2,
  demoApp,
  demoCommits,
  demoEnvironment,
  dockerChoice,
  findExample,
  makeDemoRepository,
  prepareDir,
} from "./demo-setup.js";
import { demoCli, removeImages, stopEnvironment } from "./demo-teardown.js";
import { makeStyle } from "./tty.js";

// What other modules import from here (demo.test.ts): still importable from this module.
export { type ProbeCounts, type ProbeReport, startProbe } from "./demo-probe.js";
export { type DemoReport, type DemoStage, lookAroundCommands, renderDemoReport } from "./demo-report.js";
export { type DemoPorts, demoBaseImage, preferredPorts, withPorts } from "./demo-setup.js";

export type DemoFlags = { dir?: string; keep?: boolean; docker?: boolean; json?: boolean };

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description(
      "try slipway: make a sample multi-service app, run its pipeline, deploy v1, then v2 blue-green under load",
    )
    .option("-D, --dir <dir>", "make the demo here (a new or empty directory; default: a new temporary one)")
    .option("--keep", "leave the app running at the end (default: stop it with `slipway down`)")
    .option("--docker", "build the images with Docker (an error when no engine is usable)")
    .option("--no-docker", "do not use Docker, even when an engine answers")
    .option("--json", "print one JSON document with what happened on stdout; progress goes to stderr")
    .option(
      "--server",
      "instead: start a throwaway slipway server with a sample repository and run, and print the dashboard URL",
    )
    .option("--listen <host:port>", "with --server: where it listens (default 127.0.0.1 on a free port)")
    .action(async (flags) => {
      if (flags.server) {
        const { runDemoServer } = await import("./demo-server.js");
        process.exitCode = await runDemoServer({ dir: flags.dir, listen: flags.listen, json: flags.json });
        return;
      }
      process.exitCode = await runDemo(flags as DemoFlags);
    });
}

export async function runDemo(flags: DemoFlags): Promise<number> {
  const style = makeStyle({ json: flags.json });
  const say = (s: string) => process.stderr.write(`${style.bold(style.magenta(`demo: ${s}`))}\n`);
  const example = findExample();
  // Before anything is made: --docker without an engine is a usage error.
  const docker = await dockerChoice(flags.docker);
  const dir = prepareDir(flags.dir);
  const stateDir = join(dir, ".slipway");
  const dataDir = join(stateDir, "data");
  const runnerDir = join(stateDir, "runs");
  const releasesDir = join(stateDir, "releases");
  const paths = agentPaths(dataDir, demoApp, demoEnvironment);
  const bin = process.argv[1];
  // Every slipway the demo starts (the deploy job's, `releases`, `down`) uses the demo's own store: the
  // SQLite file under .slipway/data, whatever SLIPWAY_DATABASE says.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SLIPWAY_DATA_DIR_SERVER: dataDir,
    SLIPWAY_BIN: bin,
    SLIPWAY_NODE: process.execPath,
  };
  delete env.SLIPWAY_DATABASE;
  const cli = demoCli(bin, dir, env);

  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) {
      killAllGroups();
      process.exit(130);
    }
    process.stderr.write("\ninterrupted: stopping the demo (Ctrl-C again to quit at once)\n");
    controller.abort(new Error("cancelled by the user"));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const report: DemoReport = {
    ok: false,
    dir,
    dataDir,
    docker: { ...docker, images: [] },
    urls: { web: "", api: "" },
    stages: [],
    serving: null,
    probe: null,
    releases: [],
    kept: !!flags.keep,
    stopped: false,
    problems: [],
    notes: [],
  };

  const pipeline: PipelineContext = {
    dir,
    runnerDir,
    releasesDir,
    env,
    style,
    signal: controller.signal,
    report,
    say,
  };

  try {
    say(`making the demo repository in ${dir} (from ${example})`);
    const first = await makeDemoRepository(example, dir, ({ web, api }) => {
      report.urls = { web: `http://127.0.0.1:${web}`, api: `http://127.0.0.1:${api}` };
    });
    if (!report.docker.used) say(`images will not be built: ${report.docker.reason}`);

    const v1 = await runPipeline(pipeline, "v1", demoCommits.v1, first);
    const answered = await fetchVersion(`${report.urls.web}/`);
    if (answered !== v1.version)
      throw new OperationError(
        `after the v1 deploy, web answered ${answered ?? "nothing"} instead of ${v1.version}`,
      );
    say(`v1 (${v1.version}) serves at ${report.urls.web}/ — now v2, blue-green, under a load probe`);

    const second = await commitV2(example, dir);
    const probe = startProbe({ web: `${report.urls.web}/`, api: `${report.urls.api}/products` });
    let v2: DemoStage;
    try {
      v2 = await runPipeline(pipeline, "v2", demoCommits.v2, second);
      await sleep(500);
    } finally {
      report.probe = await probe.stop();
    }
    report.serving = await fetchVersion(`${report.urls.web}/`);
    if (report.serving !== v2.version)
      report.problems.push(
        `after the v2 deploy, web answers ${report.serving ?? "nothing"} instead of ${v2.version}`,
      );
    if (report.probe.failed > 0)
      report.problems.push(
        `the load probe saw ${plural(report.probe.failed, "failed request")} during the rollout`,
      );
  } catch (err) {
    report.problems.push(describeError(err));
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }

  const releases = await cli(["releases", "--json"]);
  if (releases.code === 0) report.releases = JSON.parse(releases.stdout) as ReleaseView[];
  if (!flags.keep) {
    say("stopping: slipway down");
    const down = await stopEnvironment(cli, paths);
    report.stopped = down.stopped;
    if (!down.stopped) report.problems.push(down.problem ?? "slipway down failed");
    await removeImages(report.docker.images, report.notes);
  }
  report.ok = report.problems.length === 0;
  if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(renderDemoReport(report, style));
  return report.ok ? 0 : 1;
}
