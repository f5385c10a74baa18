// Webhook intake: from an HTTP delivery to the runs it starts, at most once.
// - On a per-repository URL (`/hooks/<provider>/<repo>`) the secret is known before the body: the raw
//   bytes go through the HMAC as they arrive and a forged body is refused when it ends, never decoded
//   or parsed. On the legacy URL (`/hooks/<provider>`) the body names the repository, so it is parsed
//   first (the route bounds it more tightly) and verified after.
// - An unknown repository is refused exactly as a bad signature is (same status, same body), so the
//   endpoint does not tell which repositories exist.
// - A delivery is recorded `pending` with its event before its runs are created and `processed` with
//   their ids after; a crash in between leaves it pending, and the next start (or the sender's
//   redelivery) finishes it. A redelivery of a processed id, or the same body under a new id within the
//   replay window, starts nothing.
import { createHash, randomBytes } from "node:crypto";
import { openWebhookSecret } from "../secrets/index.js";
import type { MasterKey } from "../secrets/index.js";
import type { Repo, Run, Store } from "../store/index.js";
import {
  bodySha256,
  maxWebhookBody,
  type ParsedWebhook,
  parseWebhook,
  repositoryMatches,
  signatureCheck,
  toTriggerEvent,
  verifySignature,
  WebhookError,
  type WebhookHeaders,
  type WebhookProvider,
} from "../triggers/index.js";
import type { TriggerEvent } from "../workflow/index.js";

export type WebhookIntakeOptions = {
  /** Webhook body bytes held in memory at once over the whole server; beyond it: 503. Default 64 MiB. */
  maxInflightBytes?: number;
  /** The largest body the legacy URL `/hooks/<provider>` takes (it parses before verifying). Default 5 MiB. */
  legacyMaxBody?: number;
  /** How long a body is remembered per repository, so a replay under a new delivery id starts nothing. Default 24 h. */
  replayWindowMs?: number;
};

export const webhookIntakeDefaults = {
  maxInflightBytes: 64 * 1024 * 1024,
  legacyMaxBody: 5 * 1024 * 1024,
  /** The per-repository URL takes what GitHub sends at most. */
  maxBody: maxWebhookBody,
  replayWindowMs: 24 * 60 * 60 * 1000,
} as const;

export type WebhookLimits = {
  maxInflightBytes: number;
  legacyMaxBody: number;
  maxBody: number;
  replayWindowMs: number;
};

export function webhookLimits(opts: WebhookIntakeOptions = {}): WebhookLimits {
  return {
    maxInflightBytes: opts.maxInflightBytes ?? webhookIntakeDefaults.maxInflightBytes,
    legacyMaxBody: opts.legacyMaxBody ?? webhookIntakeDefaults.legacyMaxBody,
    maxBody: webhookIntakeDefaults.maxBody,
    replayWindowMs: opts.replayWindowMs ?? webhookIntakeDefaults.replayWindowMs,
  };
}

/** What the route gives the intake: the body is read only through `readBody`, when the intake asks. */
export type WebhookRequest = {
  provider: WebhookProvider;
  headers: WebhookHeaders;
  /** The repository a per-repository URL names; undefined on the legacy URL. */
  repoName?: string;
  /** Reads the (bounded) body, feeding `onChunk` as bytes arrive; `keep: false` drops them. */
  readBody: (sink?: { onChunk?: (chunk: Uint8Array) => void; keep?: boolean }) => Promise<Buffer>;
};

import { forkVerdict } from "./forks.js";

export type WebhookResponse = { status: number; body: Record<string, unknown> };

export type WebhookIntakeDeps = {
  store: Store;
  masterKey?: MasterKey;
  limits: WebhookLimits;
  /** Creates the runs the event triggers (CiService.triggerEvent). */
  trigger: (repo: Repo, event: TriggerEvent, deliveryId: string) => Promise<Run[]>;
  log?: (line: string) => void;
};

/** The one answer to a delivery that is not proven to come from a registered repository's sender. */
function refused(): WebhookError {
  return new WebhookError(401, "signature verification failed");
}

