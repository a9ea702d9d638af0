import { describe, expect, it } from "vitest";
import { builtinModules } from "node:module";
import { readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { createContext, runInContext } from "node:vm";
import { build, type Plugin } from "esbuild";

// The browser entry points (`chainrule`, `chainrule/nn`, `chainrule/ner`) are bundled for the browser with
// esbuild, with no externals, and run in a bare JavaScript context that has the browser's globals but none of
// Node's (no require, process, Buffer, module).

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const BROWSER_ENTRIES = {
  ".": "src/index.ts",
  "./nn": "src/nn/index.ts",
  "./ner": "src/ner/index.ts",
} as const;
/** The Node entry points; with the `*-node.ts` files, the only ones that may reach Node's modules. */
const NODE_ENTRIES = ["src/node.ts", "src/nn/node.ts", "src/ner/node.ts"];
const NODE_BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/** Fails the build on any import of a Node built-in module, naming the importer. */
const refuseNode: Plugin = {
  name: "refuse-node",
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /.*/ }, (args) => {
      const bare = args.path.startsWith("node:") ? args.path : args.path.split("/")[0]!;
      if (NODE_BUILTINS.has(bare) || args.path.startsWith("node:")) {
        return { errors: [{ text: `Node import "${args.path}" from ${relative(ROOT, args.importer)}` }] };
      }
      return undefined;
    });
  },
};

interface Bundle {
  code: string;
  inputs: string[];
}

async function bundle(entry: string, plugins: Plugin[] = [refuseNode]): Promise<Bundle> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    bundle: true,
    platform: "browser",
    format: "iife",
    globalName: "bundle",
    target: "es2022",
    write: false,
    metafile: true,
    logLevel: "silent",
    plugins,
  });
  return { code: result.outputFiles[0]!.text, inputs: Object.keys(result.metafile.inputs) };
}

/** Runs a bundle in a fresh context with the globals a browser page has and returns its exports. */
function load<Module>(code: string): Module {
  const context = createContext({ TextEncoder, TextDecoder, console, performance, queueMicrotask });
  runInContext(code, context);
  for (const name of ["require", "process", "Buffer", "module", "global"]) {
    expect(runInContext(`typeof ${name}`, context), name).toBe("undefined");
  }
  return runInContext("bundle", context) as Module;
}

describe("the browser entry points bundle for the browser", () => {
  it("package.json maps each browser entry (no 'node' condition) to the source bundled here", () => {
    const exports = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).exports as Record<
      string,
      Record<string, unknown>
    >;
    for (const [subpath, source] of Object.entries(BROWSER_ENTRIES)) {
      const target = exports[subpath]!.import as string;
      expect(target.replace(/^\.\/dist\//, "src/").replace(/\.js$/, ".ts"), subpath).toBe(source);
      expect(typeof exports[subpath]!.node, subpath).toBe("object");
    }
  });

  it.each(Object.entries(BROWSER_ENTRIES))(
    "%s (%s) reaches no Node module and no Node-only file",
    async (_, entry) => {
      const { inputs } = await bundle(entry);
      expect(inputs).toContain(entry);
      const nodeOnly = inputs.filter((file) => file.endsWith("-node.ts") || NODE_ENTRIES.includes(file));
      expect(nodeOnly).toEqual([]);
    },
  );

  it("the check fails on a Node import (the Node entry point does not bundle for the browser)", async () => {
    await expect(bundle(NODE_ENTRIES[0]!)).rejects.toThrow(/Node import "node:fs\/promises" from src\//);
    // and without the plugin, esbuild itself refuses it
    await expect(bundle("src/ner/node.ts", [])).rejects.toThrow(/node:/);
  });

  it("chainrule: the lecture's example runs from the bundle", async () => {
    const cr = load<typeof import("../src/index.js")>((await bundle(BROWSER_ENTRIES["."])).code);
    const x = cr.tensor(1, { requiresGrad: true });
    const y = cr.tensor(2, { requiresGrad: true });
    const z = cr.tensor(0, { requiresGrad: true });
    const f = x.add(y).mul(cr.maximum(y, z)); // a = x + y = 3, b = max(y, z) = 2, f = ab = 6
    f.backward();
    // ∂f/∂x = b = 2; ∂f/∂y = b + a = 5 (fan-out); ∂f/∂z = 0 (max routes to y)
    expect([f.item(), x.grad!.item(), y.grad!.item(), z.grad!.item()]).toEqual([6, 2, 5, 0]);
    expect(typeof cr.nn.serialize).toBe("function");
    expect("save" in cr.nn).toBe(false);
    expect("load" in cr.NerTagger).toBe(false);
  });

  it("chainrule/nn: a network trains a step and its weights round-trip through safetensors bytes", async () => {
    const nn = load<typeof import("../src/nn/index.js")>((await bundle(BROWSER_ENTRIES["./nn"])).code);
    const model = new nn.Sequential(new nn.Linear(2, 3), new nn.Tanh(), new nn.Linear(3, 1));
    const input = nn.init.normal([4, 2]);
    const target = nn.init.zeros([4, 1]);
    const loss = nn.mseLoss(model.forward(input), target);
    loss.backward();
    const before = model.stateDict()["2.bias"].item();
    const [, bias] = model.namedParameters().find(([name]) => name === "2.bias")!;
    const gradient = bias.grad!.item();
    new nn.SGD(model, { lr: 0.5 }).step();
    expect(model.stateDict()["2.bias"].item()).toBeCloseTo(before - 0.5 * gradient, 6);
    const { tensors, metadata } = nn.parse(nn.serialize(model, { note: "browser" }));
    expect(metadata).toEqual({ note: "browser" });
    expect(Object.keys(tensors).sort()).toEqual(Object.keys(model.stateDict()).sort());
    expect(Array.from(tensors["0.weight"].data)).toEqual(Array.from(model.stateDict()["0.weight"].data));
    expect("save" in nn).toBe(false);
  });

  it("chainrule/ner: parse CoNLL text, train, tag, and rebuild the tagger from its bytes", async () => {
    const ner = load<typeof import("../src/ner/index.js")>((await bundle(BROWSER_ENTRIES["./ner"])).code);
    const corpus = ner.parseConll(
      ["Paris B-LOC", "is O", "nice O", "", "John B-PER", "likes O", "Paris B-LOC", ""].join("\n"),
    );
    expect(corpus.sentences.length).toBe(2);
    const { tagger } = await ner.trainNer(
      { train: corpus.sentences },
      { epochs: 2, hiddenSize: 8, wordDimension: 4, casingDimension: 2, seed: 1 },
    );
    const { config, weights } = tagger.toBytes();
    const again = ner.NerTagger.fromBytes(config, weights);
    const text = "John likes Paris.";
    expect(again.tag(text).tokens.map((t) => t.tag)).toEqual(tagger.tag(text).tokens.map((t) => t.tag));
    expect(again.tag(text).tokens.map((t) => t.text)).toEqual(["John", "likes", "Paris", "."]);
    expect("load" in ner.NerTagger).toBe(false);
    expect("readConllFile" in ner).toBe(false);
  });
});
