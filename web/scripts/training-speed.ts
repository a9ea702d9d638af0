/**
 * Training speed of the NER tab's worker beside Node: one epoch of the lecture's window classifier on the
 * shipped Wikigold data with the shipped GloVe table and `ner demo`'s settings, trained by the production
 * build in Debian's Chromium and Firefox ESR (each where installed) and by `trainNer` in this Node process,
 * interleaved round by round so that all three see the same load. Prints windows per second; asserts nothing.
 *
 *   npm run build:web && node --import tsx web/scripts/training-speed.ts [--rounds N]
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import puppeteer from "puppeteer-core";
import { ROOT, startPlayground } from "../tests/harness.js";
import { DEMO_OPTIONS } from "../../src/cli/commands/ner/demo-options.js";
import { embeddingTableFromSafetensors, parseConll, trainNer } from "../../src/ner/index.js";
import { getBackend } from "../../src/index.js";

const CHROMIUM = process.env.CHAINRULE_CHROMIUM ?? "/usr/bin/chromium";
const FIREFOX = process.env.CHAINRULE_FIREFOX ?? "/usr/bin/firefox-esr";
const at = process.argv.indexOf("--rounds");
const rounds = at >= 0 ? Number(process.argv[at + 1]) : 2;

/** What a page can do: open an address, run a function in it. */
interface Driver {
  name: string;
  epoch(url: string): Promise<number>;
  close(): Promise<void>;
}

/** One epoch in the NER tab; the windows per second of the epoch's row. */
const EPOCH_SCRIPT = `(async () => {
  document.querySelector("#ner-epochs").value = "1";
  [...document.querySelectorAll("button")].find((b) => b.textContent.trim() === "Train").click();
  for (;;) {
    const row = document.querySelector(".epoch-table tr[data-epoch='1']");
    const status = document.querySelector(".status-line").textContent;
    if (/^Training failed/.test(status)) throw new Error(status);
    if (row) return Number(row.dataset.rate);
    await new Promise((r) => setTimeout(r, 100));
  }
})()`;

async function chromiumDriver(): Promise<Driver> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
  return {
    name: "Chromium (worker)",
    async epoch(url) {
      const page = await browser.newPage();
      await page.goto(url + "#tab=ner");
      await page.locator("#ner-epochs").waitFor();
      const rate = (await page.evaluate(EPOCH_SCRIPT)) as number;
      await page.close();
      return rate;
    },
    close: () => browser.close(),
  };
}

async function firefoxDriver(): Promise<Driver> {
  const browser = await puppeteer.launch({ browser: "firefox", executablePath: FIREFOX, headless: true });
  return {
    name: "Firefox ESR (worker)",
    async epoch(url) {
      const page = await browser.newPage();
      await page.goto(url + "#tab=ner");
      await page.waitForSelector("#ner-epochs");
      const rate = (await page.evaluate(EPOCH_SCRIPT)) as number;
      await page.close();
      return rate;
    },
    close: () => browser.close(),
  };
}

/** The same run as the worker's, in this process. */
async function nodeEpoch(): Promise<number> {
  const read = (path: string) => readFileSync(join(ROOT, "data", path));
  const train = parseConll(read("wikigold/train.conll").toString("utf8"), { file: "train.conll" });
  const dev = parseConll(read("wikigold/dev.conll").toString("utf8"), { file: "dev.conll" });
  const pretrained = embeddingTableFromSafetensors(
    new Uint8Array(read("glove/glove-wikigold-100d.safetensors")),
    "glove-wikigold-100d.safetensors",
  );
  const result = await trainNer(
    { train: train.sentences, dev: dev.sentences, pretrained },
    { ...DEMO_OPTIONS, epochs: 1 },
  );
  return result.history[0]!.examplesPerSecond;
}

const server = await startPlayground();
const drivers: Driver[] = [];
try {
  if (existsSync(CHROMIUM)) drivers.push(await chromiumDriver());
  if (existsSync(FIREFOX)) drivers.push(await firefoxDriver());
  const rates = new Map<string, number[]>();
  const record = (name: string, rate: number) => {
    rates.set(name, [...(rates.get(name) ?? []), rate]);
    process.stdout.write(`  ${name}: ${Math.round(rate).toLocaleString("en")} windows/s\n`);
  };
  for (let round = 1; round <= rounds; round++) {
    process.stdout.write(`round ${round} of ${rounds}\n`);
    record(`Node (${getBackend().name} backend)`, await nodeEpoch());
    for (const driver of drivers) record(driver.name, await driver.epoch(server.url));
  }
  process.stdout.write("\nwindows per second, one epoch of ner demo's settings (best of the rounds):\n");
  for (const [name, list] of rates) {
    process.stdout.write(
      `  ${name.padEnd(28)} ${Math.round(Math.max(...list))
        .toLocaleString("en")
        .padStart(7)}\n`,
    );
  }
} finally {
  for (const driver of drivers) await driver.close();
  server.close();
}
