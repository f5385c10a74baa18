// A deploy notice as the notify domain's DeployEvent: what Slack messages and webhooks say about a release.
import type { DeployEvent } from "../notify/index.js";
import type { DeployNotice, ReleaseDocument } from "./controller.js";

export function deployEventOf(notice: DeployNotice): DeployEvent {
  const r = notice.release;
  const doc = r.spec as ReleaseDocument | undefined;
  const strategies = [...new Set(Object.values(notice.strategy))];
  const services = doc?.changed?.length ? doc.changed : Object.keys(notice.strategy);
  return {
    kind: "deploy",
    type: notice.type,
    id: `${r.app}/${r.env}/${r.number}/${notice.type}`,
    repository: r.app,
    environment: r.env,
    strategy: strategies.length === 0 ? "none" : strategies.join(", "),
    service: services.length > 0 ? services.join(", ") : undefined,
    version: r.version ?? `release #${r.number}`,
    previousVersion: notice.previousVersion,
    actor: r.actor,
    reason: r.error ?? undefined,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt ?? undefined,
  };
}
