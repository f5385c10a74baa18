// The translation of a compose file's services into a deploy section, service by service; each part of a
// service (ports, env and secrets, volumes, health) has its own module. Unsupported keys are named in
// warnings with their position, never dropped silently.
import { serviceNamePattern } from "../../config/index.js";
import { type Problem, UserError } from "../../lib/errors.js";
import { formatDuration } from "../../lib/format.js";
import { type ImportContext, isRecord, type Json, type Locator, type Path } from "./context.js";
import { mapEnvironment, mapSecrets } from "./env.js";
import { mapDependsOn, mapHealth } from "./health.js";
import { mapPorts, type PortBook } from "./ports.js";
import { order } from "./render.js";
import { composeDuration, secretName, splitCommand } from "./values.js";
import { mapVolumes } from "./volumes.js";

/** Keys of a compose service slipway translates; every other key gets a warning. */
const handledKeys = new Set([
  "image",
  "build",
  "command",
  "ports",
  "expose",
  "environment",
  "volumes",
  "depends_on",
  "healthcheck",
  "deploy",
  "restart",
  "secrets",
  "stop_grace_period",
  "mem_limit",
  "cpus",
  "scale",
]);

const why: Record<string, string> = {
  container_name: "slipway names containers itself (app, environment, service, release)",
  env_file: "move its variables to env, and the sensitive ones to secrets",
  entrypoint: "slipway overrides only the image's CMD (command); bake the entrypoint into the image",
  profiles: "every service is imported",
  extends: "it names another file; merge it by hand",
  working_dir: "set it in the image (WORKDIR)",
  user: "set it in the image (USER)",
};

export class Importer implements ImportContext {
  readonly warnings: Problem[] = [];
  private readonly loc: Locator;
  readonly data: Json;
  /** compose name → slipway name. */
  readonly names = new Map<string, string>();
  private readonly interpolated = new Set<string>();
  private readonly book: PortBook = { published: [], loopback: [] };

  constructor(loc: Locator, data: Json) {
    this.loc = loc;
    this.data = data;
  }

  get file(): string {
    return this.loc.file;
  }

  warn(path: Path, message: string, key = false): void {
    this.warnings.push(this.loc.problem(path, message, key));
  }

