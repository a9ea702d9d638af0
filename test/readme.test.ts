import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";
import { readConllFile } from "../src/ner/conll-node.js";
import { saveNerModel } from "../src/ner/tagger-node.js";
import { trainNer } from "../src/ner/trainer.js";
import { installTensorMethods } from "../src/autograd/tensor-methods.js";

// The trainer is imported from its file, not through an entry point, so the Tensor methods are attached here.
installTensorMethods();

// Every ```ts block of README.md and docs/*.md, type-checked under strict TypeScript and run, each on its own
// and as written. The only thing changed is where "chainrule" resolves: to the package's Node entry points in
// src/ (what `import … from "chainrule"` gives a Node program). Each block runs with a temporary folder as the
// working directory, holding the shipped data (`data/`) and a small model trained on it (`model/`), which is
// what a reader has after following the README; `fetch` serves that folder, as a web server would.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** The package's import paths and the source of what they give in Node (see package.json's exports). */
const ENTRY_POINTS: Record<string, string> = {
  chainrule: "src/node.ts",
  "chainrule/node": "src/node.ts",
  "chainrule/nn": "src/nn/node.ts",
  "chainrule/nn/node": "src/nn/node.ts",
  "chainrule/ner": "src/ner/node.ts",
  "chainrule/ner/node": "src/ner/node.ts",
};

interface Block {
  name: string;
  /** The markdown file and the line of the block's first line of code. */
  file: string;
  line: number;
  code: string;
}

async function collectBlocks(): Promise<Block[]> {
  const files = [
    "README.md",
    ...(await readdir(join(ROOT, "docs"))).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`),
  ];
  const blocks: Block[] = [];
  for (const file of files) {
    const text = await readFile(join(ROOT, file), "utf8");
    for (const match of text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
      const line = text.slice(0, match.index).split("\n").length + 1;
      blocks.push({ name: `${file}:${line}`, file, line, code: match[1]! });
    }
  }
  return blocks;
}

/** The block with its "chainrule…" import specifiers pointed at the sources (nothing else changes). */
function resolveImports(code: string): string {
  return code.replace(
    /(from\s+|import\s*\(\s*)"(chainrule(?:\/[a-z/]+)?)"/g,
    (_match, prefix: string, specifier: string) => {
      const target = ENTRY_POINTS[specifier];
      if (target === undefined)
        throw new Error(`unknown entry point "${specifier}" in a documentation block`);
      return `${prefix}${JSON.stringify(join(ROOT, target).replace(/\.ts$/, ".js"))}`;
    },
  );
}

const blocks = await collectBlocks();
let folder: string;
const fileOf = (block: Block): string => join(folder, `${block.file.replace(/\W/g, "_")}_${block.line}.ts`);

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "chainrule-docs-"));
  await symlink(join(ROOT, "data"), join(folder, "data"), "dir");
  // A small model, as `chainrule ner train … --out model/` leaves one.
  const train = await readConllFile(join(ROOT, "data/wikigold/train.conll"));
  const { tagger } = await trainNer(
    { train: train.sentences.slice(0, 120) },
    { epochs: 1, hiddenSize: 16, wordDimension: 8, seed: 1 },
  );
  await saveNerModel(join(folder, "model"), tagger);
  for (const block of blocks) await writeFile(fileOf(block), resolveImports(block.code));
  await writeFile(join(folder, "package.json"), JSON.stringify({ type: "module" }));
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe("the documentation's TypeScript blocks", () => {
  it("are found (README.md and every docs/*.md)", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(10);
    expect(new Set(blocks.map((b) => b.file))).toContain("README.md");
  });

  it("type-check under strict TypeScript, each as a module of its own", () => {
    const program = ts.createProgram(
      blocks.map((b) => fileOf(b)),
      {
        strict: true,
        noEmit: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
        types: ["node"],
        typeRoots: [join(ROOT, "node_modules/@types")],
        skipLibCheck: true,
      },
    );
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file !== undefined && d.file.fileName.startsWith(folder))
      .map((d) => {
        const block = blocks.find((b) => fileOf(b) === d.file!.fileName)!;
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        return `${block.file}:${block.line + line}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
      });
    expect(problems).toEqual([]);
  }, 300_000); // the whole library is type-checked behind the blocks: slow on a loaded machine

  describe("run as written", () => {
    const directory = process.cwd();
    afterAll(() => {
      process.chdir(directory);
      vi.unstubAllGlobals();
      vi.restoreAllMocks();
    });

    it.each(blocks.map((b) => [b.name, b] as const))("%s", async (_, block) => {
      process.chdir(folder);
      vi.spyOn(console, "log").mockImplementation(() => undefined);
      vi.stubGlobal(
        "fetch",
        async (url: string) => new Response(await readFile(join(folder, relative(".", url)))),
      );
      await import(pathToFileURL(fileOf(block)).href);
    });
  });
});
