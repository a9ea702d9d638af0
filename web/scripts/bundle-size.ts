/**
 * Measures the playground's initial JavaScript: the entry script of web/dist/index.html and everything it
 * imports statically (what a browser must fetch before the first tab runs), gzipped at level 9. The graph
 * layout (Graphviz in WebAssembly), KaTeX, the chart, the other tabs and the training worker load later.
 * Exits with status 1 above the budget of 300 KB.
 *
 *   node --import tsx web/scripts/bundle-size.ts [web/dist]
 */
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_KB = 300;
const site = resolve(process.argv[2] ?? join(import.meta.dirname, "..", "dist"));
const html = readFileSync(join(site, "index.html"), "utf8");
const entries = [...html.matchAll(/<script[^>]*type="module"[^>]*src="([^"]+)"/g)].map((m) => m[1]!);
const preloads = [...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g)].map((m) => m[1]!);
if (entries.length === 0) {
  process.stderr.write(`bundle-size: no module script in ${join(site, "index.html")}\n`);
  process.exit(1);
}

/** Static imports of a built chunk (`import … from"./x.js"` and `import"./x.js"`, not `import("./x.js")`). */
function staticImports(code: string): string[] {
  const found = new Set<string>();
  for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*)(["'`])(\.{1,2}\/[^"'`]+\.js)\1/g))
    found.add(m[2]!);
  return [...found];
}

const initial = new Set<string>();
const queue = [...entries, ...preloads].map((p) => resolve(site, p));
while (queue.length > 0) {
  const file = queue.shift()!;
  if (initial.has(file)) continue;
  initial.add(file);
  for (const spec of staticImports(readFileSync(file, "utf8"))) queue.push(resolve(dirname(file), spec));
}

const gz = (file: string) => gzipSync(readFileSync(file), { level: 9 }).length;
const kb = (bytes: number) => (bytes / 1024).toFixed(1);
let initialBytes = 0;
for (const file of initial) initialBytes += gz(file);
const assets = join(site, "assets");
let laterBytes = 0;
for (const name of readdirSync(assets)) {
  const file = join(assets, name);
  if (name.endsWith(".js") && !initial.has(file)) laterBytes += gz(file);
}
process.stdout.write(
  `playground: initial JavaScript ${kb(initialBytes)} KB gzipped (${initial.size} file${initial.size === 1 ? "" : "s"}; budget ${BUDGET_KB} KB); ` +
    `loaded later (graph layout, KaTeX, chart, other tabs, training worker): ${kb(laterBytes)} KB gzipped\n`,
);
if (initialBytes > BUDGET_KB * 1024) {
  process.stderr.write(`playground: the initial JavaScript is over the budget of ${BUDGET_KB} KB\n`);
  process.exit(1);
}
