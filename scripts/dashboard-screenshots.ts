// Screenshots of the dashboard's main pages for the docs (docs/images/*.png): a server in this process
// with the demo's sample repository run twice, and an app deployed twice (bench/deploy-app), shot in
// Chromium. Run after `npm run build`: node --import tsx scripts/dashboard-screenshots.ts
import { execFileSync, spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { demoWorkflow } from "../src/cli/demo-server.js";
import { agentPaths, callAgent } from "../src/deploy/index.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "docs", "images");
const dir = mkdtempSync(join(tmpdir(), "slipway-shots-"));
const gitc = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=Ada", "-c", "user.email=ada@example.com", ...args], { cwd });

const yaml = (version: string) => `deploy:
  app: shop
  services:
    api:
      command: node server.mjs
      cwd: ./app
      replicas: 2
      publish: 18490
      env:
        APP_VERSION: ${version}
        STARTUP_DELAY_MS: "0"
      health:
        http: /healthz
        interval: 100ms
        deadline: 10s
      drain_timeout: 1s
`;

// The built CLI's server (its deploy agents are started as `slipway deploy agent` of the same program).
const child = spawn(
  process.execPath,
  [join(root, "bin", "slipway.js"), "serve", "--listen", "127.0.0.1:0", "--data-dir", join(dir, "data")],
  { stdio: ["ignore", "pipe", "inherit"] },
);
const server = {
  url: await new Promise<string>((resolveUrl) => {
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d;
      const line = buf.split("\n").find((l) => l.startsWith("{"));
      if (line) resolveUrl((JSON.parse(line) as { url: string }).url);
    });
  }),
};
const token = readFileSync(join(dir, "data", "admin-token"), "utf8").trim();
const call = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text.trim().startsWith("{") && !text.includes("\n{") ? JSON.parse(text) : text;
};
const waitDone = async (id: number) => {
  for (;;) {
    const v = await call("GET", `/api/v1/runs/${id}`);
    if (v.run.status === "completed") return;
    await new Promise((r) => setTimeout(r, 300));
  }
};
try {
  const ci = join(dir, "web-app");
  mkdirSync(join(ci, ".github", "workflows"), { recursive: true });
  writeFileSync(join(ci, ".github", "workflows", "ci.yml"), demoWorkflow);
  gitc(ci, "init", "-q", "-b", "main");
  gitc(ci, "add", "-A");
  gitc(ci, "commit", "-qm", "Add the checkout page");
  await call("POST", "/api/v1/repos", { url: ci, name: "acme/web-app" });
  const shop = join(dir, "shop");
  mkdirSync(join(shop, "app"), { recursive: true });
  cpSync(join(root, "bench", "deploy-app", "server.mjs"), join(shop, "app", "server.mjs"));
  writeFileSync(join(shop, "slipway.yaml"), yaml("v1"));
  gitc(shop, "init", "-q", "-b", "main");
  gitc(shop, "add", "-A");
  gitc(shop, "commit", "-qm", "First release");
  await call("POST", "/api/v1/repos", { url: shop, name: "acme/shop" });

  const first = (await call("POST", "/api/v1/repos/acme%2Fweb-app/dispatch", { workflow: "ci.yml" })).runs[0]
    .id;
  await waitDone(first);
  const second = (await call("POST", "/api/v1/repos/acme%2Fweb-app/dispatch", { workflow: "ci.yml" })).runs[0]
    .id;
  await waitDone(second);
  await call("POST", "/api/v1/repos/acme/shop/deploys", { version: "v1.0.0" });
  writeFileSync(join(shop, "slipway.yaml"), yaml("v1.1.0"));
  gitc(shop, "commit", "-qam", "Faster checkout");
  await call("POST", "/api/v1/repos/acme/shop/deploys", { version: "v1.1.0" });

  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--headless"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  mkdirSync(out, { recursive: true });
  await page.goto(`${server.url}/login`);
  await page.screenshot({ path: join(out, "dashboard-login.png") });
  await page.fill("#token", token);
  await page.click("button[type=submit]");
  await page.waitForSelector("tr[data-run]");
  await page.screenshot({ path: join(out, "dashboard-runs.png") });
  const view = await call("GET", `/api/v1/runs/${second}`);
  const test = view.attempts[0].jobs.find((j: { jobKey: string }) => j.jobKey === "test");
  await page.goto(`${server.url}/runs/${second}/jobs/${test.id}#L120`);
  await page.waitForSelector(".line.target");
  await page.screenshot({ path: join(out, "dashboard-run.png") });
  await page.goto(`${server.url}/apps/shop/production`);
  await page.waitForSelector("tr[data-release='2']");
  await page.screenshot({ path: join(out, "dashboard-app.png") });
  await page.goto(`${server.url}/settings/tokens`);
  await page.waitForSelector("[data-testid=settings-tokens]");
  await page.screenshot({ path: join(out, "dashboard-settings.png") });
  await browser.close();
  process.stdout.write(`wrote ${out}/dashboard-*.png\n`);
} finally {
  await callAgent(agentPaths(join(dir, "data"), "shop", "production").socketPath, "POST", "/shutdown", {
    stopInstances: true,
  }).catch(() => undefined);
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
}
