// HAProxy as the other real proxy the router is compared with, driven the way slipway would drive it:
// a static configuration (two versions' servers in one backend), and changes through its runtime API
// (the admin socket: `set server … weight`, `set server … state drain`), with no reload.
import { execFileSync } from "node:child_process";
import { connect } from "node:net";
import { join } from "node:path";

export type HaproxySetup = {
  dir: string;
  listen: { host: string; port: number };
  upstream: { host: string; port: number };
  /** 1 = the same one process (one thread) the Node router gets. */
  threads: number;
};

export const haproxySocket = (dir: string) => join(dir, "admin.sock");

/**
 * Keep-alive on both sides (http-keep-alive, server connections reused), the same forwarded headers
 * and version header as the router, and its retry rule (connect failures retried once elsewhere).
 * Servers blue and green are the same backend; the weights pick which one takes the traffic.
 */
export function haproxyConfig(s: HaproxySetup): string {
  const server = `${s.upstream.host}:${s.upstream.port}`;
  return `global
  nbthread ${s.threads}
  maxconn 8192
  stats socket ${haproxySocket(s.dir)} mode 600 level admin
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse safe
  retries 1
  retry-on conn-failure empty-response
  option redispatch 1
frontend service
  bind ${s.listen.host}:${s.listen.port}
  option forwardfor
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  default_backend versions
backend versions
  balance roundrobin
  http-response set-header X-Slipway-Version %[srv_name]
  server blue ${server} weight 100
  server green ${server} weight 0
`;
}

export function haproxyCommand(dir: string): { file: string; args: string[] } {
  return { file: "haproxy", args: ["-db", "-f", join(dir, "haproxy.cfg")] };
}

/** All traffic to one version: raise the new one first so there is never a moment with no server. */
export function switchCommands(toGreen: boolean): string {
  const [on, off] = toGreen ? ["green", "blue"] : ["blue", "green"];
  return `set server versions/${on} weight 100; set server versions/${off} weight 0`;
}

/** Sends commands to the admin socket and returns its answer. */
export function haproxyRuntime(socketPath: string, commands: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    let out = "";
    s.setEncoding("utf8");
    s.on("data", (t: string) => (out += t));
    s.on("end", () => resolve(out));
    s.on("error", reject);
    s.end(`${commands}\n`);
  });
}

/** "2.6.12-1+deb12u4", installing the Debian package first when haproxy is missing. */
export function ensureHaproxy(log: (line: string) => void): string {
  const version = () =>
    execFileSync("haproxy", ["-v"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  let out: string;
  try {
    out = version();
  } catch {
    log("haproxy not found: apt-get install -y haproxy");
    execFileSync("apt-get", ["install", "-y", "haproxy"], { stdio: ["ignore", "ignore", "inherit"] });
    out = version();
  }
  return /HAProxy version (\S+)/.exec(out)?.[1] ?? out.split("\n")[0];
}
