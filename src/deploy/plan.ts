// The deploy plan: from what the current release runs, what is asked for and what is live, which
// services roll out to which revision, which are left as they are, and which go away, each with its
// reason. No I/O: the controller applies a plan, `slipway deploy --dry-run` prints one.
//
// A plan is exact when the request carries what preparing found (image digests, process snapshots)
// and the secret values: then a service's hash is the one the release records, and "unchanged" means
// exactly what the controller will skip. Without them (a dry run prepares nothing) changes are judged
// by the spec alone: a process service's edited files or a rotated secret value do not show.
import { createHash } from "node:crypto";
import { specHash, startLevels } from "./spec.js";
import type { DeploySpec, ServiceSpec, StrategyName } from "./types.js";

/** What preparing a service found: the reference to start and its digest (a snapshot's content hash). */
export type ImageRef = { image?: string; digest?: string };

/** What a release record keeps in `spec`: the whole desired state of the environment. */
export type ReleaseDocument = {
  spec: DeploySpec;
  /** service → the revision (router version key, "r<release number>") that serves it. */
  revisions: Record<string, string>;
  /** service → hash of its spec, image and secret values: an unchanged hash keeps the revision. */
  hashes: Record<string, string>;
  /** Services this release rolled out (the others were carried over unchanged). */
  changed: string[];
  /** slipway.yaml's notify: section at deploy time (kept so a restart can still tell about this release). */
  notify?: unknown;
};

/** The current release as a plan sees it. */
export type CurrentRelease = {
  number: number;
  version?: string | null;
  doc: ReleaseDocument;
  images: Record<string, ImageRef>;
};

export type PlanRequest = {
  spec: DeploySpec;
  /** Only these services are deployed; the others keep what the current release runs. */
  only?: string[];
  /** The revision a changed service gets (the new release's, e.g. "r8"). */
  revision: string;
  /** A rollback names the revisions of the release it goes back to. */
  rollbackRevisions?: Record<string, string>;
  /** What preparing found and the secret values: makes the plan exact (hashes). */
  prepared?: { images: Record<string, ImageRef>; secrets: Record<string, string> };
};

/** What runs now, per service: the revision serving it and its ready instances. */
export type LiveState = Record<string, { revision?: string; ready: number }>;

/** Why a service rolls out. */
export type ChangeReason = "new" | "image" | "env" | "secrets" | "config" | "forced";
/** Why a service is left as it runs. */
export type SkipReason = "unchanged" | "not-selected";

export type ServicePlan = {
  name: string;
  /** The revision that serves the service once the plan is applied. */
  revision: string;
  /** The revision serving it now (undefined: nothing does). */
  from?: string;
  /** The hash the release records (undefined when the plan is not exact). */
  hash?: string;
  image?: string;
  fromImage?: string;
  strategy: StrategyName;
  replicas: number;
  /** Set when the service rolls out. */
  reasons?: ChangeReason[];
  /** Set when it does not. */
  skip?: SkipReason;
  /** forced: what differs between the record and what runs. */
  detail?: string;
};

export type DeployPlan = {
  app: string;
  /** The whole desired spec: the request's services, and with `only` the others as they are. */
  spec: DeploySpec;
  exact: boolean;
  /** The current release's number, when there is one. */
  current?: number;
  /** In start order (depends_on first). */
  services: ServicePlan[];
  /** Services in the current release and no longer in the spec: stopped after the rollout. */
  removed: { name: string; revision?: string }[];
  /** The services that roll out, in start order. */
  changed: string[];
  /** The strategy of each deployed (selected) service, as the release records it. */
  strategy: Record<string, StrategyName>;
  revisions: Record<string, string>;
  /** Only meaningful for an exact plan. */
  hashes: Record<string, string>;
};

