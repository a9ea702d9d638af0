import { describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as browserMain from "../src/index.js";
import * as browserNn from "../src/nn/index.js";
import * as browserNer from "../src/ner/index.js";
import * as nodeMain from "../src/node.js";
import * as nodeNn from "../src/nn/node.js";
import * as nodeNer from "../src/ner/node.js";

// The Node entry points (what `chainrule`, `chainrule/nn` and `chainrule/ner` resolve to under Node's "node"
// export condition) are the browser entry points plus file I/O: nothing is lost by importing them.

describe("the Node entry points", () => {
  it("export every name of the browser entry points, plus the file functions", () => {
    for (const [browser, node] of [
      [browserMain, nodeMain],
      [browserNn, nodeNn],
      [browserNer, nodeNer],
      [browserMain.nn, nodeMain.nn],
      [browserMain.ner, nodeMain.ner],
    ] as const) {
      expect(Object.keys(node)).toEqual(expect.arrayContaining(Object.keys(browser)));
    }
    expect([typeof nodeMain.nn.save, typeof nodeMain.nn.load, typeof nodeNn.save]).toEqual([
      "function",
      "function",
      "function",
    ]);
    expect(typeof nodeMain.NerTagger.load).toBe("function");
    expect(nodeMain.ner.NerTagger).toBe(nodeMain.NerTagger);
    expect(typeof nodeMain.ner.readConllFile).toBe("function");
    expect(typeof nodeNer.readEmbeddingsFile).toBe("function");
    // Everything else is the same object in both (one Tensor class, one op table).
    expect(nodeMain.Tensor).toBe(browserMain.Tensor);
    expect(nodeMain.nn.Linear).toBe(browserNn.Linear);
  });

  it("a tagger made anywhere is an instance of both NerTagger classes, and load reads what the trainer saved", async () => {
    const corpus = browserNer.parseConll(["Paris B-LOC", "is O", "", "John B-PER", "left O", ""].join("\n"));
    const { tagger } = await browserNer.trainNer(
      { train: corpus.sentences },
      { epochs: 1, hiddenSize: 4, wordDimension: 3, casingDimension: 0, seed: 2 },
    );
    expect(tagger).toBeInstanceOf(browserMain.NerTagger);
    expect(tagger).toBeInstanceOf(nodeMain.NerTagger);
    expect({}).not.toBeInstanceOf(nodeMain.NerTagger);
    const directory = await mkdtemp(join(tmpdir(), "chainrule-node-entry-"));
    try {
      await nodeNer.saveNerModel(directory, tagger);
      const loaded = await nodeMain.NerTagger.load(directory);
      expect(loaded).toBeInstanceOf(browserMain.NerTagger);
      expect(loaded.tagTokens(["John", "left", "Paris"])).toEqual(
        tagger.tagTokens(["John", "left", "Paris"]),
      );
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
