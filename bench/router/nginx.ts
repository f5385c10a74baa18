// nginx as the reference reverse proxy: its configuration and command line as data (tested by
// reading them, run by the benchmark), and how to get the binary (apt-get install -y nginx).
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export type NginxSetup = {
  /** A private prefix directory: config, pid, logs and temp files live there. */
  dir: string;
  listen: { host: string; port: number };
  upstream: { host: string; port: number };
  /** 1 = the same one process the Node router gets; "auto" = one per CPU. */
  workers: number | "auto";
};

/**
 * A reverse proxy as nginx's documentation recommends it for HTTP/1.1 keep-alive to the upstream
 * (proxy_http_version 1.1, empty Connection header, an upstream keepalive pool), with the same
 * forwarded headers and version header the slipway router adds. Response buffering stays at nginx's
 * default (on). keepalive_requests is raised on both sides because the Node router and backend do not
 * cap requests per connection either (nginx would otherwise close each client connection after 1000).
 */
export function nginxConfig(s: NginxSetup): string {
  const tmp = (name: string) => join(s.dir, "tmp", name);
  return `daemon off;
worker_processes ${s.workers};
pid ${join(s.dir, "nginx.pid")};
error_log ${join(s.dir, "error.log")} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${tmp("body")};
  proxy_temp_path ${tmp("proxy")};
  fastcgi_temp_path ${tmp("fastcgi")};
  uwsgi_temp_path ${tmp("uwsgi")};
  scgi_temp_path ${tmp("scgi")};
  keepalive_requests 1000000;
  upstream backend {
    server ${s.upstream.host}:${s.upstream.port};
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen ${s.listen.host}:${s.listen.port};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      add_header X-Slipway-Version v1;
    }
  }
}
`;
}

/** Foreground nginx on the prefix directory (-e: the error log before the config is read). */
export function nginxCommand(dir: string): { file: string; args: string[] } {
  return { file: "nginx", args: ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log")] };
}

/** "nginx/1.22.1", installing the Debian package first when nginx is missing. */
export function ensureNginx(log: (line: string) => void): string {
  // nginx -v prints to stderr.
  const version = () => execFileSync("sh", ["-c", "nginx -v 2>&1"], { encoding: "utf8" });
  let out: string;
  try {
    out = version();
  } catch {
    log("nginx not found: apt-get install -y nginx");
    execFileSync("apt-get", ["install", "-y", "nginx"], { stdio: ["ignore", "ignore", "inherit"] });
    out = version();
  }
  return out.replace(/^nginx version:\s*/, "").trim();
}
