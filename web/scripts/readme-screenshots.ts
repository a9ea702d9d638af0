/**
 * The README's pictures of the playground (docs/images/playground-*.png), taken in Debian's Chromium from the
 * production build served by `chainrule playground`: the lecture's example stepped to the end, the by-hand
 * derivation of u' * tanh(W*x + b) down to its passed check, and the window classifier after two epochs with
 * the lecture's sentence tagged and "Paris" inspected. Quantised with pngquant where it is installed.
 *
 *   npm run build:web && node --import tsx web/scripts/readme-screenshots.ts
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Page } from "playwright-core";
import { ROOT, startPlayground } from "../tests/harness.js";

const CHROMIUM = process.env.CHAINRULE_CHROMIUM ?? "/usr/bin/chromium";
const IMAGES = join(ROOT, "docs", "images");
const WIDTH = 1200;

/** A screenshot of the page's top, down to the bottom of `until` (at least the viewport's height). */
async function shoot(page: Page, name: string, until: string): Promise<void> {
  const box = await page.locator(until).last().boundingBox();
  if (box === null) throw new Error(`${name}: ${until} is not visible`);
  const scroll = await page.evaluate(() => window.scrollY);
  const height = Math.max(820, Math.ceil(box.y + scroll + box.height + 16));
  const file = join(IMAGES, name);
  await page.screenshot({ path: file, fullPage: true, clip: { x: 0, y: 0, width: WIDTH, height } });
  if (existsSync("/usr/bin/pngquant")) {
    execFileSync("/usr/bin/pngquant", ["--force", "--skip-if-larger", "--output", file, "--", file]);
  }
  process.stdout.write(`${file} (${WIDTH} × ${height})\n`);
}

const server = await startPlayground();
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});
try {
  const page = await browser.newPage({ viewport: { width: WIDTH, height: 820 } });
  await page.goto(server.url);
  await page.locator(".node[data-node=f]").waitFor();
  await page.getByRole("button", { name: "Run to the end ▶▶" }).click();
  await page.locator("[data-fanout=y]").waitFor();
  await shoot(page, "playground-backprop.png", "body > *:first-child");

  await page.goto(
    server.url +
      "#tab=byhand&expr=" +
      encodeURIComponent("u' * tanh(W*x + b)") +
      "&shapes=" +
      encodeURIComponent("W: n×m, x: m, b: n, u: n"),
  );
  await page.locator("[data-gradient=W] .katex").waitFor();
  await page.getByRole("button", { name: "Check against backprop and finite differences" }).click();
  await page.locator("[data-check=passed]").waitFor();
  await shoot(page, "playground-byhand.png", "[data-check]");

  await page.goto(server.url + "#tab=ner");
  await page.locator("#ner-epochs").fill("2");
  await page.getByRole("button", { name: "Train", exact: true }).click();
  await page.locator(".status-line", { hasText: "Training finished" }).waitFor({ timeout: 600_000 });
  await page.getByRole("button", { name: "Samuel Quinn … in Paris" }).click();
  await page.locator(".token", { hasText: "Paris" }).click();
  await page.locator(".scores").waitFor();
  await shoot(page, "playground-ner.png", ".scores");
} finally {
  await browser.close();
  server.close();
}
