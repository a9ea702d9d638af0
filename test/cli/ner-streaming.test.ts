/**
 * `ner eval` and `ner tag` read their input as a stream. `ner eval`'s report, JSON scores and predictions file
 * must be byte for byte what reading the whole file at once gives (computed here the way `ner eval` did before
 * it streamed: read all, detect the scheme, tag all, score all); `ner tag`'s output must be what tagging the
 * whole text at once gives.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { run } from "../calculus/run-cli.js";
import { readConllFile } from "../../src/ner/conll-node.js";
import { formatConll, formatPredictions } from "../../src/ner/conll.js";
import { conlleval, formatConllevalReport } from "../../src/ner/conlleval.js";
import { detectScheme } from "../../src/ner/tags.js";
import { NerTagger, saveNerModel } from "../../src/ner/tagger-node.js";
import { binaryScores, trainNer } from "../../src/ner/trainer.js";
import { formatCount } from "../../src/cli/progress.js";
import { PIECE_CHARACTERS, lastSafeCut, piecesOf, writeTaggedJson } from "../../src/cli/commands/ner/tag.js";
import { formatTaggedConll, formatTaggedText } from "../../src/cli/commands/ner/format.js";
import { tokenizeSentences } from "../../src/ner/tokenizer.js";

const DATA = join(dirname(fileURLToPath(import.meta.url)), "../../data/wikigold");

let folder: string;
let softmaxModel: string;
let binaryModel: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "chainrule-ner-streaming-"));
  const train = (await readConllFile(join(DATA, "train.conll"))).sentences.slice(0, 60);
  const options = { wordDimension: 6, hiddenSize: 8, epochs: 1, batchSize: 16, seed: 5 };
  softmaxModel = join(folder, "softmax");
  binaryModel = join(folder, "binary");
  await saveNerModel(softmaxModel, (await trainNer({ train }, options)).tagger);
  await saveNerModel(binaryModel, (await trainNer({ train }, { ...options, binary: "LOC" })).tagger);
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

/** What `ner eval` printed and wrote before it streamed: the whole file read, tagged and scored at once. */
async function wholeFileEval(model: string, data: string): Promise<{ report: string; predictions: string }> {
  const tagger = await NerTagger.load(model);
  const corpus = await readConllFile(data);
  const detected = detectScheme(corpus.sentences.map((s) => s.tags));
  const scheme = detected.certain ? detected.scheme : tagger.scheme;
  const predicted = tagger.tagSentences(
    corpus.sentences.map((s) => s.tokens),
    { scheme },
  );
  const sentences = corpus.sentences.map((s, i) => ({
    tokens: s.tokens,
    gold: s.tags,
    predicted: predicted[i]!,
  }));
  const predictions = formatPredictions(sentences);
  if (tagger.binary === null)
    return { report: formatConllevalReport(conlleval(sentences, { scheme })), predictions };
  const type = tagger.binary;
  const gold: number[] = [];
  const guess: number[] = [];
  for (const s of sentences) {
    s.gold.forEach((tag, t) => {
      gold.push(tag.slice(tag.indexOf("-") + 1) === type && tag !== "O" ? 1 : 0);
      guess.push(s.predicted[t] !== "O" ? 1 : 0);
    });
  }
  const scores = binaryScores(gold, guess);
  const report =
    `processed ${formatCount(gold.length)} tokens; binary classifier for ${type} (per token, positive class):\n` +
    `precision: ${scores.precision.toFixed(2)}%; recall: ${scores.recall.toFixed(2)}%; F1: ${scores.f1.toFixed(2)}; accuracy: ${scores.accuracy.toFixed(2)}%\n`;
  return { report, predictions };
}

/** `ner eval` on `data`, checked byte for byte against the whole-file computation. */
async function expectSameAsWholeFile(model: string, data: string): Promise<string> {
  const out = join(folder, `predictions-${Math.random().toString(36).slice(2)}.txt`);
  const { code, stdout, stderr } = await run("ner", "eval", "--model", model, "--data", data, "--out", out);
  let expected;
  try {
    expected = await wholeFileEval(model, data);
  } catch (error) {
    // What the whole file refuses (no sentences at all, say), the stream refuses with the same message.
    expect(code).not.toBe(0);
    expect(stderr).toBe(`chainrule: ${(error as Error).message}\n`);
    return stderr;
  }
  expect(stderr).toBe("");
  expect(code).toBe(0);
  expect(stdout).toBe(expected.report);
  expect(await readFile(out, "utf8")).toBe(expected.predictions);
  await rm(out);
  return stdout;
}

