// Chromium (Debian's, at /usr/bin/chromium; scripts/setup-chromium.sh installs it) driven by
// playwright-core for the dashboard's end-to-end tests: one browser per test file, a fresh context (no
// cookies) per test, signed in through the login form as a user would.
import { existsSync } from "node:fs";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";

export const chromiumPath = process.env.SLIPWAY_CHROMIUM ?? "/usr/bin/chromium";

export function useBrowser(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    if (!existsSync(chromiumPath))
      throw new Error(
        `no Chromium at ${chromiumPath}: run scripts/setup-chromium.sh (apt-get install chromium)`,
      );
    browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox", "--headless"] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });
  return () => browser!;
}

export type Session = {
  context: BrowserContext;
  page: Page;
  /** Dialogs (alert/confirm/prompt) the page opened: an XSS payload that ran would open one. */
  dialogs: string[];
  /** Uncaught errors in the page. */
  errors: string[];
};

/** A new browser context signed in with `token` through the login form, on `server`'s runs page. */
export async function signIn(browser: Browser, server: { url: string }, token: string): Promise<Session> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  context.setDefaultTimeout(60_000);
  const page = await context.newPage();
  const dialogs: string[] = [];
  const errors: string[] = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${server.url}/`);
  await page.waitForURL(/\/login/);
  await page.fill("#token", token);
  await page.click("button[type=submit]");
  await page.waitForSelector("[data-testid=me]");
  return { context, page, dialogs, errors };
}
