/**
 * Splits Wikigold (`wikigold.conll.txt`) into the shipped train and dev files, by document:
 * documents are numbered 0, 1, 2, … in file order (they are separated by `-DOCSTART-` lines) and every fifth
 * one (4, 9, 14, …) goes to dev, the rest to train. Token lines are copied verbatim; each document is written
 * after a `-DOCSTART- O` line and a blank line, its sentences separated by blank lines.
 *
 *   npx tsx scripts/split-wikigold.ts [input] [output-directory]
 *
 * Defaults: `../shared/data/wikigold/wikigold.conll.txt` and `data/wikigold`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** Every `DEV_EVERY`-th document (counting from 1) goes to dev. */
export const DEV_EVERY = 5;

/** The documents of a CoNLL text, each a list of sentences, each a list of token lines (verbatim). */
export function readDocuments(text: string): string[][][] {
  const documents: string[][][] = [];
  let sentences: string[][] = [];
  let sentence: string[] = [];
  const endSentence = (): void => {
    if (sentence.length > 0) sentences.push(sentence);
    sentence = [];
  };
  const endDocument = (): void => {
    endSentence();
    if (sentences.length > 0) documents.push(sentences);
    sentences = [];
  };
  for (const line of text.replace(/^\uFEFF/, "").split(/\r\n|\n|\r/)) {
    const first = line.trim().split(/[ \t]+/)[0];
    if (first === "") endSentence();
    else if (first === "-DOCSTART-") endDocument();
    else sentence.push(line);
  }
  endDocument();
  return documents;
}

function formatDocuments(documents: readonly string[][][]): string {
  return documents
    .map((sentences) => `-DOCSTART- O\n\n${sentences.map((lines) => `${lines.join("\n")}\n`).join("\n")}\n`)
    .join("");
}

/** The split: document i goes to dev when (i + 1) is a multiple of {@link DEV_EVERY}. */
export function splitWikigold(text: string): {
  train: string;
  dev: string;
  trainDocuments: number;
  devDocuments: number;
} {
  const documents = readDocuments(text);
  const train = documents.filter((_, i) => (i + 1) % DEV_EVERY !== 0);
  const dev = documents.filter((_, i) => (i + 1) % DEV_EVERY === 0);
  return {
    train: formatDocuments(train),
    dev: formatDocuments(dev),
    trainDocuments: train.length,
    devDocuments: dev.length,
  };
}

function main(): void {
  const input = process.argv[2] ?? "../shared/data/wikigold/wikigold.conll.txt";
  const outputDirectory = process.argv[3] ?? "data/wikigold";
  const split = splitWikigold(readFileSync(input, "utf8"));
  writeFileSync(join(outputDirectory, "train.conll"), split.train);
  writeFileSync(join(outputDirectory, "dev.conll"), split.dev);
  console.log(
    `${input}: ${split.trainDocuments} documents to ${join(outputDirectory, "train.conll")}, ` +
      `${split.devDocuments} to ${join(outputDirectory, "dev.conll")}`,
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