/** The event as stored with a pending delivery (TriggerEvent before the server adds sha and ref). */
type StoredEvent = { name: string; payload: Record<string, unknown>; changedFiles?: string[] };

export class WebhookIntake {
  private readonly deps: WebhookIntakeDeps;
  /** Deliveries whose runs this process is creating now: a concurrent redelivery must not create them too. */
  private readonly inProgress = new Set<string>();

  constructor(deps: WebhookIntakeDeps) {
    this.deps = deps;
  }

  private async secretOf(repo: Repo): Promise<string> {
    const stored = await this.deps.store.repos.webhookSecret(repo.id);
    return stored ? openWebhookSecret(this.deps.masterKey, repo.name, stored) : "";
  }

  async handle(req: WebhookRequest): Promise<WebhookResponse> {
    return req.repoName === undefined ? this.handleLegacy(req) : this.handlePerRepo(req, req.repoName);
  }

  /** `/hooks/<provider>/<repo>`: verified on the raw bytes as they stream; parsed only when genuine. */
  private async handlePerRepo(req: WebhookRequest, repoName: string): Promise<WebhookResponse> {
    const repo = await this.deps.store.repos.getByName(repoName);
    // An unknown repository costs the same HMAC as a known one, under a key nobody has, and is
    // answered the same: the endpoint does not tell which names exist.
    const secret = repo ? await this.secretOf(repo) : randomBytes(24).toString("base64url");
    const check = signatureCheck(req.provider, req.headers, secret);
    if (check === undefined) throw refused(); // unsigned: refused before the body is read
    const hash = createHash("sha256");
    const body = await req.readBody({
      onChunk: (chunk) => {
        check.update(chunk);
        hash.update(chunk);
      },
      keep: repo !== null,
    });
    if (repo === null || !check.verify()) throw refused();
    const parsed = parseWebhook(req.provider, req.headers, body);
    const named = parsed.repository;
    if (
      (named.fullName !== undefined || named.cloneUrls.length > 0) &&
      !(repositoryMatches(named, repo.url) || named.fullName === repo.name)
    )
      throw new WebhookError(
        422,
        `the delivery is for ${JSON.stringify(named.fullName ?? named.cloneUrls[0])}, not for ${repo.name}`,
      );
    return this.accept(repo, parsed, hash.digest("hex"));
  }

  /** `/hooks/<provider>`: the body names the repository, so it is parsed first (bounded by the route). */
  private async handleLegacy(req: WebhookRequest): Promise<WebhookResponse> {
    const body = await req.readBody();
    const parsed = parseWebhook(req.provider, req.headers, body);
    const repos = await this.deps.store.repos.list();
    const repo = repos.find(
      (r) => repositoryMatches(parsed.repository, r.url) || r.name === parsed.repository.fullName,
    );
    if (!repo) throw refused();
    const secret = await this.secretOf(repo);
    if (!(await verifySignature(req.provider, req.headers, body, secret))) throw refused();
    return this.accept(repo, parsed, bodySha256(body));
  }

  /** A genuine delivery: deduped on its id and on its body, then its runs are created once. */
  private async accept(repo: Repo, parsed: ParsedWebhook, bodyHash: string): Promise<WebhookResponse> {
    const { provider, deliveryId } = parsed;
    if (parsed.kind === "ping") return { status: 200, body: { ok: true, ping: true, repository: repo.name } };
    // Claimed before the store is asked, so a concurrent redelivery of this id (which would find it
    // pending) never creates the runs a second time.
    const key = `${provider}\u0000${deliveryId}`;
    if (this.inProgress.has(key))
      return { status: 200, body: { ok: true, duplicate: true, inProgress: true, deliveryId } };
    this.inProgress.add(key);
    try {
      return await this.acceptClaimed(repo, parsed, bodyHash);
    } finally {
      this.inProgress.delete(key);
    }
  }

