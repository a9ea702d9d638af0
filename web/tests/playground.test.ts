/**
 * The playground in a real browser: Debian's Chromium driven by playwright-core, against the production build
 * (web/dist, made by `npm run build:web`, which `npm test` runs first) served by `chainrule playground`.
 *
 * Without /usr/bin/chromium these tests are skipped with a message, unless CHAINRULE_E2E=required (as in
 * .ci/run), where a missing browser fails. Screenshots of each tab go to web/tests/artifacts/ (or
 * $CHAINRULE_E2E_ARTIFACTS).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import {
  ARTIFACTS,
  LECTURE_SENTENCE,
  browserAvailable,
  startPlayground,
  type PlaygroundServer,
} from "./harness.js";

const CHROMIUM = process.env.CHAINRULE_CHROMIUM ?? "/usr/bin/chromium";
const AVAILABLE = browserAvailable("Chromium", CHROMIUM, "chromium");

describe.runIf(AVAILABLE)("the playground in Chromium", () => {
  let server: PlaygroundServer;
  let url = "";
  let browser: Browser;
  let context: BrowserContext;
  /** Uncaught errors and console errors, per page. */
  const problems = new Map<Page, string[]>();

  beforeAll(async () => {
    server = await startPlayground();
    url = server.url;
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu"],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    server?.close();
  });

  async function open(hash: string, viewport?: { width: number; height: number }): Promise<Page> {
    const page = await context.newPage();
    if (viewport) await page.setViewportSize(viewport);
    const list: string[] = [];
    problems.set(page, list);
    page.on("pageerror", (error) => list.push(`uncaught: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") list.push(`console.error: ${message.text()}`);
    });
    await page.goto(url + hash);
    return page;
  }

  /** Axe-core's serious and critical violations on the page as it is now. */
  async function accessibilityViolations(page: Page): Promise<string[]> {
    const require = createRequire(import.meta.url);
    const source = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
    await page.addScriptTag({ content: source });
    const violations = await page.evaluate(async () => {
      const axe = (
        window as unknown as {
          axe: {
            run(
              context: Document,
              options: object,
            ): Promise<{
              violations: {
                id: string;
                impact: string | null;
                help: string;
                nodes: { target: string[] }[];
              }[];
            }>;
          };
        }
      ).axe;
      const result = await axe.run(document, { resultTypes: ["violations"] });
      return result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
      }));
    });
    return violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.targets.join("; ")})`);
  }

  async function finish(page: Page, screenshot: string): Promise<void> {
    await page.screenshot({ path: join(ARTIFACTS, screenshot), fullPage: true });
    expect(await accessibilityViolations(page)).toEqual([]);
    expect(problems.get(page)).toEqual([]);
    await page.close();
  }

  it("steps the lecture's example to the end: ∂f/∂x = 2, ∂f/∂y = 3 + 2 = 5, ∂f/∂z = 0", async () => {
    const page = await open("");
    await page.locator(".node[data-node=f]").waitFor();
    await expect
      .poll(() => page.locator("#step-status").textContent())
      .toBe("forward pass done; 3 backward steps");
    // Step 1: the output node f = a · b: × switches, so a gets 1 × b = 2 and b gets 1 × a = 3.
    await page.getByRole("button", { name: "Step ▶" }).click();
    await expect.poll(() => page.locator(".step-info h3").textContent()).toBe("Step 1: node f = a · b");
    expect(await page.locator(".step-info").textContent()).toContain("1 × 2 = 2");
    await page.getByRole("button", { name: "Run to the end ▶▶" }).click();
    await expect.poll(() => page.locator("#step-status").textContent()).toBe("backward step 3 of 3");
    expect(await page.locator("[data-gradient=x]").textContent()).toBe("∂f/∂x = 2");
    expect(await page.locator("[data-gradient=y]").textContent()).toBe("∂f/∂y = 5");
    expect(await page.locator("[data-gradient=z]").textContent()).toBe("∂f/∂z = 0");
    expect(await page.locator("[data-fanout=y]").textContent()).toBe("y: 3 + 2 = 5");
    expect(await page.locator(".node[data-node=y] .node-grad").textContent()).toBe("∂f/∂y = 3 + 2 = 5");
    // Step back returns to the second step; the URL keeps the step.
    await page.getByRole("button", { name: "◀ Step back" }).click();
    await expect.poll(() => page.locator("#step-status").textContent()).toBe("backward step 2 of 3");
    expect(page.url()).toContain("step=2");
    await page.getByRole("button", { name: "Run to the end ▶▶" }).click();
    await expect.poll(() => page.locator("[data-fanout=y]").count()).toBe(1);
    await finish(page, "backprop.png");
  });

  it("underlines the column of a bad expression in the page", async () => {
    const page = await open("");
    await page.locator(".node[data-node=f]").waitFor();
    await page.locator("#backprop-expr").fill("(x + y) * max(y, z");
    await page.getByRole("button", { name: "Build the graph" }).click();
    const error = page.locator(".field-error");
    await error.waitFor();
    expect(await error.locator("mark").count()).toBe(1);
    expect(await error.textContent()).toContain("column 19");
    expect(await page.locator("#backprop-expr").getAttribute("aria-invalid")).toBe("true");
    expect(problems.get(page)).toEqual([]);
    await page.close();
  });

  it("draws the matrix expression u' * tanh(W*x + b) with shapes and heatmaps", async () => {
    const page = await open(
      "#tab=backprop&at=&expr=" +
        encodeURIComponent("u' * tanh(W*x + b)") +
        "&shapes=" +
        encodeURIComponent("W: n×m, x: m, b: n, u: n") +
        "&sizes=" +
        encodeURIComponent("n=3, m=4"),
    );
    await page.locator(".node[data-node=W]").waitFor();
    expect(await page.locator(".node[data-node=W] .shape").textContent()).toBe(" [3×4]");
    await page.getByRole("button", { name: "Run to the end ▶▶" }).click();
    await page.locator("[data-gradient=W] svg.heatmap").waitFor();
    await finish(page, "backprop-matrix.png");
  });

  it("derives u' * tanh(W*x + b) by hand: ∂f/∂W = δ xᵀ as math, and the check passes", async () => {
    const page = await open(
      "#tab=byhand&expr=" +
        encodeURIComponent("u' * tanh(W*x + b)") +
        "&shapes=" +
        encodeURIComponent("W: n×m, x: m, b: n, u: n"),
    );
    const W = page.locator("[data-gradient=W] .katex");
    await W.waitFor();
    // KaTeX keeps the source in a MathML annotation beside the typeset HTML.
    const tex = await W.locator("annotation").textContent();
    expect(tex).toContain("\\delta \\, x^{\\top}");
    expect(await W.locator(".katex-html").count()).toBe(1);
    expect(await page.locator("[data-definition=δ] annotation").textContent()).toContain("\\tanh^{2}");
    await page.getByRole("button", { name: "Check against backprop and finite differences" }).click();
    await page.locator("[data-check]").waitFor();
    expect(await page.locator("[data-check]").getAttribute("data-check")).toBe("passed");
    await page.getByText("The generated TypeScript").click();
    expect(await page.locator("pre.code").textContent()).toContain("cr.matmul(W, x)");
    await finish(page, "byhand.png");
  });

  it("trains the window classifier, tags Paris as LOC, stops, continues, and round-trips the model file", async () => {
    const page = await open("#tab=ner");
    await page.locator("#ner-epochs").fill("2");
    await page.getByRole("button", { name: "Train", exact: true }).click();
    await page.locator(".epoch-table tr[data-epoch='1']").waitFor({ timeout: 300_000 });
    await page.getByRole("button", { name: "Stop" }).click();
    await page.getByRole("button", { name: "Samuel Quinn … in Paris" }).click();
    expect(await page.locator("#ner-text").inputValue()).toBe(LECTURE_SENTENCE);
    const paris = page.locator(".token", { hasText: "Paris" });
    await paris.waitFor();
    expect(await paris.getAttribute("data-type")).toBe("LOC");
    // Its window, hidden layer and scores.
    await paris.click();
    await expect.poll(() => page.locator(".window .word").count()).toBe(5);
    expect(await page.locator(".window .word.centre").textContent()).toContain("Paris");
    expect(await page.locator(".inspect svg.heatmap").count()).toBe(1);
    expect(await page.locator(".scores tbody tr").count()).toBeGreaterThan(2);
    // Continue from the checkpoint of epoch 1 to the end.
    await page.getByRole("button", { name: "Continue" }).click();
    await page.locator(".epoch-table tr[data-epoch='2']").waitFor({ timeout: 300_000 });
    await expect
      .poll(() => page.locator(".status-line").textContent(), { timeout: 60_000 })
      .toMatch(/^Training finished/);
    // Download the model as one safetensors file and load it back.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download model (.safetensors)" }).click(),
    ]);
    const file = join(ARTIFACTS, "chainrule-ner.safetensors");
    await download.saveAs(file);
    await page.locator("#ner-load").setInputFiles(file);
    await expect
      .poll(() => page.locator("#ner-model-info").textContent())
      .toContain("loaded from chainrule-ner.safetensors");
    expect(await page.locator(".token", { hasText: "Paris" }).getAttribute("data-type")).toBe("LOC");
    await finish(page, "ner.png");
  }, 600_000);

  it("offers the training options of ner train: a bad one is shown at its field; a CRF with character features trains", async () => {
    const page = await open("#tab=ner");
    await page.locator("#ner-epochs").fill("1");
    await page.locator("summary", { hasText: "Settings" }).click();
    // The fields start at ner demo's settings.
    expect(await page.locator("#ner-hiddenSize").inputValue()).toBe("300");
    expect(await page.locator("#ner-objective").inputValue()).toBe("window");
    await page.locator("#ner-hiddenSize").fill("0");
    await page.getByRole("button", { name: "Train", exact: true }).click();
    expect(await page.locator("#ner-hiddenSize-error").textContent()).toBe(
      "--hidden must be an integer ≥ 1, got 0",
    );
    expect(await page.locator("#ner-hiddenSize").getAttribute("aria-invalid")).toBe("true");
    await page.locator("#ner-hiddenSize").fill("300");
    await page.locator("#ner-objective").selectOption("sentence");
    await page.locator("#ner-prefixDimension").fill("20");
    await page.locator("#ner-suffixDimension").fill("20");
    await page.locator("#ner-shapeDimension").fill("10");
    await page.getByRole("button", { name: "Train", exact: true }).click();
    await page.locator(".epoch-table tr[data-epoch='1']").waitFor({ timeout: 300_000 });
    await expect
      .poll(() => page.locator("#ner-model-info").textContent(), { timeout: 60_000 })
      .toContain("a CRF over the sentence");
    expect(await page.locator("#ner-model-info").textContent()).toContain("features prefix + suffix + shape");
    await page.getByRole("button", { name: "Samuel Quinn … in Paris" }).click();
    const paris = page.locator(".token", { hasText: "Paris" });
    await paris.waitFor();
    // Its window goes through the feature vectors too.
    await paris.click();
    await expect.poll(() => page.locator(".window .word").count()).toBe(5);
    expect(await page.locator(".inspect svg.heatmap").count()).toBe(1);
    await finish(page, "ner-crf.png");
  }, 600_000);

  it("is keyboard reachable and readable on a narrow screen", async () => {
    const page = await open("", { width: 390, height: 844 });
    await page.locator(".node[data-node=f]").waitFor();
    // Tab to the first tab, then move along the tab list with the arrow keys.
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("tab-backprop");
    await page.keyboard.press("ArrowRight");
    await expect.poll(() => page.locator("#tab-byhand").getAttribute("aria-selected")).toBe("true");
    expect(page.url()).toContain("tab=byhand");
    await page.locator("[data-gradient=x] .katex").waitFor();
    await page.keyboard.press("ArrowLeft");
    await expect.poll(() => page.locator("#tab-backprop").getAttribute("aria-selected")).toBe("true");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(1);
    await finish(page, "narrow.png");
  });
});
