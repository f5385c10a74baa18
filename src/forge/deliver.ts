// One attempt at a queued forge report, as the notifier's deliverer for `{ forge: … }` targets: the
// repository's token is read and opened for this attempt only (a token changed or removed since the row
// was queued applies at once: removed, the report fails without a request), then the request is sent.
// A GitHub deployment is created once per deploy (its id is kept in the store) and its statuses reuse it.
import { DeliveryError, type TargetDeliverer } from "../notify/index.js";
import type { MasterKey, SecretValue } from "../secrets/index.js";
import type { Store } from "../store/index.js";
import {
  commentRequest,
  type DeploymentReport,
  deploymentRequest,
  deploymentStatusRequest,
  pullNumberOf,
  pullsOfCommitRequest,
  type StatusReport,
  statusRequest,
} from "./requests.js";
import { sendForgeRequest } from "./send.js";
import type { ForgeTarget } from "./target.js";
import { openForgeToken } from "./token.js";

/** The queue's channel for forge reports: not a valid notify: channel name, so it never collides. */
export const forgeChannel = "@forge";

export type ForgePayload =
  | { op: "status"; status: StatusReport }
  | { op: "deployment"; key: string; deployment: DeploymentReport }
  | { op: "comment"; sha: string; body: string };

export function forgeDeliverer(o: { store: Store; masterKey: MasterKey | undefined }): TargetDeliverer {
  return async (d, opts) => {
    const target = (d.target as { forge?: ForgeTarget }).forge;
    if (!target || d.scope === null) throw new DeliveryError("not a forge report", false);
    const repo = await o.store.repos.getByName(d.scope);
    if (!repo) throw new DeliveryError(`repository ${d.scope} no longer exists`, false);
    const sealed = await o.store.forge.tokenOf(repo.id);
    if (!sealed) throw new DeliveryError(`${repo.name} has no forge token any more`, false);
    let token: SecretValue;
    try {
      token = openForgeToken(o.masterKey, repo.name, sealed);
    } catch (err) {
      throw new DeliveryError(`cannot open the forge token: ${(err as Error).message}`, false);
    }
    const p = JSON.parse(d.payload) as ForgePayload;
    if (p.op === "status") {
      await sendForgeRequest(target, token, statusRequest(target, p.status), opts);
      return;
    }
    if (p.op === "deployment") {
      let id = await o.store.forge.deploymentId(repo.id, p.key);
      if (id === null) {
        const created = (await sendForgeRequest(
          target,
          token,
          deploymentRequest(target, p.deployment),
          opts,
        )) as {
          id?: number;
        };
        if (typeof created?.id !== "number")
          throw new DeliveryError("GitHub created no deployment (no id in its answer)", false);
        id = String(created.id);
        await o.store.forge.recordDeployment(repo.id, p.key, id);
      }
      await sendForgeRequest(target, token, deploymentStatusRequest(target, id, p.deployment), opts);
      return;
    }
    if (p.op === "comment") {
      const pulls = await sendForgeRequest(target, token, pullsOfCommitRequest(target, p.sha), opts);
      const pr = pullNumberOf(target.provider, pulls);
      // A commit pushed straight to a branch has no pull request: nothing to comment on.
      if (pr === undefined) return;
      await sendForgeRequest(target, token, commentRequest(target, pr, p.body), opts);
      return;
    }
    throw new DeliveryError("unknown forge report", false);
  };
}
