// `slipway deploy --dry-run`: the deploy plan against what runs, as a diff a person reads (or, with
// --json, the plan document). Nothing is prepared, started or recorded: the current release comes from
// the store, what serves now from the environment's agent when one runs (else the release's record,
// which an agent converges to when it starts).
import {
  type AgentPaths,
  type ChangeReason,
  callAgent,
  type DeployPlan,
  type DeploySpec,
  type ImageRef,
  planDeploy,
  type ReleaseDocument,
  type ServicePlan,
} from "../deploy/index.js";
import type { Store } from "../store/index.js";

type AgentStatus = {
  services?: { name: string; revision: string | null; instances: { revision: string; state: string }[] }[];
};

/** Plans a deploy of `spec` to app/env without touching anything. */
export async function dryRunPlan(
  store: Store,
  paths: AgentPaths,
  target: { app: string; env: string },
  request: { spec: DeploySpec; only?: string[] },
): Promise<DeployPlan> {
  const current = await store.releases.current(target.app, target.env);
  const [latest] = await store.releases.list({ app: target.app, env: target.env, limit: 1 });
  const reply = await callAgent(paths.socketPath, "GET", "/status").catch(() => undefined);
  let live: Record<string, { revision?: string; ready: number }> | undefined;
  if (reply?.status === 200) {
    live = {};
    for (const s of (reply.body as AgentStatus).services ?? []) {
      const revision = s.revision ?? undefined;
      const ready = s.instances.filter((i) => i.revision === revision && i.state === "ready").length;
      live[s.name] = { revision, ready };
    }
  }
  return planDeploy(
    current && {
      number: current.number,
      version: current.version,
      doc: current.spec as ReleaseDocument,
      images: current.images as Record<string, ImageRef>,
    },
    { ...request, revision: `r${(latest?.number ?? 0) + 1}` },
    live,
  );
}

const reasonText: Record<Exclude<ChangeReason, "image" | "new" | "forced">, string> = {
  env: "env changed",
  secrets: "secrets changed",
  config: "config changed",
};

function changeText(p: ServicePlan): string {
  const parts: string[] = [];
  for (const reason of p.reasons ?? []) {
    if (reason === "image")
      parts.push(
        p.fromImage && p.fromImage !== p.image
          ? `image ${p.fromImage} → ${p.image}`
          : `image ${p.image} (new digest)`,
      );
    else if (reason === "forced") parts.push(`forced: ${p.detail ?? "not running as recorded"}`);
    else if (reason !== "new") parts.push(reasonText[reason]);
  }
  return parts.join(", ");
}

/** The plan as a diff: `~` rolls out, `+` new, `=` left as it runs, `-` removed. */
export function renderDeployPlan(plan: DeployPlan, env: string): string {
  const width = Math.max(
    0,
    ...plan.services.map((s) => s.name.length),
    ...plan.removed.map((s) => s.name.length),
  );
  const name = (n: string) => n.padEnd(width);
  const lines = [
    `plan for ${plan.app}/${env}${plan.current === undefined ? " (first release)" : ` (current release #${plan.current})`}:`,
  ];
  for (const p of plan.services) {
    if (p.skip)
      lines.push(
        `= ${name(p.name)}  ${p.revision} (${p.skip === "unchanged" ? "unchanged" : "not deployed: --service"})`,
      );
    else if (p.reasons?.includes("new"))
      lines.push(`+ ${name(p.name)}  ${p.revision} (new)  (${p.strategy})`);
    else {
      const what = changeText(p);
      lines.push(
        `~ ${name(p.name)}  ${p.from ?? "-"} → ${p.revision}${what ? `  ${what}` : ""}  (${p.strategy})`,
      );
    }
  }
  for (const r of plan.removed) lines.push(`- ${name(r.name)}  ${r.revision ?? "-"} (removed)`);
  const deploys = plan.changed.length;
  const kept = plan.services.length - deploys;
  lines.push(
    `${deploys} to deploy, ${kept} left as ${kept === 1 ? "it runs" : "they run"}, ${plan.removed.length} to remove`,
  );
  if (!plan.exact)
    lines.push(
      "nothing was prepared: a process service's changed files and changed secret values show only in the deploy",
    );
  return `${lines.join("\n")}\n`;
}
