// Tests in a real browser: Debian's Chromium driven by playwright-core. On a
// machine without Chromium the tests are skipped with a hint, unless
// ZXSIM_REQUIRE_BROWSER=1 (CI) makes that a failure.

import fs from "node:fs";
import type { Browser, Page } from "playwright-core";

/** The network is closed here: without these Chromium waits on refused background connections. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function chromiumPath(): string {
  return Deno.env.get("CHROMIUM") || "/usr/bin/chromium";
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * playwright-core, imported only when a browser test runs. On import it
 * probes WSL paths under /proc/sys with fs.existsSync, which in Node never
 * throws but in Deno throws NotCapable unless --allow-all; the suite's
 * permissions are narrower, so such a probe answers "no such file" instead.
 */
async function playwright() {
  if (!patched) {
    const existsSync = fs.existsSync;
    fs.existsSync = (path) => {
      try {
        return existsSync(path);
      } catch (error) {
        if (error instanceof Deno.errors.NotCapable) return false;
        throw error;
      }
    };
    patched = true;
  }
  return await import("playwright-core");
}
let patched = false;

export interface BrowserTestOptions {
  /** Uncaught page errors fail the test unless this is set. */
  readonly allowPageErrors?: boolean;
  /** How long one Playwright wait may take, in ms (a noisy 2-core machine needs slack). */
  readonly timeoutMs?: number;
}

/**
 * Registers a Deno test that gets a fresh page in a fresh Chromium; the
 * browser is closed afterwards whatever happens.
 */
export function browserTest(
  name: string,
  fn: (page: Page, browser: Browser) => Promise<void>,
  options: BrowserTestOptions = {},
): void {
  const path = chromiumPath();
  const missing = isFile(path)
    ? undefined
    : `Chromium not found at ${path}: apt-get install chromium (or set CHROMIUM to its path)`;
  // Without Chromium a local run skips (and says so); CI requires the browser.
  const skip = missing !== undefined && Deno.env.get("ZXSIM_REQUIRE_BROWSER") !== "1";
  if (skip) console.warn(`skipping browser test "${name}": ${missing}`);
  Deno.test({ name, ignore: skip }, async () => {
    if (missing) throw new Error(`ZXSIM_REQUIRE_BROWSER=1 but ${missing}`);
    const { chromium } = await playwright();
    const browser = await chromium.launch({
      executablePath: path,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    const pageErrors: string[] = [];
    try {
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      context.setDefaultTimeout(options.timeoutMs ?? 10_000);
      // Every page of the context, including ones the test opens itself.
      context.on("page", (page) => {
        page.on("pageerror", (error) => pageErrors.push(error.stack ?? error.message));
        page.on("console", (message) => {
          // A failed fetch logs here too; its URL tells an expected error reply from a bug.
          if (message.type() !== "error") return;
          console.error(`[browser console] ${message.text()} (${message.location().url})`);
        });
      });
      const page = await context.newPage();
      await fn(page, browser);
    } finally {
      await browser.close();
    }
    if (pageErrors.length && !options.allowPageErrors) {
      throw new Error(`uncaught errors in the page:\n${pageErrors.join("\n")}`);
    }
  });
}

/** Writes a full-page screenshot to a new temporary folder, logs its path and returns it. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "zxsim-screenshot-" });
  const path = `${dir}/${name}.png`;
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
  return path;
}
