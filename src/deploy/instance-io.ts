// The agent's side of `slipway logs` and `slipway exec`: which instances a request means (a service, or
// one of its instances by id; unknown names are refused with the known ones listed), their output as NDJSON
// lines (masked with the environment's secrets, like everything else the deployer lets out), and a command
// attached to one of them over an upgraded connection (exec-frames.ts). Only the agent's own user reaches
// its socket (socket.ts), and exec runs with the instance's environment, secrets included: it is the
// deployer's operation, never offered to anyone else.
import type { Duplex } from "node:stream";
import { PassThrough } from "node:stream";
import type http from "node:http";
import { OperationError, UserError, httpStatusFor, problemBody, streamedError } from "../lib/errors.js";
import type { Store } from "../store/index.js";
import type { ReleaseDocument } from "./controller.js";
import { encodeFrame, frameDecoder, frameTypes } from "./exec-frames.js";
import type { DeployMasker } from "./masking.js";
import type { InstanceInfo, Runtime } from "./types.js";

export type InstanceQuery = { service: string; instance?: string };

export type InstanceIoOptions = {
  app: string;
  env: string;
  runtime: Runtime;
  store: Store;
  masker: DeployMasker;
};

/** The NDJSON line of one line of output. */
export type LogRecord = { instance: string; service: string; stream: string; at?: number; line: string };

export function createInstanceIo(o: InstanceIoOptions) {
  /** The instances a query means: refuses unknown services and instances, naming the known ones. */
  async function select(q: InstanceQuery): Promise<InstanceInfo[]> {
    const all = await o.runtime.list({ app: o.app, env: o.env });
    const current = await o.store.releases.current(o.app, o.env);
    const configured = ((current?.spec as ReleaseDocument | undefined)?.spec?.services ?? []).map(
      (s) => s.name,
    );
    const services = [...new Set([...configured, ...all.map((i) => i.labels.service)])].sort();
    if (!q.service || !services.includes(q.service))
      throw new UserError(
        `${o.app}/${o.env} has no service '${q.service ?? ""}' (services: ${services.join(", ") || "none"})`,
      );
    const mine = all.filter((i) => i.labels.service === q.service);
    if (q.instance !== undefined) {
      const one = mine.filter((i) => i.id === q.instance);
      if (one.length === 0)
        throw new UserError(
          `service ${q.service} of ${o.app}/${o.env} has no instance '${q.instance}' (instances: ${mine.map((i) => i.id).join(", ") || "none"})`,
        );
      return one;
    }
    const running = mine.filter((i) => i.running);
    if (running.length) return running;
    if (mine.length) return mine.slice(-1);
    throw new OperationError(`service ${q.service} of ${o.app}/${o.env} has no instances`);
  }

  function query(url: URL): InstanceQuery {
    const instance = url.searchParams.get("instance") ?? undefined;
    return { service: url.searchParams.get("service") ?? "", ...(instance ? { instance } : {}) };
  }

  function intParam(url: URL, name: string): number | undefined {
    const raw = url.searchParams.get(name);
    if (raw === null || raw === "") return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new UserError(`${name}: not a whole number ≥ 0: ${raw}`);
    return n;
  }

  /** GET /logs?service=S[&instance=ID][&follow=1][&since=MS][&tail=N]: NDJSON lines, then the end. */
  async function logs(url: URL, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const instances = await select(query(url));
    const since = intParam(url, "since");
    const tail = intParam(url, "tail");
    const follow = url.searchParams.get("follow") === "1";
    const stop = new AbortController();
    res.once("close", () => stop.abort());
    req.once("close", () => {
      if (!res.writableEnded) stop.abort();
    });
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    const write = (o: unknown) => {
      if (!res.destroyed) res.write(`${JSON.stringify(o)}\n`);
    };
    try {
      await Promise.all(
        instances.map((i) =>
          o.runtime.streamLogs(i.id, {
            follow,
            since,
            tail,
            signal: stop.signal,
            onLine: (l) =>
              write({
                instance: i.id,
                service: i.labels.service,
                stream: l.stream,
                ...(l.at !== undefined ? { at: l.at } : {}),
                line: o.masker.mask(l.line),
              } satisfies LogRecord),
          }),
        ),
      );
    } catch (err) {
      if (!stop.signal.aborted) write({ error: streamedError(o.masker.redact(err)) });
    }
    res.end();
  }

  /** POST /exec?service=S[&instance=ID]&tty=0|1&arg=…: upgraded to exec frames. */
  async function upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? "/", "http://agent");
    const refuse = (err: unknown) => {
      const body = `${JSON.stringify(problemBody(o.masker.redact(err)))}\n`;
      const status = httpStatusFor(err);
      socket.end(
        `HTTP/1.1 ${status} Error\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    };
    let target: InstanceInfo;
    const command = url.searchParams.getAll("arg");
    try {
      if (req.method !== "POST" || url.pathname !== "/exec" || req.headers.upgrade !== "slipway-exec")
        throw new UserError(`no upgrade route ${req.method} ${url.pathname}`);
      if (command.length === 0) throw new UserError("exec needs a command");
      const chosen = await select(query(url));
      const running = chosen.filter((i) => i.running);
      if (running.length === 0)
        throw new OperationError(`instance ${chosen[0].id} of ${chosen[0].labels.service} is not running`);
      target = running[0];
    } catch (err) {
      return refuse(err);
    }
    // Only a container can be given a terminal; the client puts its own in raw mode only then.
    const tty = url.searchParams.get("tty") === "1" && target.runtime === "docker";
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: slipway-exec\r\nconnection: Upgrade\r\nx-slipway-instance: ${target.id}\r\nx-slipway-tty: ${tty ? 1 : 0}\r\n\r\n`,
    );
    const stdin = new PassThrough();
    const stop = new AbortController();
    const resizeListeners: ((s: { rows: number; cols: number }) => void)[] = [];
    const decode = frameDecoder((type, payload) => {
      if (type === frameTypes.stdin) stdin.write(payload);
      else if (type === frameTypes.stdinEnd) stdin.end();
      else if (type === frameTypes.resize) {
        const size = JSON.parse(payload.toString()) as { rows: number; cols: number };
        for (const l of resizeListeners) l(size);
      }
    });
    socket.on("data", (b: Buffer) => {
      try {
        decode(b);
      } catch {
        socket.destroy();
      }
    });
    socket.on("close", () => stop.abort());
    socket.on("error", () => stop.abort());
    if (head.length) decode(head);
    const send = (type: (typeof frameTypes)["stdout" | "stderr" | "exit"], b: Buffer | string) => {
      if (!socket.destroyed) socket.write(encodeFrame(type, b));
    };
    let result: unknown;
    try {
      const exitCode = await o.runtime.attach(target.id, command, {
        tty,
        stdin,
        onStdout: (b) => send(frameTypes.stdout, b),
        onStderr: (b) => send(frameTypes.stderr, b),
        onResize: (l) => resizeListeners.push(l),
        signal: stop.signal,
      });
      result = { exitCode };
    } catch (err) {
      result = { error: streamedError(o.masker.redact(err)) };
    }
    send(frameTypes.exit, JSON.stringify(result));
    socket.end();
  }

  return { logs, upgrade };
}
