// The smallest finished run, for tests of what is around runs (auth and roles, the API's bounds,
// metrics): a repository whose only workflow, quick.yml, is dispatched once and prints "quick ran".
import { addRepo, dispatchRun, makeRepo, waitForRun } from "./helpers.js";

/** A workflow_dispatch workflow with one job, `quick`, whose one step prints "quick ran". */
export const quickWorkflow = `name: Quick
on: workflow_dispatch
jobs:
  quick:
    runs-on: ubuntu-latest
    steps:
      - run: echo "quick ran"
`;

/**
 * Adds a repository holding `.github/workflows/quick.yml` (quickWorkflow) to the server as `name`,
 * dispatches quick.yml and waits for the run to complete; returns the run's id.
 */
export async function finishedQuickRun(
  server: { url: string; token: string },
  name: string,
): Promise<number> {
  const repo = makeRepo({ ".github/workflows/quick.yml": quickWorkflow });
  await addRepo(server, repo, name);
  const id = await dispatchRun(server, name, "quick.yml");
  await waitForRun(server, id);
  return id;
}
