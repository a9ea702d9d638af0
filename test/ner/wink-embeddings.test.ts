import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { FormatError } from "../../src/index.js";
import { findWinkEmbeddings, readWinkEmbeddings } from "../../src/ner/wink-embeddings-node.js";

const directory = mkdtempSync(join(tmpdir(), "chainrule-wink-"));
let files = 0;
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function file(text: string): string {
  const path = join(directory, `wink-${files++}.json`);
  writeFileSync(path, text);
  return path;
}

/** A vector as the package stores it: 100 numbers, then the norm and the index. */
function vector(seed: number): number[] {
  return [...Array.from({ length: 100 }, (_, j) => Math.round(Math.sin(seed + j) * 1000) / 1000), 1.5, seed];
}

function winkJson(entries: [string, number[]][]): string {
  const vectors = entries.map(([word, values]) => `${JSON.stringify(word)}:[${values.join(",")}]`).join(",");
  return `{"precision":3,"words":${JSON.stringify(entries.map(([w]) => w))},"vectors":{${vectors}},"size":${entries.length}}`;
}

describe("readWinkEmbeddings", () => {
  it("reads the words in file order with their first 100 numbers", async () => {
    const entries: [string, number[]][] = [
      ["the", vector(1)],
      ['quo"te', vector(2)],
      ["paris", vector(3)],
    ];
    const table = await readWinkEmbeddings(file(winkJson(entries)));
    expect(table.words).toEqual(["the", 'quo"te', "paris"]);
    expect(table.dimension).toBe(100);
    expect(table.vectors.length).toBe(300);
    expect(Array.from(table.vectors.subarray(200, 300))).toEqual(
      Array.from(Float32Array.from(vector(3).slice(0, 100))),
    );
    const kept = await readWinkEmbeddings(file(winkJson(entries)), (word) => word !== "the");
    expect(kept.words).toEqual(['quo"te', "paris"]);
  });

  it("refuses files that are not the package's with a FormatError", async () => {
    await expect(readWinkEmbeddings(file('{"words":[]}'))).rejects.toThrow(/no vectors found/);
    await expect(readWinkEmbeddings(file(winkJson([["a", [1, 2, 3]]])))).rejects.toThrow(
      /has 3 numbers, expected 100/,
    );
    const bad = vector(1).map(String);
    bad[7] = "x";
    await expect(readWinkEmbeddings(file(winkJson([["a", bad as never]])))).rejects.toThrow(
      /number 8 of the vector of "a" is not a finite number/,
    );
    await expect(
      readWinkEmbeddings(file(`{"vectors":{"\\q":[${vector(1).join(",")}]}}`)),
    ).rejects.toBeInstanceOf(FormatError);
  });

  it("gives a table or a FormatError on random input, nothing else", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `{"vectors":{${s}}}`),
          fc
            .array(fc.oneof(fc.double(), fc.constant(Number.NaN)), { maxLength: 110 })
            .map((values) => `{"vectors":{"w":[${values.join(",")}]}}`),
        ),
        async (text) => {
          try {
            const table = await readWinkEmbeddings(file(text));
            expect(table.vectors.length).toBe(table.words.length * 100);
          } catch (error) {
            expect(error).toBeInstanceOf(FormatError);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("findWinkEmbeddings", () => {
  it("gives null where the package is not installed", () => {
    expect(findWinkEmbeddings(directory)).toBeNull();
  });
});
