// `slipway deploy agent` (hidden; started by the other deploy commands): an environment's agent in the
// foreground, with its store, the notifier that delivers its deploy notices, and the secrets its
// instances are given. It lives on after the command that started it, until idle or stopped.
import type { NotifyConfig } from "../config/index.js";
import { agentPaths, deployEventOf, startAgent } from "../deploy/index.js";
import { OperationError, UserError } from "../lib/errors.js";
import { Notifier } from "../notify/index.js";
import { createSecretStore, revealSecrets } from "../secrets/index.js";
import { openStore, type Store } from "../store/index.js";
import { existingMasterKey, localStoreOptions } from "./secret.js";

export async function runAgent(flags: {
  app: string;
  env: string;
  dataDir: string;
  database?: string;
  dockerHost?: string;
}) {
  const env = process.env;
  const opts = localStoreOptions({ dataDir: flags.dataDir, database: flags.database }, env);
  let store: Store;
  try {
    store = await openStore(opts);
  } catch (err) {
    throw new OperationError(`deploy agent: cannot open the store: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const paths = agentPaths(opts.dataDir, flags.app, flags.env);
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const idleTimeoutMs = agentIdleTimeoutMs(env);
  // Deliveries run in the agent, which lives on after the CLI: retries are not cut short by it exiting.
  const notifier = new Notifier({
    store,
    secret: (name, repo) =>
      createSecretStore(store, existingMasterKey(opts.dataDir, env)).lookup(name, {
        repo: repo ?? undefined,
      }),
    log,
  });
  await notifier.start();
  const agent = await startAgent({
    app: flags.app,
    env: flags.env,
    paths,
    store,
    dockerHost: flags.dockerHost ?? env.SLIPWAY_DOCKER_HOST,
    log,
    idleTimeoutMs,
    notify: (notice) => {
      if (notice.config)
        void notifier.send(deployEventOf(notice), notice.config as NotifyConfig, { scope: flags.app });
    },
    secrets: async (names) => {
      const secrets = createSecretStore(store, existingMasterKey(opts.dataDir, env));
      const all = revealSecrets(await secrets.resolve({ repo: flags.app, env: flags.env }));
      return Object.fromEntries(names.filter((n) => all[n] !== undefined).map((n) => [n, all[n]]));
    },
  });
  const stop = () => void agent.close({ stopInstances: false });
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  await agent.closed;
  await notifier.stop();
  await store.close();
  log("agent stopped");
}

/** SLIPWAY_AGENT_IDLE_TIMEOUT: seconds an agent with nothing to supervise lives on (default 600; 0: forever). */
function agentIdleTimeoutMs(env: NodeJS.ProcessEnv): number {
  const raw = env.SLIPWAY_AGENT_IDLE_TIMEOUT;
  if (raw === undefined || raw === "") return 600_000;
  const s = Number(raw);
  if (!Number.isFinite(s) || s < 0)
    throw new UserError(`SLIPWAY_AGENT_IDLE_TIMEOUT must be a number of seconds ≥ 0, got '${raw}'`);
  return Math.round(s * 1000);
}