export function planDeploy(
  current: CurrentRelease | undefined,
  request: PlanRequest,
  live?: LiveState,
): DeployPlan {
  const before = current?.doc;
  const selected = new Set((request.only ?? request.spec.services.map((s) => s.name)).filter(Boolean));
  const spec = desiredSpec(before?.spec, request);
  const removed =
    before && !request.only
      ? before.spec.services
          .filter((s) => !spec.services.some((m) => m.name === s.name))
          .map((s) => ({ name: s.name, revision: before.revisions[s.name] }))
      : [];
  const strategy: Record<string, StrategyName> = {};
  for (const s of spec.services) if (selected.has(s.name)) strategy[s.name] = s.strategy.type;
  const prepared = request.prepared;
  const services: ServicePlan[] = [];
  for (const s of spec.services) {
    const old = before?.spec.services.find((o) => o.name === s.name);
    const recorded = before?.revisions[s.name];
    const running = live ? live[s.name]?.revision : recorded;
    const image = prepared?.images[s.name]?.image ?? s.image;
    const base = {
      name: s.name,
      strategy: s.strategy.type,
      replicas: s.replicas,
      image,
      from: running,
      fromImage: current?.images[s.name]?.image ?? old?.image,
    };
    if (!selected.has(s.name) && recorded) {
      services.push({
        ...base,
        revision: recorded,
        hash: before.hashes[s.name],
        image: base.fromImage,
        skip: "not-selected",
      });
      continue;
    }
    const hash = prepared ? serviceHash(s, prepared.images[s.name], prepared.secrets) : undefined;
    const reasons =
      old && recorded
        ? changeReasons(s, old, prepared?.images[s.name], current?.images[s.name])
        : ["new" as const];
    const same = prepared ? before?.hashes[s.name] === hash : reasons.length === 0;
    const state = live?.[s.name];
    const asRecorded =
      !live || (state !== undefined && state.revision === recorded && state.ready >= s.replicas);
    if (recorded && same && asRecorded) {
      services.push({ ...base, revision: recorded, hash, skip: "unchanged" });
      continue;
    }
    const forced = recorded && same && !asRecorded;
    services.push({
      ...base,
      revision: request.rollbackRevisions?.[s.name] ?? request.revision,
      hash,
      // An exact hash that differs with nothing in the spec to show for it: the secret values changed
      // (or, for a process service, where its checkout lives).
      reasons: forced
        ? ["forced"]
        : reasons.length > 0
          ? reasons
          : s.secrets.length > 0
            ? ["secrets"]
            : ["config"],
      ...(forced
        ? {
            detail: `${state?.ready ?? 0}/${s.replicas} ready instance(s) of ${recorded}${state?.revision && state.revision !== recorded ? ` (${state.revision} serves)` : ""}`,
          }
        : {}),
    });
  }
  const revisions: Record<string, string> = {};
  const hashes: Record<string, string> = {};
  for (const p of services) {
    revisions[p.name] = p.revision;
    if (p.hash !== undefined) hashes[p.name] = p.hash;
  }
  return {
    app: spec.app,
    spec,
    exact: prepared !== undefined,
    current: current?.number,
    services,
    removed,
    changed: services.filter((p) => p.reasons).map((p) => p.name),
    strategy,
    revisions,
    hashes,
  };
}

/** The whole desired spec: the request's, and with `only` the current release's other services as they are. */
export function desiredSpec(
  before: DeploySpec | undefined,
  request: { spec: DeploySpec; only?: string[] },
): DeploySpec {
  const merged: DeploySpec = { ...request.spec, services: [...request.spec.services] };
  if (request.only && before) {
    const byName = new Map(request.spec.services.map((s) => [s.name, s]));
    merged.services = before.services.map((s) => byName.get(s.name) ?? s);
    for (const s of request.spec.services)
      if (!merged.services.some((m) => m.name === s.name)) merged.services.push(s);
    merged.services = orderByLevels(merged);
  }
  return merged;
}

/** What differs between a service's spec (and what preparing found) and the one running. */
function changeReasons(
  s: ServiceSpec,
  old: ServiceSpec,
  image?: ImageRef,
  oldImage?: ImageRef,
): ChangeReason[] {
  const reasons: ChangeReason[] = [];
  const digests = image?.digest !== undefined && oldImage?.digest !== undefined;
  if (s.image !== old.image || (digests && image.digest !== oldImage.digest)) reasons.push("image");
  if (!same(s.env, old.env)) reasons.push("env");
  if (!same(s.secrets, old.secrets)) reasons.push("secrets");
  // Where a snapshotted process service's checkout lies does not make it a new release (see serviceHash).
  const rest = (x: ServiceSpec, snapshot: boolean) => ({
    ...x,
    image: undefined,
    env: undefined,
    secrets: undefined,
    ...(snapshot ? { cwd: undefined } : {}),
  });
  // (a dry run has no digest for the new side: the current release's snapshot decides then).
  const snapshot = !!(image?.digest ?? oldImage?.digest);
  if (!same(rest(s, snapshot), rest(old, snapshot))) reasons.push("config");
  return reasons;
}

/** Equal as specHash sees them (canonical JSON: key order and undefined fields do not count). */
function same(a: unknown, b: unknown): boolean {
  return specHash(a as ServiceSpec) === specHash(b as ServiceSpec);
}

/** A service's identity across releases: spec, image or snapshot, and the secret values (hashed). */
export function serviceHash(
  s: ServiceSpec,
  image: ImageRef | undefined,
  secrets: Record<string, string>,
): string {
  const h = createHash("sha256");
  // A process service runs from a snapshot named by its content: where the checkout happened to be (a
  // workflow's fresh workspace) does not make it a new release.
  h.update(specHash(image?.digest ? { ...s, cwd: undefined } : s));
  h.update(`\0${image?.digest ?? image?.image ?? ""}`);
  for (const ref of s.secrets)
    h.update(
      `\0${ref.name}=${createHash("sha256")
        .update(secrets[ref.name] ?? "")
        .digest("hex")}`,
    );
  return h.digest("hex");
}

function orderByLevels(spec: DeploySpec): ServiceSpec[] {
  const byName = new Map(spec.services.map((s) => [s.name, s]));
  return startLevels(spec)
    .flat()
    .map((n) => byName.get(n)!);
}