  private async acceptClaimed(repo: Repo, parsed: ParsedWebhook, bodyHash: string): Promise<WebhookResponse> {
    const { provider, deliveryId } = parsed;
    const event = parsed.kind === "event" ? toTriggerEvent(parsed) : undefined;
    const stored: StoredEvent | null = event
      ? {
          name: event.name,
          payload: event.payload,
          ...(event.changedFiles ? { changedFiles: event.changedFiles } : {}),
        }
      : null;
    const begun = await this.deps.store.deliveries.begin({
      provider,
      deliveryId,
      event: parsed.eventName ?? "",
      repoId: repo.id,
      bodySha256: bodyHash,
      payload: stored,
      replayWindowMs: this.deps.limits.replayWindowMs,
    });
    if (begun.outcome === "duplicate")
      return {
        status: 200,
        body: { ok: true, duplicate: true, deliveryId, runs: begun.delivery.runIds },
      };
    if (begun.outcome === "replay")
      return {
        status: 200,
        body: { ok: true, duplicate: true, replayOf: begun.of.deliveryId, deliveryId },
      };
    if (parsed.kind === "ignored" || event === undefined) {
      await this.deps.store.deliveries.markProcessed(provider, deliveryId, []);
      return { status: 202, body: { ok: true, ignored: parsed.reason ?? "ignored" } };
    }
    const verdict = forkVerdict(repo.forkPullRequests, event);
    if ("ignored" in verdict) {
      await this.deps.store.deliveries.markProcessed(provider, deliveryId, []);
      return { status: 202, body: { ok: true, ignored: verdict.ignored } };
    }
    const runs = await this.createRuns(repo, provider, deliveryId, event);
    return { status: 202, body: { ok: true, deliveryId, runs } };
  }

  /**
   * Creates the runs of a pending delivery (claimed in `inProgress` by the caller) and marks it
   * processed. Runs that exist already for this delivery (created just before a crash) are taken as
   * its runs, not created again. When creating them fails, the delivery is forgotten, so the sender's
   * redelivery can try again.
   */
  private async createRuns(
    repo: Repo,
    provider: string,
    deliveryId: string,
    event: TriggerEvent,
  ): Promise<number[]> {
    const deliveries = this.deps.store.deliveries;
    const existing = await deliveries.runIdsOf(repo.id, deliveryId);
    if (existing.length > 0) {
      await deliveries.markProcessed(provider, deliveryId, existing);
      return existing;
    }
    let runs: Run[];
    try {
      runs = await this.deps.trigger(repo, event, deliveryId);
    } catch (err) {
      await deliveries.forget(provider, deliveryId).catch(() => {});
      throw err;
    }
    const ids = runs.map((r) => r.id);
    await deliveries.markProcessed(provider, deliveryId, ids);
    return ids;
  }

  /**
   * Finishes the deliveries a previous process recorded but did not process (it stopped between
   * receiving them and creating their runs). Returns how many were finished; failures are logged and
   * forgotten (a redelivery can still try again).
   */
  async resumePending(): Promise<number> {
    let done = 0;
    for (const d of await this.deps.store.deliveries.pending()) {
      const key = `${d.provider}\u0000${d.deliveryId}`;
      if (this.inProgress.has(key)) continue;
      const repo = d.repoId === null ? null : await this.deps.store.repos.get(d.repoId);
      const stored = d.payload as StoredEvent | null;
      if (repo === null || stored === null || typeof stored !== "object") {
        await this.deps.store.deliveries.markProcessed(d.provider, d.deliveryId, []);
        continue;
      }
      const event: TriggerEvent = { name: stored.name, payload: stored.payload };
      if (stored.changedFiles) event.changedFiles = stored.changedFiles;
      this.inProgress.add(key);
      try {
        const runs = await this.createRuns(repo, d.provider, d.deliveryId, event);
        this.deps.log?.(
          `webhook delivery ${d.deliveryId} (${repo.name}) was received before a restart: started runs ${runs.join(", ") || "(none)"}`,
        );
        done++;
      } catch (err) {
        this.deps.log?.(
          `webhook delivery ${d.deliveryId} (${repo.name}) received before a restart could not start its runs: ${(err as Error).message}`,
        );
      } finally {
        this.inProgress.delete(key);
      }
    }
    return done;
  }
}