  /**
   * Text from the compose file. compose substitutes variables from its shell when it reads the file; slipway
   * does not, so `${VAR:-default}` becomes its default, `${VAR}` is kept as written (with a warning), and
   * `$$` (compose's escaped `$`) becomes `$`.
   */
  text(path: Path, value: unknown, service: string): string {
    const parts = String(value).split("$$");
    const substituted = parts.map((p) => p.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}/g, "$1"));
    const changed = substituted.some((p, i) => p !== parts[i]);
    const left = substituted.some((p) => /\$(\{|[A-Za-z_])/.test(p));
    if ((changed || left) && !this.interpolated.has(service)) {
      this.interpolated.add(service);
      this.warn(
        path,
        `service '${service}': compose substitutes variables, slipway does not: ${changed ? "${VAR:-default} became its default" : ""}${changed && left ? "; " : ""}${left ? "${VAR} is kept as written (use env or secrets)" : ""}`,
      );
    }
    return substituted.join("$");
  }

  /** The compose name of a service slipway calls `slip`. */
  composeName(slip: string | undefined): string | undefined {
    return [...this.names].find(([, s]) => s === slip)?.[0];
  }

  run(app: string | undefined): Json {
    const data = this.data;
    for (const key of Object.keys(data)) {
      if (key === "name" && app === undefined)
        this.warn(
          [key],
          `name '${String(data.name)}' is not a valid app name: set deploy.app (a-z, 0-9, '.', '_', '-')`,
        );
      if (key === "services" || key === "version" || key === "name" || key.startsWith("x-")) continue;
      if (key === "volumes") this.topVolumes();
      else if (key === "secrets") this.topSecrets();
      else this.warn([key], `${key} is not supported by slipway (ignored)`, true);
    }
    const services = data.services;
    if (!isRecord(services) || Object.keys(services).length === 0)
      throw new UserError(`${this.loc.file} has no services`, [
        this.loc.problem(["services"], "expected a mapping of services"),
      ]);
    for (const name of Object.keys(services)) {
      let slip = name.toLowerCase().replace(/[^a-z0-9_.-]/g, "-");
      if (!serviceNamePattern.test(slip)) slip = `s-${slip}`;
      if (slip !== name)
        this.warn(
          ["services", name],
          `service '${name}' is called '${slip}' (slipway's names are lower-case)`,
          true,
        );
      if ([...this.names.values()].includes(slip))
        throw new UserError(`cannot import ${this.loc.file}`, [
          this.loc.problem(
            ["services", name],
            `service '${name}' becomes '${slip}', which another service is already called`,
            true,
          ),
        ]);
      this.names.set(name, slip);
    }
    const out: Json = {};
    for (const [name, raw] of Object.entries(services)) {
      if (!isRecord(raw))
        throw new UserError(`cannot import ${this.loc.file}`, [
          this.loc.problem(["services", name], `service '${name}' should be a mapping`),
        ]);
      out[this.names.get(name)!] = this.service(name, raw, app);
    }
    if (this.book.loopback.length)
      this.warnings.push({
        file: this.loc.file,
        message: `publish listens on 127.0.0.1 unless it names a host (compose listens on 0.0.0.0): write publish: "0.0.0.0:PORT" to be reachable from other machines (${this.book.loopback.join(", ")})`,
      });
    return { ...(app !== undefined && { app }), services: out };
  }

  private topVolumes(): void {
    const volumes = this.data.volumes;
    if (!isRecord(volumes)) return;
    for (const [name, v] of Object.entries(volumes)) {
      if (!isRecord(v)) continue;
      for (const key of Object.keys(v))
        this.warn(
          ["volumes", name, key],
          `volume '${name}': ${key} is not supported (slipway creates named volumes with the default driver)`,
          true,
        );
    }
  }

  private topSecrets(): void {
    const secrets = this.data.secrets;
    if (!isRecord(secrets)) return;
    for (const [name, v] of Object.entries(secrets)) {
      const from = isRecord(v) ? (v.file ?? (v.environment ? `$${v.environment}` : undefined)) : undefined;
      this.warn(
        ["secrets", name],
        `secret '${name}' is the slipway secret ${secretName(name)}: store its value with \`slipway secret set ${secretName(name)}\`${from ? ` (compose read it from ${from})` : ""}`,
        true,
      );
    }
  }

  private service(name: string, s: Json, app: string | undefined): Json {
    const at = (...p: Path): Path => ["services", name, ...p];
    const out: Json = {};
    for (const key of Object.keys(s)) {
      if (handledKeys.has(key) || key.startsWith("x-")) continue;
      this.warn(
        at(key),
        `service '${name}': ${key} is not supported (ignored)${why[key] ? `: ${why[key]}` : ""}`,
        true,
      );
    }

    if (s.image !== undefined) out.image = this.text(at("image"), s.image, name);
    if (s.build !== undefined) {
      const b = isRecord(s.build) ? s.build : { context: s.build };
      if (out.image === undefined) out.image = `${app ? `${app}-` : ""}${this.names.get(name)}`;
      const parts = [`context: ${b.context ?? "."}`];
      if (b.dockerfile !== undefined) parts.push(`dockerfile: ${b.dockerfile}`);
      if (b.target !== undefined) parts.push(`target: ${b.target}`);
      if (b.args !== undefined) parts.push("args: ...");
      parts.push(`image: ${out.image}`);
      this.warn(
        at("build"),
        `service '${name}': build is not part of deploy: describe the image in slipway.yaml's build: section (build.services.${this.names.get(name)}: { ${parts.join(", ")} }); deploy uses image ${out.image}`,
        true,
      );
    }
    if (out.image === undefined)
      throw new UserError(`cannot import ${this.loc.file}`, [
        this.loc.problem(at(), `service '${name}' has neither image nor build`, true),
      ]);

    if (s.command !== undefined) this.command(at("command"), s.command, name, out);

    if (s.deploy !== undefined && isRecord(s.deploy)) this.deploy(name, s.deploy, out);
    else if (s.scale !== undefined) out.replicas = s.scale;
    if (s.deploy !== undefined && s.scale !== undefined)
      this.warn(at("scale"), `service '${name}': scale is ignored, deploy.replicas is used`, true);

    mapPorts(this, this.book, name, s, out);

    const env = mapEnvironment(this, name, s.environment);
    if (env) out.env = env;

    const secrets = mapSecrets(this, name, s.secrets);
    if (secrets?.length) out.secrets = secrets;

    const volumes = mapVolumes(this, name, s.volumes);
    if (volumes?.length) out.volumes = volumes;

    const health = mapHealth(this, name, s.healthcheck);
    if (health) out.health = health;

    const deps = mapDependsOn(this, name, s.depends_on);
    if (deps) out.depends_on = deps;

    if (out.resources === undefined && (s.mem_limit !== undefined || s.cpus !== undefined)) {
      const r: Json = {};
      if (s.mem_limit !== undefined) r.memory = String(s.mem_limit);
      if (s.cpus !== undefined) r.cpus = Number(s.cpus);
      out.resources = r;
    }

    if (s.restart !== undefined) {
      const r = String(s.restart);
      const m = /^on-failure(?::(\d+))?$/.exec(r);
      if (m?.[1])
        this.warn(at("restart"), `service '${name}': the ${m[1]} retries of on-failure are not kept`);
      if (r === "always" || r === "unless-stopped") out.restart = "always";
      else if (m) out.restart = "on-failure";
      else if (r === "no" || r === "false") out.restart = "no";
      else this.warn(at("restart"), `service '${name}': unknown restart policy '${r}' (ignored)`);
    }

    if (s.stop_grace_period !== undefined) {
      const ms = composeDuration(s.stop_grace_period);
      if (ms === undefined)
        this.warn(at("stop_grace_period"), `service '${name}': unreadable duration (ignored)`);
      else out.stop_timeout = formatDuration(ms, "exact");
    }
    return order(out);
  }

  private command(path: Path, value: unknown, name: string, out: Json): void {
    if (Array.isArray(value)) {
      out.command = value.map((w, i) => this.text([...path, i], w, name));
      return;
    }
    const text = this.text(path, value, name);
    // compose splits a string command into words without a shell; a list keeps that meaning in slipway
    // (a string would run through sh -c, which the image may not have).
    const words = splitCommand(text);
    if (words?.length) out.command = words;
    else {
      this.warn(path, `service '${name}': unbalanced quotes in command: kept as a shell command`);
      out.command = text;
    }
  }

  private deploy(name: string, d: Json, out: Json): void {
    const at = (...p: Path): Path => ["services", name, "deploy", ...p];
    for (const [key, v] of Object.entries(d)) {
      if (key === "replicas") out.replicas = v;
      else if (key === "mode" && v === "replicated") continue;
      else if (key === "resources" && isRecord(v)) {
        for (const k of Object.keys(v))
          if (k !== "limits")
            this.warn(
              at("resources", k),
              `service '${name}': deploy.resources.${k} is not supported (ignored)`,
              true,
            );
        if (isRecord(v.limits)) {
          const r: Json = {};
          for (const [k, l] of Object.entries(v.limits)) {
            if (k === "memory") r.memory = String(l);
            else if (k === "cpus") r.cpus = Number(l);
            else
              this.warn(
                at("resources", "limits", k),
                `service '${name}': limits.${k} is not supported (ignored)`,
                true,
              );
          }
          if (Object.keys(r).length) out.resources = r;
        }
      } else if (key === "restart_policy" && isRecord(v)) {
        const policy = { any: "always", "on-failure": "on-failure", none: "no" }[
          String(v.condition ?? "any")
        ];
        const r: Json = { policy: policy ?? "always" };
        const delay = composeDuration(v.delay);
        if (delay !== undefined) r.backoff = formatDuration(delay, "exact");
        for (const k of Object.keys(v))
          if (k !== "condition" && k !== "delay")
            this.warn(
              at("restart_policy", k),
              `service '${name}': restart_policy.${k} is not supported (ignored)`,
              true,
            );
        if (out.restart === undefined) out.restart = r;
      } else if (key === "update_config" && isRecord(v)) {
        const parallelism = typeof v.parallelism === "number" && v.parallelism > 0 ? v.parallelism : 1;
        out.strategy =
          v.order === "start-first"
            ? { type: "rolling", max_surge: parallelism, max_unavailable: 0 }
            : { type: "rolling", max_surge: 0, max_unavailable: parallelism };
        for (const k of Object.keys(v))
          if (k !== "parallelism" && k !== "order")
            this.warn(
              at("update_config", k),
              `service '${name}': update_config.${k} is not supported (ignored)`,
              true,
            );
      } else this.warn(at(key), `service '${name}': deploy.${key} is not supported (ignored)`, true);
    }
  }
}
