// Importing a docker-compose.yml: its services become a `deploy:` section of slipway.yaml (printed by
// `slipway deploy import-compose`). What has an equivalent is translated; everything else is named in a
// warning with its file:line:col, so nothing is dropped silently. The result always validates with the
// deploy section's schema. Pure: the caller reads the file and prints the result.
import { dirname } from "node:path";
import { Document, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument, visit } from "yaml";
import {
  appNamePattern,
  deploySection,
  envNamePattern,
  parseDuration,
  secretNamePattern,
  serviceNamePattern,
  volumeNamePattern,
} from "../config/index.js";
import { formatProblem, type Problem, UserError } from "../lib/errors.js";

export type ComposeImport = {
  /** slipway.yaml text with a `deploy:` section (warnings repeated as comments at the top). */
  yaml: string;
  /** The same document as data: `{ deploy: { ... } }`. */
  config: unknown;
  /** `file:line:col: message` for everything not imported as it was. */
  warnings: string[];
};

type Path = (string | number)[];
type Json = Record<string, unknown>;

const isRecord = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Where things are in the compose file, for problems and warnings. */
class Locator {
  private readonly doc: Document;
  private readonly lines: LineCounter;
  readonly file: string;

  constructor(doc: Document, lines: LineCounter, file: string) {
    this.doc = doc;
    this.lines = lines;
    this.file = file;
  }

  /** The position of the value at path (of its key when `key`), else of its nearest ancestor. */
  private position(path: Path, key: boolean): { line?: number; col?: number } {
    let node: unknown = this.doc.contents;
    let best: Node | undefined = isScalar(node) || isMap(node) || isSeq(node) ? (node as Node) : undefined;
    for (const part of path) {
      if (isMap(node)) {
        const pair = node.items.find(
          (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(part),
        );
        if (!pair) break;
        best = (key && part === path.at(-1) ? pair.key : (pair.value ?? pair.key)) as Node;
        node = pair.value;
      } else if (isSeq(node) && typeof part === "number" && node.items[part]) {
        node = node.items[part];
        best = node as Node;
      } else break;
    }
    const offset = best?.range?.[0];
    return offset === undefined ? {} : this.lines.linePos(offset);
  }

  problem(path: Path, message: string, key = false): Problem {
    return { file: this.file, ...this.position(path, key), message };
  }
}

/** Splits a command line as compose does (no shell): quotes group words, a backslash escapes. */
export function splitCommand(text: string): string[] | undefined {
  const words: string[] = [];
  let word = "";
  let started = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === "\\" && i + 1 < text.length && '"\\$`'.includes(text[i + 1])) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      started = true;
    } else if (c === "\\" && i + 1 < text.length) {
      word += text[++i];
      started = true;
    } else if (/\s/.test(c)) {
      if (started) words.push(word);
      word = "";
      started = false;
    } else {
      word += c;
      started = true;
    }
  }
  if (quote) return undefined;
  if (started) words.push(word);
  return words;
}

/** Milliseconds from a compose (Go) duration: "1m30s", "500ms", "10us", "2h"; a number is seconds. */
function composeDuration(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value * 1000;
  if (typeof value !== "string") return undefined;
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  const parts = [...value.trim().matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== value.trim()) return undefined;
  return parts.reduce((ms, p) => ms + Number(p[1]) * units[p[2]], 0);
}

