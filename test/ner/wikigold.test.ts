import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { detectScheme, extractEntities, parseConll, type ConllCorpus } from "../../src/ner/index.js";
import { DEV_EVERY, readDocuments, splitWikigold } from "../../scripts/split-wikigold.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const read = (name: string) => readFileSync(`${root}data/wikigold/${name}`, "utf8");

function entityCounts(corpus: ConllCorpus): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const sentence of corpus.sentences) {
    for (const entity of extractEntities(sentence.tags, "IOB1"))
      counts[entity.type] = (counts[entity.type] ?? 0) + 1;
  }
  return counts;
}

describe("the shipped Wikigold split", () => {
  const train = parseConll(read("train.conll"), { file: "train.conll" });
  const dev = parseConll(read("dev.conll"), { file: "dev.conll" });

  it("has the documented sizes, and together the whole corpus", () => {
    expect([train.documentCount, train.sentences.length, train.tokenCount]).toEqual([116, 1399, 32158]);
    expect([dev.documentCount, dev.sentences.length, dev.tokenCount]).toEqual([29, 297, 6849]);
    // Wikigold: 145 articles, 1,696 sentences, 39,007 tokens, 3,558 entities (PER 934, LOC 1,014, ORG 898,
    // MISC 712), as its description states.
    expect(train.documentCount + dev.documentCount).toBe(145);
    expect(train.sentences.length + dev.sentences.length).toBe(1696);
    expect(train.tokenCount + dev.tokenCount).toBe(39007);
    const trainEntities = entityCounts(train);
    const devEntities = entityCounts(dev);
    expect(trainEntities).toEqual({ PER: 779, LOC: 833, ORG: 777, MISC: 515 });
    expect(devEntities).toEqual({ PER: 155, LOC: 181, ORG: 121, MISC: 197 });
    for (const type of ["PER", "LOC", "ORG", "MISC"]) {
      expect(trainEntities[type]! + devEntities[type]!).toBe(
        { PER: 934, LOC: 1014, ORG: 898, MISC: 712 }[type],
      );
    }
  });

  it("uses IOB1 tags of the four CoNLL types", () => {
    expect(train.tagSet).toEqual(["O", "I-LOC", "I-MISC", "I-ORG", "I-PER"]);
    expect(detectScheme(train.sentences.map((s) => s.tags)).scheme).toBe("IOB1");
  });

  it("ships its licence and attribution", () => {
    expect(read("LICENSE")).toMatch(/CC-BY 4\.0/);
    const readme = read("README.md");
    expect(readme).toMatch(/Balasuriya/);
    expect(readme).toMatch(/Nothman/);
    expect(readme).toMatch(/every fifth document/i);
  });

  it("interleaving the files again by the rule gives the documents in their original order", () => {
    const trainDocuments = readDocuments(read("train.conll"));
    const devDocuments = readDocuments(read("dev.conll"));
    const merged: string[][][] = [];
    for (let i = 0, t = 0, d = 0; i < trainDocuments.length + devDocuments.length; i++) {
      merged.push((i + 1) % DEV_EVERY === 0 ? devDocuments[d++]! : trainDocuments[t++]!);
    }
    // Splitting the merged corpus again reproduces both files byte for byte.
    const text = merged
      .map((document) => `${document.map((lines) => lines.join("\n")).join("\n\n")}\n\n-DOCSTART- O\n\n`)
      .join("");
    const split = splitWikigold(text);
    expect(split.train).toBe(read("train.conll"));
    expect(split.dev).toBe(read("dev.conll"));
  });

  // Only where the original file is at hand (a developer's machine), never needed for the suite to pass.
  const original = `${root}../shared/data/wikigold/wikigold.conll.txt`;
  it.runIf(existsSync(original))("is reproduced by scripts/split-wikigold.ts from the original file", () => {
    const split = splitWikigold(readFileSync(original, "utf8"));
    expect(split.train).toBe(read("train.conll"));
    expect(split.dev).toBe(read("dev.conll"));
  });
});

describe("splitWikigold", () => {
  it("sends every fifth document to dev, in order, and keeps token lines verbatim", () => {
    const documents = Array.from(
      { length: 11 },
      (_, i) => `w${i}\tI-PER\nx O\n\ny${i} O\n\n-DOCSTART- O\n\n`,
    );
    const split = splitWikigold(documents.join(""));
    expect(split.devDocuments).toBe(2);
    expect(split.trainDocuments).toBe(9);
    const devFirstTokens = parseConll(split.dev)
      .sentences.filter((_, i) => i % 2 === 0)
      .map((s) => s.tokens[0]);
    expect(devFirstTokens).toEqual(["w4", "w9"]);
    expect(split.dev.startsWith("-DOCSTART- O\n\nw4\tI-PER\nx O\n\ny4 O\n\n-DOCSTART- O\n\n")).toBe(true);
  });

  it("reads documents whether -DOCSTART- comes before or after them", () => {
    const after = readDocuments("a O\n\n-DOCSTART- O\n\nb O\n-DOCSTART- O\n");
    const before = readDocuments("-DOCSTART- -X- -X- O\n\na O\n\n-DOCSTART- -X- -X- O\nb O\n");
    expect(after).toEqual([[["a O"]], [["b O"]]]);
    expect(before).toEqual([[["a O"]], [["b O"]]]);
  });
});
