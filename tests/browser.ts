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

/** Where each page's screenshots go: one temporary folder per test. */
const screenshotDirs = new WeakMap<Page, string>();

/** ZXSIM_KEEP_SCREENSHOTS=1 keeps them (and prints their paths) to look at. */
const keepScreenshots = Deno.env.get("ZXSIM_KEEP_SCREENSHOTS") === "1";

/**
 * A console error the page causes on purpose: the browser logs every HTTP
 * error reply a fetch gets ("Failed to load resource: … 409"), and the page
 * asks for some (a running thread's registers, a bad token, memory that may
 * not be mapped yet) to show or act on the server's verdict. Those are checked by the tests through the page itself.
 */
function expectedConsoleError(text: string, url: string): boolean {
  // 4xx and Zircon's 5xx statuses (503 NO_MEMORY, …); a 500 is a bug in zxsim.
  return /^Failed to load resource: the server responded with a status of (4\d\d|50[1-4])/
    .test(text) &&
    /^https?:\/\/[^/]+\/v1\//.test(url);
}

/**
 * Registers a Deno test that gets a fresh page in a fresh Chromium; the
 * browser is closed afterwards whatever happens, and the test's screenshots
 * are removed unless ZXSIM_KEEP_SCREENSHOTS=1.
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
    const shots = await Deno.makeTempDir({ prefix: "zxsim-screenshot-" });
    try {
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      context.setDefaultTimeout(options.timeoutMs ?? 10_000);
      // Every page of the context, including ones the test opens itself.
      context.on("page", (page) => {
        screenshotDirs.set(page, shots);
        page.on("pageerror", (error) => pageErrors.push(error.stack ?? error.message));
        page.on("console", (message) => {
          // A failed fetch logs here too; its URL tells an expected error reply from a bug.
          if (message.type() !== "error") return;
          const { url } = message.location();
          if (expectedConsoleError(message.text(), url)) return;
          console.error(`[browser console] ${message.text()} (${url})`);
        });
      });
      const page = await context.newPage();
      await fn(page, browser);
    } finally {
      await browser.close();
      if (keepScreenshots) console.log(`screenshots: ${shots}`);
      else await Deno.remove(shots, { recursive: true });
    }
    if (pageErrors.length && !options.allowPageErrors) {
      throw new Error(`uncaught errors in the page:\n${pageErrors.join("\n")}`);
    }
  });
}

/**
 * Writes a full-page screenshot into the test's temporary folder (removed
 * when the test ends, unless ZXSIM_KEEP_SCREENSHOTS=1) and returns its path.
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = screenshotDirs.get(page);
  if (dir === undefined) throw new Error("screenshot: not a page of a browserTest");
  const path = `${dir}/${name}.png`;
  await page.screenshot({ path, fullPage: true });
  return path;
}