/** "1m30s", "500ms", "2h": the shortest text parseDuration reads back as the same milliseconds. */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms);
  if (rest === 0) return "0s";
  let text = "";
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
    ["ms", 1],
  ] as const) {
    if (rest >= size) {
      text += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return text;
}

/** A compose secret or volume name as a slipway name: upper-cased, other characters replaced by '_'. */
function secretName(name: string): string {
  const upper = name.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
  return /^[0-9]/.test(upper) ? `_${upper}` : upper;
}

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

/** Well-known ports of services that do not speak HTTP. */
const nonHttpPorts: Record<number, string> = {
  5432: "PostgreSQL",
  3306: "MySQL",
  6379: "Redis",
  27017: "MongoDB",
  5672: "AMQP",
  9092: "Kafka",
  11211: "memcached",
  1433: "SQL Server",
  9042: "Cassandra",
  2181: "ZooKeeper",
  4222: "NATS",
  25: "SMTP",
  53: "DNS",
};

const why: Record<string, string> = {
  container_name: "slipway names containers itself (app, environment, service, release)",
  env_file: "move its variables to env, and the sensitive ones to secrets",
  entrypoint: "slipway overrides only the image's CMD (command); bake the entrypoint into the image",
  profiles: "every service is imported",
  extends: "it names another file; merge it by hand",
  working_dir: "set it in the image (WORKDIR)",
  user: "set it in the image (USER)",
};

class Importer {
  readonly warnings: Problem[] = [];
  private readonly loc: Locator;
  private readonly data: Json;
  /** compose name → slipway name. */
  private readonly names = new Map<string, string>();
  private readonly interpolated = new Set<string>();
  private readonly loopback: string[] = [];
  private readonly published: { service: string; host: string; port: number }[] = [];

  constructor(loc: Locator, data: Json) {
    this.loc = loc;
    this.data = data;
  }

  private warn(path: Path, message: string, key = false): void {
    this.warnings.push(this.loc.problem(path, message, key));
  }

  /**
   * Text from the compose file. compose substitutes variables from its shell when it reads the file; slipway
   * does not, so `${VAR:-default}` becomes its default, `${VAR}` is kept as written (with a warning), and
   * `$$` (compose's escaped `$`) becomes `$`.
   */
  private text(path: Path, value: unknown, service: string): string {
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
    if (this.loopback.length)
      this.warnings.push({
        file: this.loc.file,
        message: `publish listens on 127.0.0.1 unless it names a host (compose listens on 0.0.0.0): write publish: "0.0.0.0:PORT" to be reachable from other machines (${this.loopback.join(", ")})`,
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

    this.ports(name, s, out);

    const env = this.environment(name, s.environment);
    if (env) out.env = env;

    const secrets = this.secrets(name, s.secrets);
    if (secrets?.length) out.secrets = secrets;

    const volumes = this.volumes(name, s.volumes);
    if (volumes?.length) out.volumes = volumes;

    const health = this.health(name, s.healthcheck);
    if (health) out.health = health;

    const deps = this.dependsOn(name, s.depends_on);
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
      else out.stop_timeout = formatDuration(ms);
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
        if (delay !== undefined) r.backoff = formatDuration(delay);
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

  private ports(name: string, s: Json, out: Json): void {
    const at = (...p: Path): Path => ["services", name, ...p];
    type Port = { container: number; host?: number; hostIp?: string };
    const parsed: { port: Port | undefined; path: Path }[] = [];
    (Array.isArray(s.ports) ? s.ports : []).forEach((p, i) => {
      parsed.push({ port: this.port(name, at("ports", i), p), path: at("ports", i) });
    });
    // slipway's router publishes HTTP only: a database's port is noted, not published.
    for (const p of parsed) {
      const known = p.port?.host !== undefined ? nonHttpPorts[p.port.container] : undefined;
      if (known && p.port) {
        this.warn(
          p.path,
          `service '${name}': port ${p.port.container} is ${known}, not HTTP: slipway's router publishes HTTP only, so it is not published`,
        );
        delete p.port.host;
      }
    }
    const usable = parsed.filter((p) => p.port);
    const first = usable[0];
    for (const p of usable.slice(1))
      this.warn(p.path, `service '${name}': only the first port is routed; this one is ignored`);
    if (first?.port) {
      out.port = first.port.container;
      const host = first.port.hostIp ?? "127.0.0.1";
      const wildcard = (h: string) => h === "0.0.0.0" || h === "::";
      const clash = this.published.find(
        (p) => p.port === first.port?.host && (p.host === host || wildcard(p.host) || wildcard(host)),
      );
      if (clash) {
        this.warn(
          first.path,
          `service '${name}': port ${first.port.host} is already published by '${clash.service}', so it is not published`,
        );
      } else if (first.port.host !== undefined) {
        this.published.push({ service: name, host, port: first.port.host });
        const ip = first.port.hostIp;
        if (ip && ip !== "127.0.0.1") out.publish = `${ip.includes(":") ? `[${ip}]` : ip}:${first.port.host}`;
        else out.publish = first.port.host;
        if (!ip) this.loopback.push(name);
      }
      return;
    }
    const expose = Array.isArray(s.expose) ? s.expose : [];
    if (expose.length) {
      const n = Number.parseInt(String(expose[0]), 10);
      if (Number.isInteger(n) && n > 0 && n < 65536) out.port = n;
      if (expose.length > 1)
        this.warn(at("expose", 1), `service '${name}': only the first exposed port is kept`);
    }
  }

  private port(
    name: string,
    path: Path,
    p: unknown,
  ): { container: number; host?: number; hostIp?: string } | undefined {
    const skip = (why: string) => {
      this.warn(
        path,
        `service '${name}': port ${typeof p === "object" ? JSON.stringify(p) : p} ${why} (ignored)`,
      );
      return undefined;
    };
    let container: string | undefined;
    let host: string | undefined;
    let hostIp: string | undefined;
    let protocol = "tcp";
    if (typeof p === "number") container = String(p);
    else if (typeof p === "string") {
      const m = /^(?:(?:(\[[^\]]+\]|[^:[\]]+):)?([\d-]*):)?([\d-]+)(?:\/(\w+))?$/.exec(p.trim());
      if (!m) return skip("is not understood");
      [, hostIp, host, container] = m;
      hostIp = hostIp?.replace(/^\[(.*)\]$/, "$1");
      protocol = m[4] ?? "tcp";
    } else if (isRecord(p)) {
      container = p.target === undefined ? undefined : String(p.target);
      host = p.published === undefined ? undefined : String(p.published);
      hostIp = typeof p.host_ip === "string" ? p.host_ip : undefined;
      protocol = typeof p.protocol === "string" ? p.protocol : "tcp";
    }
    if (!container) return skip("has no container port");
    if (protocol !== "tcp") return skip(`uses ${protocol}: slipway's router is for HTTP over TCP`);
    if (container.includes("-") || host?.includes("-")) return skip("is a range: slipway routes one port");
    if (host === "") {
      this.warn(path, `service '${name}': a random host port is not supported; the port is not published`);
      host = undefined;
    }
    return {
      container: Number(container),
      ...(host !== undefined && { host: Number(host) }),
      ...(hostIp !== undefined && { hostIp }),
    };
  }

  private environment(name: string, env: unknown): Json | undefined {
    if (env === undefined || env === null) return undefined;
    const at = (...p: Path): Path => ["services", name, "environment", ...p];
    const out: Json = {};
    const add = (path: Path, key: string, value: unknown) => {
      if (!envNamePattern.test(key)) {
        this.warn(
          path,
          `service '${name}': environment variable '${key}' is not a valid name in slipway (ignored)`,
        );
        return;
      }
      if (value === undefined || value === null) {
        this.warn(
          path,
          `service '${name}': ${key} takes its value from the shell running compose; set it in env or secrets (ignored)`,
        );
        return;
      }
      out[key] = typeof value === "string" ? this.text(path, value, name) : value;
    };
    if (Array.isArray(env))
      env.forEach((item, i) => {
        const text = String(item);
        const eq = text.indexOf("=");
        add(at(i), eq < 0 ? text : text.slice(0, eq), eq < 0 ? undefined : text.slice(eq + 1));
      });
    else if (isRecord(env)) for (const [k, v] of Object.entries(env)) add(at(k), k, v);
    return Object.keys(out).length ? out : undefined;
  }

  private secrets(name: string, secrets: unknown): Json[] | undefined {
    if (!Array.isArray(secrets)) return undefined;
    return secrets.flatMap((s, i): Json[] => {
      const path: Path = ["services", name, "secrets", i];
      const source = isRecord(s) ? s.source : s;
      if (typeof source !== "string") {
        this.warn(path, `service '${name}': a secret without source (ignored)`);
        return [];
      }
      const target = isRecord(s) && typeof s.target === "string" ? s.target : source;
      if (isRecord(s))
        for (const k of Object.keys(s))
          if (k !== "source" && k !== "target")
            this.warn([...path, k], `service '${name}': secret ${k} is not supported (ignored)`, true);
      const slip = secretName(source);
      if (!secretNamePattern.test(slip)) return [];
      if (!isRecord(this.data.secrets) || !(source in this.data.secrets))
        this.warn(
          path,
          `secret '${source}' is the slipway secret ${slip}: store its value with \`slipway secret set ${slip}\``,
        );
      return [{ name: slip, file: target.startsWith("/") ? target : `/run/secrets/${target}` }];
    });
  }

  private volumes(name: string, volumes: unknown): string[] | undefined {
    if (!Array.isArray(volumes)) return undefined;
    const dir = dirname(this.loc.file);
    let warnedDir = false;
    return volumes.flatMap((v, i): string[] => {
      const path: Path = ["services", name, "volumes", i];
      let source: string | undefined;
      let target: string | undefined;
      let readOnly = false;
      let type: string;
      if (typeof v === "string") {
        const text = this.text(path, v, name);
        const parts = text.split(":");
        if (parts.length === 1) {
          this.warn(
            path,
            `service '${name}': anonymous volume ${text} is not supported (ignored); give it a name`,
          );
          return [];
        }
        [source, target] = parts;
        const options = (parts[2] ?? "").split(",").filter(Boolean);
        readOnly = options.includes("ro");
        const other = options.filter((o) => o !== "ro" && o !== "rw");
        if (other.length)
          this.warn(path, `service '${name}': volume options ${other.join(",")} are not supported (ignored)`);
        type = /^[./~]/.test(source) ? "bind" : "volume";
      } else if (isRecord(v)) {
        type = String(v.type ?? "volume");
        source = typeof v.source === "string" ? this.text([...path, "source"], v.source, name) : undefined;
        target = typeof v.target === "string" ? v.target : undefined;
        readOnly = v.read_only === true;
        for (const k of Object.keys(v))
          if (!["type", "source", "target", "read_only"].includes(k))
            this.warn(
              [...path, k],
              `service '${name}': volume setting ${k} is not supported (ignored)`,
              true,
            );
        if (type === "bind" && source && !/^[./~]/.test(source)) source = `./${source}`;
      } else return [];
      if (type !== "volume" && type !== "bind") {
        this.warn(path, `service '${name}': ${type} volumes are not supported (ignored)`);
        return [];
      }
      if (!source || !target) {
        this.warn(
          path,
          `service '${name}': a volume without a source is anonymous, which is not supported (ignored)`,
        );
        return [];
      }
      if (source.startsWith("~")) {
        this.warn(
          path,
          `service '${name}': ${source} (~ is not expanded): use a path relative to slipway.yaml or absolute (ignored)`,
        );
        return [];
      }
      if (type === "volume" && !volumeNamePattern.test(source)) {
        this.warn(path, `service '${name}': volume name '${source}' is not valid in slipway (ignored)`);
        return [];
      }
      if (type === "bind" && !source.startsWith("/") && dir !== "." && !warnedDir) {
        warnedDir = true;
        this.warn(
          path,
          `service '${name}': bind paths are relative to slipway.yaml's directory, compose's were relative to ${dir}`,
        );
      }
      return [`${source}:${target}${readOnly ? ":ro" : ""}`];
    });
  }

  private health(name: string, h: unknown): Json | undefined {
    if (!isRecord(h) || h.disable === true) return undefined;
    const at = (...p: Path): Path => ["services", name, "healthcheck", ...p];
    const test = h.test;
    let exec: string | string[] | undefined;
    if (typeof test === "string") exec = this.text(at("test"), test, name);
    else if (Array.isArray(test)) {
      const [kind, ...rest] = test.map(String);
      if (kind === "NONE") return undefined;
      if (kind === "CMD") exec = rest;
      else if (kind === "CMD-SHELL") exec = rest.join(" ");
    }
    if (exec === undefined || exec.length === 0) {
      this.warn(at("test"), `service '${name}': healthcheck without a test (ignored)`);
      return undefined;
    }
    const out: Json = { exec };
    for (const [key, field] of [
      ["interval", "interval"],
      ["timeout", "timeout"],
      ["start_period", "start_period"],
    ] as const) {
      if (h[key] === undefined) continue;
      const ms = composeDuration(h[key]);
      if (ms === undefined) this.warn(at(key), `service '${name}': unreadable duration (ignored)`);
      else out[field] = formatDuration(ms);
    }
    if (typeof h.retries === "number" && h.retries >= 1) out.unhealthy_threshold = h.retries;
    // Readiness gives up after the deadline (default 60 s): leave a long start period room to pass.
    const start = out.start_period === undefined ? 0 : parseDuration(out.start_period as string);
    if (start + 30_000 > 60_000) out.deadline = formatDuration(start + 60_000);
    for (const k of Object.keys(h))
      if (!["test", "interval", "timeout", "start_period", "retries", "disable"].includes(k))
        this.warn(at(k), `service '${name}': healthcheck ${k} is not supported (ignored)`, true);
    return out;
  }

  private dependsOn(name: string, deps: unknown): unknown {
    const at = (...p: Path): Path => ["services", name, "depends_on", ...p];
    const out: { service: string; condition: "healthy" | "started" }[] = [];
    const add = (path: Path, dep: string, condition: "healthy" | "started") => {
      const slip = this.names.get(dep);
      if (!slip) this.warn(path, `service '${name}': depends on unknown service '${dep}' (ignored)`);
      else out.push({ service: slip, condition });
    };
    // compose's list form waits for the dependency to start, not to be healthy.
    if (Array.isArray(deps))
      deps.forEach((d, i) => {
        add(at(i), String(d), "started");
      });
    else if (isRecord(deps))
      for (const [dep, v] of Object.entries(deps)) {
        const c = isRecord(v) ? v.condition : undefined;
        if (c === "service_completed_successfully")
          this.warn(
            at(dep),
            `service '${name}': condition service_completed_successfully is not supported: waits for '${dep}' to start`,
          );
        if (isRecord(v))
          for (const k of Object.keys(v))
            if (k !== "condition")
              this.warn(at(dep, k), `service '${name}': depends_on ${k} is not supported (ignored)`, true);
        add(at(dep), dep, c === "service_healthy" ? "healthy" : "started");
      }
    if (out.length === 0) return undefined;
    if (out.every((d) => d.condition === "healthy")) return out.map((d) => d.service);
    return Object.fromEntries(out.map((d) => [d.service, { condition: d.condition }]));
  }
}

const serviceKeyOrder = [
  "image",
  "command",
  "replicas",
  "port",
  "publish",
  "env",
  "secrets",
  "volumes",
  "health",
  "depends_on",
  "resources",
  "restart",
  "strategy",
  "stop_timeout",
];

/** The keys of a service in the order slipway.yaml's examples use. */
function order(service: Json): Json {
  const keys = Object.keys(service).sort((a, b) => serviceKeyOrder.indexOf(a) - serviceKeyOrder.indexOf(b));
  return Object.fromEntries(keys.map((k) => [k, service[k]]));
}

function render(config: Json, file: string, warnings: string[]): string {
  const doc = new Document(config);
  const header = [`Imported from ${file} by \`slipway deploy import-compose\`.`];
  if (warnings.length)
    header.push("Not imported as it was (review these):", ...warnings.map((w) => `- ${w}`));
  doc.commentBefore = header.map((l) => ` ${l}`).join("\n");
  // Short lists and mappings of plain values on one line; long ones (env, volumes) one item a line.
  const short = (values: unknown[]) =>
    values.every((v) => isScalar(v)) &&
    values.reduce<number>((n, v) => n + String((v as { value: unknown }).value).length + 3, 0) <= 60;
  visit(doc, {
    Seq(_, node) {
      if (short(node.items)) node.flow = true;
    },
    Map(_, node) {
      if (node.items.length <= 4 && short(node.items.flatMap((p) => [p.key, p.value]))) node.flow = true;
    },
    Scalar(_, node) {
      // YAML 1.1 readers (and people) take these for booleans or null.
      if (typeof node.value === "string" && /^(y|n|yes|no|on|off|true|false|null|~|)$/i.test(node.value))
        node.type = "QUOTE_DOUBLE";
    },
  });
  // The services mapping and each service stay in block style, however small.
  const deploy = doc.get("deploy", true);
  if (isMap(deploy)) {
    const services = deploy.get("services", true);
    if (isMap(services)) {
      services.flow = false;
      for (const pair of services.items) if (isMap(pair.value)) pair.value.flow = false;
    }
    deploy.flow = false;
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/**
 * Turns a docker-compose.yml into slipway.yaml's `deploy:` section. `file` names the compose file in
 * problems and warnings. Invalid YAML or a file without services is a UserError with file:line:col.
 */
export function importCompose(text: string, file: string, options: { app?: string } = {}): ComposeImport {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, merge: true, uniqueKeys: true });
  if (doc.errors.length)
    throw new UserError(
      `${file} is not valid YAML`,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
        return { file, line: pos.line, col: pos.col, message: e.message.split("\n")[0] };
      }),
    );
  const loc = new Locator(doc, lines, file);
  const data = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  if (!isRecord(data))
    throw new UserError(`${file} is not a compose file`, [
      loc.problem([], "expected a mapping with services"),
    ]);
  const named = typeof data.name === "string" && appNamePattern.test(data.name) ? data.name : undefined;
  const app = options.app ?? named;
  const importer = new Importer(loc, data);
  const deploy = importer.run(app);
  const config = { deploy };
  const warnings = importer.warnings
    .sort(
      (a, b) =>
        (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER) ||
        (a.col ?? 0) - (b.col ?? 0),
    )
    .map(formatProblem);
  // The import's promise: what it prints is a valid deploy section. Values slipway cannot take (negative
  // replicas, an unreadable memory limit…) fail here, at the service they came from.
  const checked = deploySection.safeParse(deploy);
  if (!checked.success)
    throw new UserError(
      `cannot import ${file}`,
      checked.error.issues.map((issue) => {
        const [top, service, ...rest] = issue.path.map(String);
        if (top !== "services") return { file, message: `${issue.path.join(".")}: ${issue.message}` };
        const from = importer.composeName(service) ?? service;
        const where = rest.length ? `${rest.join(".")}: ` : "";
        return loc.problem(["services", from], `service '${from}': ${where}${issue.message}`, true);
      }),
    );
  return { yaml: render(config, file, warnings), config, warnings };
}