describe("ner eval reads its data as a stream", () => {
  it("gives the whole-file report and predictions on the shipped Wikigold data (many batches)", async () => {
    for (const file of ["dev.conll", "train.conll"]) {
      const report = await expectSameAsWholeFile(softmaxModel, join(DATA, file));
      expect(report).toMatch(/^processed \d+ tokens with \d+ phrases/);
      await expectSameAsWholeFile(binaryModel, join(DATA, file));
    }
  });

  it("gives the whole-file report on small files: documents, -X- tokens, U+FEFF, CRLF, IOBES, no tags", async () => {
    const files: Record<string, string> = {
      docstart: "-DOCSTART- O\n\nParis B-LOC\nis O\n\n-DOCSTART- O\n\nAnna B-PER\nQuinn I-PER\n",
      boundary: "Paris B-LOC\n-X- O\nBerlin B-LOC\n",
      bom: "\uFEFF\uFEFFParis B-LOC\nis O\n",
      crlf: "Paris B-LOC\r\nis O\r\n\r\nLondon B-LOC\r\n",
      iobes: "New B-LOC\nYork E-LOC\nis O\nParis S-LOC\n",
      iob1: "Paris I-LOC\nand O\nLondon I-LOC\n",
      outside: "just O\nwords O\n",
      empty: "",
      blank: "\n\n\n",
      noFinalNewline: "Paris B-LOC\nis O",
    };
    for (const [name, text] of Object.entries(files)) {
      const path = join(folder, `${name}.conll`);
      await writeFile(path, text);
      for (const model of [softmaxModel, binaryModel]) await expectSameAsWholeFile(model, path);
    }
  });

  it("gives the whole-file JSON scores (--json)", async () => {
    const data = join(DATA, "dev.conll");
    const { stdout } = await run("ner", "eval", "--model", softmaxModel, "--data", data, "--json");
    const metrics = JSON.parse(stdout) as { f1: number; tokens: number };
    const tagger = await NerTagger.load(softmaxModel);
    const corpus = await readConllFile(data);
    const predicted = tagger.tagSentences(corpus.sentences.map((s) => s.tokens));
    const expected = conlleval(
      corpus.sentences.map((s, i) => ({ tokens: s.tokens, gold: s.tags, predicted: predicted[i]! })),
      { scheme: "IOB1" },
    );
    expect(metrics.tokens).toBe(expected.tokenCount);
    expect(metrics.f1).toBe(expected.f1);
  });

  it("gives the whole-file report for random sentence files (fast-check)", async () => {
    const tag = fc.constantFrom("O", "B-LOC", "I-LOC", "B-PER", "I-PER", "E-LOC", "S-PER");
    const word = fc.constantFrom("Paris", "is", "Anna", "in", "London", "the", ",", "-X-", "Quinn");
    const sentence = fc.array(fc.tuple(word, tag), { minLength: 1, maxLength: 12 });
    let index = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(sentence, { maxLength: 30 }), async (sentences) => {
        const path = join(folder, `random-${index++}.conll`);
        await writeFile(
          path,
          formatConll(sentences.map((s) => ({ tokens: s.map(([w]) => w), tags: s.map(([, t]) => t) }))),
        );
        await expectSameAsWholeFile(sentences.length % 2 === 0 ? softmaxModel : binaryModel, path);
        await rm(path);
      }),
      { numRuns: 25 },
    );
  });

  it("reports a malformed line before writing anything", async () => {
    const path = join(folder, "malformed.conll");
    await writeFile(path, "Paris B-LOC\n\nBerlin\n");
    const out = join(folder, "never.txt");
    const { code, stderr } = await run("ner", "eval", "--model", softmaxModel, "--data", path, "--out", out);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/malformed\.conll:3/);
    await expect(readFile(out)).rejects.toThrow(/ENOENT/);
  });
});

