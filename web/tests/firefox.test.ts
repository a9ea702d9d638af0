/**
 * The playground in Firefox: Debian's firefox-esr driven over WebDriver BiDi by puppeteer-core (Playwright
 * drives only its own patched Firefox builds), against the production build served by `chainrule playground`.
 * A smoke suite: each tab's key result, and no uncaught errors or console errors.
 *
 * Without /usr/bin/firefox-esr these tests are skipped with a message, unless CHAINRULE_E2E=required (as in
 * .ci/run), where a missing browser fails. Screenshots go to web/tests/artifacts/firefox-*.png.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "puppeteer-core";
import {
  ARTIFACTS,
  LECTURE_SENTENCE,
  browserAvailable,
  startPlayground,
  type PlaygroundServer,
} from "./harness.js";

const FIREFOX = process.env.CHAINRULE_FIREFOX ?? "/usr/bin/firefox-esr";
const AVAILABLE = browserAvailable("Firefox", FIREFOX, "firefox-esr");

describe.runIf(AVAILABLE)("the playground in Firefox", () => {
  let server: PlaygroundServer;
  let browser: Browser;
  /** Uncaught errors and console errors, per page. */
  const problems = new Map<Page, string[]>();

  beforeAll(async () => {
    server = await startPlayground();
    const { default: puppeteer } = await import("puppeteer-core");
    browser = await puppeteer.launch({
      browser: "firefox",
      executablePath: FIREFOX,
      headless: true,
      defaultViewport: { width: 1280, height: 900 },
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    server?.close();
  });

  async function open(hash: string): Promise<Page> {
    const page = await browser.newPage();
    const list: string[] = [];
    problems.set(page, list);
    page.on("pageerror", (error) => list.push(`uncaught: ${(error as Error).message}`));
    page.on("console", (message) => {
      if (message.type() === "error") list.push(`console.error: ${message.text()}`);
    });
    await page.goto(server.url + hash);
    return page;
  }

  /** The text of the first element matching `selector`, once it exists. */
  async function text(page: Page, selector: string, timeout = 30_000): Promise<string> {
    const element = await page.waitForSelector(selector, { timeout });
    return (await element!.evaluate((e) => e.textContent ?? "")).trim();
  }

  /** Waits until the element's text is `expected` (or matches it). */
  async function waitForText(page: Page, selector: string, expected: string | RegExp, timeout = 30_000) {
    await page.waitForFunction(
      (s: string, source: string, isPattern: boolean) => {
        const content = document.querySelector(s)?.textContent?.trim() ?? null;
        if (content === null) return false;
        return isPattern ? new RegExp(source).test(content) : content === source;
      },
      { timeout, polling: 100 },
      selector,
      expected instanceof RegExp ? expected.source : expected,
      expected instanceof RegExp,
    );
  }

  /** Clicks the button whose text is `label`. */
  async function click(page: Page, label: string): Promise<void> {
    const button = await page.waitForSelector(
      `::-p-xpath(//button[normalize-space(.)=${JSON.stringify(label)}])`,
    );
    await button!.click();
  }

  async function finish(page: Page, screenshot: string): Promise<void> {
    await page.screenshot({ path: join(ARTIFACTS, screenshot) as `${string}.png`, fullPage: true });
    expect(problems.get(page)).toEqual([]);
    await page.close();
  }

  it("steps the lecture's example to the end: ∂f/∂x = 2, ∂f/∂y = 3 + 2 = 5, ∂f/∂z = 0", async () => {
    const page = await open("");
    await page.waitForSelector(".node[data-node=f]");
    await waitForText(page, "#step-status", "forward pass done; 3 backward steps");
    await click(page, "Run to the end ▶▶");
    await waitForText(page, "#step-status", "backward step 3 of 3");
    expect(await text(page, "[data-gradient=x]")).toBe("∂f/∂x = 2");
    expect(await text(page, "[data-gradient=y]")).toBe("∂f/∂y = 5");
    expect(await text(page, "[data-gradient=z]")).toBe("∂f/∂z = 0");
    expect(await text(page, "[data-fanout=y]")).toBe("y: 3 + 2 = 5");
    await finish(page, "firefox-backprop.png");
  });

  it("derives u' * tanh(W*x + b) by hand: ∂f/∂W = δ xᵀ as math, and the check passes", async () => {
    const page = await open(
      "#tab=byhand&expr=" +
        encodeURIComponent("u' * tanh(W*x + b)") +
        "&shapes=" +
        encodeURIComponent("W: n×m, x: m, b: n, u: n"),
    );
    expect(await text(page, "[data-gradient=W] .katex annotation")).toContain("\\delta \\, x^{\\top}");
    await click(page, "Check against backprop and finite differences");
    const check = await page.waitForSelector("[data-check]");
    expect(await check!.evaluate((e) => e.getAttribute("data-check"))).toBe("passed");
    await finish(page, "firefox-byhand.png");
  });

  it("trains the window classifier for an epoch and tags Paris as LOC", async () => {
    const page = await open("#tab=ner");
    const epochs = await page.waitForSelector("#ner-epochs");
    await epochs!.evaluate((input) => {
      (input as HTMLInputElement).value = "1";
    });
    await click(page, "Train");
    await page.waitForSelector(".epoch-table tr[data-epoch='1']", { timeout: 300_000 });
    await waitForText(page, ".status-line", /^Training finished/, 60_000);
    await click(page, "Samuel Quinn … in Paris");
    expect(await page.$eval("#ner-text", (e) => (e as HTMLTextAreaElement).value)).toBe(LECTURE_SENTENCE);
    const paris = await page.waitForSelector(
      "::-p-xpath(//button[contains(@class,'token')][starts-with(normalize-space(.),'Paris')])",
    );
    expect(await paris!.evaluate((e) => e.getAttribute("data-type"))).toBe("LOC");
    await finish(page, "firefox-ner.png");
  }, 600_000);
});
