// A throwaway Docker registry for tests: `docker-registry serve` (Debian's docker-registry, the CNCF
// distribution registry) on a free loopback port with a temporary storage directory and deletes enabled.
// Optionally protected by htpasswd basic auth, or by the bearer-token flow with a small token server
// written here (RS256 JWTs carrying an x5c certificate the registry trusts).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createSign, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sleep } from "../../src/lib/async.js";
import { freePort } from "./ports.js";

export type Credentials = { username: string; password: string };

export type TestRegistry = {
  /** `127.0.0.1:PORT`, the host part of image references. */
  host: string;
  /** `http://127.0.0.1:PORT`. */
  url: string;
  storage: string;
  credentials?: Credentials;
  /** The registry's log so far (stdout and stderr). */
  log(): string;
  stop(): Promise<void>;
};

export type RegistryOptions = {
  /** htpasswd basic auth with these credentials. */
  basic?: Credentials;
  /** Bearer tokens from a local token server that accepts these credentials (anonymous: pull only). */
  token?: Credentials;
  /** A fixed port (default: a free one). */
  port?: number;
};

async function waitUntilUp(url: string, proc: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`docker-registry exited (${proc.exitCode}):\n${log()}`);
    try {
      const r = await fetch(`${url}/v2/`);
      if (r.status === 200 || r.status === 401) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`docker-registry did not answer at ${url} within 15 s:\n${log()}`);
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

/** A token server for the registry's `auth.token` scheme. */
async function startTokenServer(dir: string, creds: Credentials, service: string, issuer: string) {
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      join(dir, "token.key"),
      "-out",
      join(dir, "token.crt"),
      "-days",
      "2",
      "-subj",
      "/CN=slipway-test-token",
    ],
    { stdio: "ignore" },
  );
  const key = readFileSync(join(dir, "token.key"), "utf8");
  const certPem = readFileSync(join(dir, "token.crt"), "utf8");
  const certDer = certPem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  const requests: { authorized: boolean; scopes: string[] }[] = [];
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    const auth = req.headers.authorization ?? "";
    let authorized = false;
    if (auth.startsWith("Basic ")) {
      const [user, ...rest] = Buffer.from(auth.slice(6), "base64").toString().split(":");
      if (user !== creds.username || rest.join(":") !== creds.password) {
        res.writeHead(401, { "content-type": "application/json" });
        res.end(
          JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "invalid username or password" }] }),
        );
        return;
      }
      authorized = true;
    }
    const scopes = u.searchParams.getAll("scope");
    requests.push({ authorized, scopes });
    const access = scopes.flatMap((s) => {
      const [type, ...mid] = s.split(":");
      const actions = (mid.pop() ?? "").split(",");
      const name = mid.join(":");
      const granted = authorized ? actions : actions.filter((a) => a === "pull");
      return granted.length ? [{ type, name, actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: "JWT", alg: "RS256", x5c: [certDer] };
    const claims = {
      iss: issuer,
      sub: authorized ? creds.username : "",
      aud: service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign("RSA-SHA256").update(input).sign(key);
    const token = `${input}.${b64url(signature)}`;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    certFile: join(dir, "token.crt"),
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-registry-"));
  const port = opts.port ?? (await freePort());
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  const lines = [
    "version: 0.1",
    "log: { level: info, accesslog: { disabled: true } }",
    "storage:",
    `  filesystem: { rootdirectory: ${join(dir, "data")} }`,
    "  delete: { enabled: true }",
    "  maintenance: { uploadpurging: { enabled: false } }",
    "http:",
    `  addr: ${host}`,
    `  secret: ${randomUUID()}`,
  ];
  let tokenServer: Awaited<ReturnType<typeof startTokenServer>> | undefined;
  if (opts.basic) {
    const line = execFileSync("htpasswd", ["-nbB", opts.basic.username, opts.basic.password], {
      encoding: "utf8",
    });
    writeFileSync(join(dir, "htpasswd"), line);
    lines.push("auth:", `  htpasswd: { realm: slipway-test, path: ${join(dir, "htpasswd")} }`);
  } else if (opts.token) {
    const service = "slipway-test-registry";
    const issuer = "slipway-test-issuer";
    tokenServer = await startTokenServer(dir, opts.token, service, issuer);
    lines.push(
      "auth:",
      "  token:",
      `    realm: ${tokenServer.realm}`,
      `    service: ${service}`,
      `    issuer: ${issuer}`,
      `    rootcertbundle: ${tokenServer.certFile}`,
    );
  }
  writeFileSync(join(dir, "config.yml"), `${lines.join("\n")}\n`);
  let output = "";
  const proc = spawn("docker-registry", ["serve", join(dir, "config.yml")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.stdout?.on("data", (b: Buffer) => {
    output += b.toString();
  });
  proc.stderr?.on("data", (b: Buffer) => {
    output += b.toString();
  });
  const log = () => output;
  try {
    await waitUntilUp(url, proc, log);
  } catch (err) {
    proc.kill("SIGKILL");
    await tokenServer?.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    host,
    url,
    storage: join(dir, "data"),
    credentials: opts.basic ?? opts.token,
    log,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((resolve) => proc.once("exit", resolve));
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
      await tokenServer?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