describe("ner tag reads a file or standard input as a stream, a piece at a time", () => {
  async function* chunksOf(text: string, size: number): AsyncGenerator<string> {
    for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
  }

  async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
    const out: T[] = [];
    for await (const item of items) out.push(item);
    return out;
  }

  /** The sentences of `text` as tokenizing the whole text gives them, with offsets. */
  const sentencesOf = (text: string, offset = 0) =>
    tokenizeSentences(text).map((s) =>
      s.tokens.map((t) => `${t.text}@${t.start + offset}-${t.end + offset}`),
    );

  const fragment = fc.constantFrom(
    "J.",
    "Rowling",
    "Anna",
    " ",
    " ",
    "\n",
    "\n\n",
    "\n \n",
    "\r\n\r\n",
    "\t\n",
    "\u00A0",
    "\u2028",
    "U.S.",
    "A.",
    "a",
    "Paris",
    ".",
    "?",
    "e.g.",
    "...",
    "'s",
    "1,000",
    "3.5",
    "x@y.com",
    "http://a.b/c",
    '"',
    ")",
    "—",
    "\uFEFF",
    "😀",
  );

  it("cuts only where tokenizing the pieces apart gives the whole text's sentences (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fragment, { maxLength: 80 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 9 }),
        async (fragments, size, chunk) => {
          const text = fragments.join("");
          const pieces = await collect(piecesOf(chunksOf(text, chunk), size));
          expect(pieces.map((p) => p.text).join("")).toBe(text);
          let offset = 0;
          for (const piece of pieces) {
            expect(piece.offset).toBe(offset);
            offset += piece.text.length;
          }
          expect(pieces.flatMap((p) => sentencesOf(p.text, p.offset))).toEqual(sentencesOf(text));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("does not cut after a letter and a period (an initial the tokenizer reads across the blank line)", () => {
    expect(lastSafeCut("Anna met J.\n\nRowling", 0)).toBe(-1);
    expect(lastSafeCut("Anna met Joe.\n\nRowling", 0)).toBe(-1);
    expect(lastSafeCut("Anna met Joe\n\nRowling", 0)).toBe(13);
    expect(lastSafeCut("One.\n\nTwo!\n\nThree", 0)).toBe(11);
  });

  it("looks past white space of any length, several blank lines included, for the letter and period", () => {
    // Found by the property above: the period lay more than eight characters before the last blank line.
    const text = "J.\r\n\r\n \n\r\n\r\nJ.";
    expect(lastSafeCut(text, 0)).toBe(-1);
    expect(sentencesOf(text)[0]).toEqual(["J.@0-2"]);
    const long = `Anna met J.${"\n \t\u00A0\u2028\n".repeat(500)}Rowling.`;
    expect(lastSafeCut(long, 0)).toBe(-1);
    expect(lastSafeCut(long, 1000)).toBe(-1);
    expect(lastSafeCut(`Anna met Joe${"\n\n".repeat(500)}Rowling.`, 900)).toBe(12 + 998 + 1);
    // A letter outside the Basic Multilingual Plane is a letter too.
    expect(lastSafeCut("Anna met \u{1D400}.\n \n\n  \n\nRowling", 0)).toBe(-1);
  });

  it("prints what tagging the whole text gives, in every format, for a file of many pieces", async () => {
    // Wikigold's sentences as running text, a paragraph each: about 200,000 characters, several pieces.
    const corpus = await readConllFile(join(DATA, "train.conll"));
    const text = corpus.sentences.map((s) => s.tokens.join(" ")).join("\n\n") + "\n";
    expect(text.length).toBeGreaterThan(2 * PIECE_CHARACTERS);
    const path = join(folder, "running.txt");
    await writeFile(path, "\uFEFF" + text);
    const tagger = await NerTagger.load(softmaxModel);
    const whole = tagger.tag(text, { scheme: "IOB2" });
    const expected: Record<string, string> = {
      text: formatTaggedText(whole),
      conll: formatTaggedConll(whole),
      json: JSON.stringify(whole, null, 2) + "\n",
    };
    for (const format of ["text", "conll", "json"]) {
      const { code, stdout, stderr } = await run(
        "ner",
        "tag",
        "--model",
        softmaxModel,
        "--format",
        format,
        "--input",
        path,
      );
      expect(stderr).toBe("");
      expect(code).toBe(0);
      expect(stdout === expected[format], format).toBe(true);
    }
  });

  it("prints what it printed before for empty and blank input", async () => {
    for (const [name, text] of [
      ["empty", ""],
      ["blank", "\n\n  \n"],
    ] as const) {
      const path = join(folder, `${name}.txt`);
      await writeFile(path, text);
      const tagger = await NerTagger.load(softmaxModel);
      const whole = tagger.tag(text);
      expect((await run("ner", "tag", "--model", softmaxModel, "--input", path)).stdout).toBe(
        formatTaggedText(whole),
      );
      const conll = await run("ner", "tag", "--model", softmaxModel, "--format", "conll", "--input", path);
      expect(conll.stdout).toBe(formatTaggedConll(whole));
      const json = await run("ner", "tag", "--model", softmaxModel, "--format", "json", "--input", path);
      expect(json.stdout).toBe(JSON.stringify(whole, null, 2) + "\n");
    }
  });

  /**
   * The document `ner tag --format json` printed before it streamed: every piece tagged, its offsets and token
   * indices moved into the whole text, all of it gathered, then `JSON.stringify(whole, null, 2)`. (Tagging a
   * piece alone can give scores that differ in the last digits from tagging the whole text at once; the
   * pieces are what both versions tag.)
   */
  async function gatheredJson(tagger: NerTagger, pieces: AsyncIterable<{ text: string; offset: number }>) {
    const whole = { text: "", tokens: [] as object[], entities: [] as object[], sentences: [] as object[] };
    for await (const { text, offset } of pieces) {
      const tagged = tagger.tag(text, { scheme: "IOBES" });
      const tokenOffset = whole.tokens.length;
      whole.text += text;
      whole.tokens.push(
        ...tagged.tokens.map((t) => ({ ...t, start: t.start + offset, end: t.end + offset })),
      );
      whole.entities.push(
        ...tagged.entities.map((e) => ({
          ...e,
          start: e.start + offset,
          end: e.end + offset,
          tokenStart: e.tokenStart + tokenOffset,
          tokenEnd: e.tokenEnd + tokenOffset,
        })),
      );
      whole.sentences.push(
        ...tagged.sentences.map((s) => ({
          tokenStart: s.tokenStart + tokenOffset,
          tokenEnd: s.tokenEnd + tokenOffset,
          start: s.start + offset,
          end: s.end + offset,
        })),
      );
    }
    return JSON.stringify(whole, null, 2) + "\n";
  }

  it("writes the JSON document piece by piece, spooling past the limit, byte for byte (property)", async () => {
    const tagger = await NerTagger.load(softmaxModel);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fragment, { maxLength: 60 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 400 }),
        async (fragments, size, spoolCharacters) => {
          const text = fragments.join("");
          const spool = join(folder, `spool-${run++}`);
          await mkdir(spool);
          let out = "";
          const write = async (chunk: string) => {
            out += chunk;
          };
          const pieces = () => piecesOf(chunksOf(text, 7), size);
          await writeTaggedJson(tagger, pieces(), "IOBES", write, spool, spoolCharacters);
          expect(out).toBe(await gatheredJson(tagger, pieces()));
          expect(JSON.parse(out).text).toBe(text);
          await rm(spool, { recursive: true });
        },
      ),
      { numRuns: 150 },
    );
  });

  it("leaves no spool folder behind, after output or after an error", async () => {
    const spools = async () => (await readdir(tmpdir())).filter((name) => name.startsWith("chainrule-tag-"));
    const before = await spools();
    const path = join(folder, "two.txt");
    await writeFile(path, "Anna lives in Oslo.\n\nBob met Carl in Paris.\n");
    const { code, stdout } = await run(
      "ner",
      "tag",
      "--model",
      softmaxModel,
      "--format",
      "json",
      "--input",
      path,
    );
    expect(code).toBe(0);
    expect(JSON.parse(stdout).text).toBe("Anna lives in Oslo.\n\nBob met Carl in Paris.\n");
    const missing = await run(
      "ner",
      "tag",
      "--model",
      softmaxModel,
      "--format",
      "json",
      "--input",
      join(folder, "no"),
    );
    expect(missing.code).not.toBe(0);
    expect(await spools()).toEqual(before);
  });
});
