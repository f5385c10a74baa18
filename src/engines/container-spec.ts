// Containers and networks as data: what slipway wants, turned into Engine API request bodies by pure
// functions (tests compare the bodies; nothing runs).
import type Dockerode from "dockerode";

export type Mount =
  | { type: "bind"; source: string; target: string; readOnly?: boolean }
  | { type: "volume"; source: string; target: string; readOnly?: boolean }
  | { type: "tmpfs"; target: string; sizeBytes?: number };

export type PortBinding = {
  container: number;
  /** Host port; 0 or absent: the engine picks a free one. */
  host?: number;
  hostIp?: string;
  protocol?: "tcp" | "udp";
};

export type HealthCheck = {
  /** As in a Dockerfile: ["CMD", "wget", ...] or ["CMD-SHELL", "curl -f ..."]. */
  test: string[];
  intervalMs?: number;
  timeoutMs?: number;
  retries?: number;
  startPeriodMs?: number;
};

export type ContainerSpec = {
  image: string;
  name?: string;
  cmd?: string[];
  entrypoint?: string[];
  env?: Record<string, string>;
  labels?: Record<string, string>;
  workdir?: string;
  user?: string;
  mounts?: Mount[];
  ports?: PortBinding[];
  /** The network to attach at creation, with DNS aliases on it. */
  network?: { name: string; aliases?: string[] };
  healthcheck?: HealthCheck;
  extraHosts?: string[];
  autoRemove?: boolean;
  privileged?: boolean;
  tty?: boolean;
  /** Keep stdin open (for containers that idle on `cat`, as job containers do). */
  openStdin?: boolean;
  memoryBytes?: number;
  cpus?: number;
  /** What the engine does when the container exits: it keeps applying it while slipway is down. */
  restartPolicy?: RestartPolicy;
};

export type RestartPolicy = {
  name: "no" | "always" | "unless-stopped" | "on-failure";
  /** on-failure only: give up after this many restarts (0 or absent: no limit). */
  maximumRetryCount?: number;
};

const ns = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms * 1e6));

/** The body of POST /containers/create for a spec. */
export function containerCreateOptions(spec: ContainerSpec): Dockerode.ContainerCreateOptions {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp?: string; HostPort?: string }[]> = {};
  for (const p of spec.ports ?? []) {
    const key = `${p.container}/${p.protocol ?? "tcp"}`;
    exposed[key] = {};
    bindings[key] = bindings[key] ?? [];
    bindings[key].push({
      HostIp: p.hostIp ?? "",
      HostPort: p.host ? String(p.host) : "",
    });
  }
  const mounts = (spec.mounts ?? []).map(
    (m): Dockerode.MountSettings =>
      m.type === "tmpfs"
        ? ({
            Type: "tmpfs",
            Target: m.target,
            TmpfsOptions: m.sizeBytes ? { SizeBytes: m.sizeBytes } : {},
          } as unknown as Dockerode.MountSettings)
        : { Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.readOnly ?? false },
  );
  const body: Dockerode.ContainerCreateOptions = {
    Image: spec.image,
    Labels: spec.labels ?? {},
    Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
    Tty: spec.tty ?? false,
    OpenStdin: spec.openStdin ?? false,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    HostConfig: {
      AutoRemove: spec.autoRemove ?? false,
      Privileged: spec.privileged ?? false,
      Mounts: mounts,
      PortBindings: bindings,
      ExtraHosts: spec.extraHosts ?? [],
    },
  };
  if (spec.name) body.name = spec.name;
  if (spec.cmd) body.Cmd = spec.cmd;
  if (spec.entrypoint) body.Entrypoint = spec.entrypoint;
  if (spec.workdir) body.WorkingDir = spec.workdir;
  if (spec.user) body.User = spec.user;
  if (Object.keys(exposed).length) body.ExposedPorts = exposed;
  if (spec.memoryBytes) body.HostConfig!.Memory = spec.memoryBytes;
  if (spec.cpus) body.HostConfig!.NanoCpus = Math.round(spec.cpus * 1e9);
  if (spec.restartPolicy)
    body.HostConfig!.RestartPolicy = {
      Name: spec.restartPolicy.name,
      ...(spec.restartPolicy.name === "on-failure" && spec.restartPolicy.maximumRetryCount
        ? { MaximumRetryCount: spec.restartPolicy.maximumRetryCount }
        : {}),
    };
  if (spec.network) {
    body.HostConfig!.NetworkMode = spec.network.name;
    body.NetworkingConfig = {
      EndpointsConfig: { [spec.network.name]: { Aliases: spec.network.aliases ?? [] } },
    };
  }
  if (spec.healthcheck) {
    const h = spec.healthcheck;
    body.Healthcheck = {
      Test: h.test,
      Interval: ns(h.intervalMs),
      Timeout: ns(h.timeoutMs),
      Retries: h.retries,
      StartPeriod: ns(h.startPeriodMs),
    };
  }
  return body;
}

/** Engine API label filters (`{"label": ["k=v", ...]}`) for a set of labels. */
export function labelFilters(labels: Record<string, string> | undefined): Record<string, string[]> {
  const entries = Object.entries(labels ?? {});
  return entries.length ? { label: entries.map(([k, v]) => (v === "" ? k : `${k}=${v}`)) } : {};
}
