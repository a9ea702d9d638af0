import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { ChainruleError, ParseError, ValueError } from "../../src/errors.js";
import { formatConll, parseConll, sortTags } from "../../src/ner/conll.js";
import { readCompactCorpus, readConllFile } from "../../src/ner/conll-node.js";
import {
  CompactCorpus,
  CompactCorpusBuilder,
  SentenceChecksum,
  type TaggedSentence,
} from "../../src/ner/conll-compact.js";
import { detectScheme } from "../../src/ner/tags.js";
import { checksumOf } from "../../src/ner/tagger.js";

/** The checksum as it was first defined: FNV-1a of the UTF-8 of the whole text, built as one string. */
function referenceFingerprint(sentences: readonly TaggedSentence[]): string {
  const text = sentences.map((s) => `${s.tokens.join(" ")}\t${s.tags.join(" ")}`).join("\n");
  return `${sentences.length}:${checksumOf(new TextEncoder().encode(text))}`;
}

const tagArbitrary = fc.oneof(
  fc.constant("O"),
  fc
    .tuple(fc.constantFrom("B", "I", "E", "S"), fc.constantFrom("PER", "LOC", "MISC"))
    .map(([p, t]) => `${p}-${t}`),
);
/** Sentences of tokens the CoNLL format can hold (some repeated, some not, some with accents). */
const conllSentence = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom("the", "Paris", "PARIS", "1996", "é"),
        fc.stringMatching(/^[A-Za-zé0-9.,'-]{1,7}$/),
      ),
      tagArbitrary,
    ),
    { minLength: 1, maxLength: 8 },
  )
  .map((pairs) => ({ tokens: pairs.map((p) => p[0]), tags: pairs.map((p) => p[1]) }));

/** Everything a corpus holds, as plain data. */
function contents(corpus: CompactCorpus) {
  return {
    sentences: [...corpus.sentences()],
    tagSet: corpus.tagSet,
    fingerprint: corpus.fingerprint,
    scheme: corpus.schemeDetection,
    counts: Object.fromEntries(corpus.tokenTable.map((t, i) => [t, corpus.tokenCounts[i]])),
    tokenCount: corpus.tokenCount,
    offsets: [...corpus.offsets],
  };
}

describe("SentenceChecksum", () => {
  it("is FNV-1a of the UTF-8 of the joined text, for any strings, lone surrogates included (property)", () => {
    const anyText = fc.string({ maxLength: 6, unit: "binary" });
    const sentence = fc
      .array(fc.tuple(anyText, anyText), { maxLength: 4 })
      .map((pairs) => ({ tokens: pairs.map((p) => p[0]), tags: pairs.map((p) => p[1]) }));
    fc.assert(
      fc.property(fc.array(sentence, { maxLength: 5 }), (sentences) => {
        const checksum = new SentenceChecksum();
        for (const s of sentences) checksum.add(s.tokens, s.tags);
        expect(checksum.result()).toBe(referenceFingerprint(sentences));
        expect(checksum.sentenceCount).toBe(sentences.length);
      }),
      { numRuns: 300 },
    );
    // The cases by hand: 1-, 2-, 3- and 4-byte characters, a lone high and a lone low surrogate.
    const edge = [{ tokens: ["a", "é", "€", "😀", "\ud800", "\udc00x"], tags: ["O", "B-X", "", "", "", ""] }];
    const checksum = new SentenceChecksum();
    checksum.add(edge[0]!.tokens, edge[0]!.tags);
    expect(checksum.result()).toBe(referenceFingerprint(edge));
  });
});

describe("CompactCorpus", () => {
  it("stores sentences as ids and gives them back, with the counts, tags, scheme and checksum (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ weight: 5, arbitrary: conllSentence }, fc.constant({ tokens: [], tags: [] })), {
          maxLength: 8,
        }),
        (sentences) => {
          const corpus = CompactCorpus.fromSentences(sentences);
          const nonEmpty = sentences.filter((s) => s.tokens.length > 0);
          expect([...corpus.sentences()]).toEqual(nonEmpty);
          expect(corpus.sentenceCount).toBe(nonEmpty.length);
          expect(corpus.tokenCount).toBe(nonEmpty.reduce((n, s) => n + s.tokens.length, 0));
          expect([...corpus.tokenLists()]).toEqual(nonEmpty.map((s) => s.tokens));
          // Iterable again.
          expect([...corpus.tokenLists()]).toEqual(nonEmpty.map((s) => s.tokens));
          expect(corpus.tagSet).toEqual(sortTags(sentences.flatMap((s) => s.tags)));
          expect(corpus.schemeDetection).toEqual(detectScheme(sentences.map((s) => s.tags)));
          expect(corpus.fingerprint).toBe(referenceFingerprint(sentences));
          const counts = new Map<string, number>();
          for (const s of sentences) for (const t of s.tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
          expect(contents(corpus).counts).toEqual(Object.fromEntries(counts));
          // Each distinct token and tag once, in order of first appearance.
          expect(corpus.tokenTable).toEqual([...counts.keys()]);
          expect(corpus.tagTable).toEqual([...new Set(sentences.flatMap((s) => s.tags))]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("refuses what is not sentences of strings with a ValueError naming the sentence", () => {
    expect(() => CompactCorpus.fromSentences([{ tokens: ["a"], tags: [] }], "x")).toThrow(
      "x: sentence 0 needs tokens and tags of the same length",
    );
    expect(() =>
      CompactCorpus.fromSentences([
        { tokens: ["a"], tags: ["O"] },
        { tokens: ["a", 5 as never], tags: ["O", "O"] },
      ]),
    ).toThrow("<sentences>: sentence 1, token 1: tokens and tags must be strings, got 5");
    expect(() => CompactCorpus.fromSentences([{ tokens: ["a"], tags: [null as never] }])).toThrow(ValueError);
    const builder = new CompactCorpusBuilder();
    builder.add(["a"], ["O"]);
    builder.finish();
    expect(() => builder.add(["b"], ["O"])).toThrow(/add after finish/);
    const corpus = CompactCorpus.fromSentences([{ tokens: ["a"], tags: ["O"] }]);
    expect(() => corpus.tokensOf(1)).toThrow(/sentence 1 is outside \[0, 1\)/);
    expect(() => corpus.tagsOf(-1)).toThrow(ValueError);
  });

  it("keeps tokens cut from long lines whole and equal", () => {
    const long = "x".repeat(40);
    const line = `${"y".repeat(1000)} ${long} O`;
    const token = line.slice(1001, 1041);
    const corpus = CompactCorpus.fromSentences([{ tokens: [token, long], tags: ["O", "O"] }]);
    expect(corpus.tokenTable).toEqual([long]);
    expect([...corpus.tokenCounts]).toEqual([2]);
  });
});

describe("readCompactCorpus", () => {
  const directory = mkdtempSync(join(tmpdir(), "chainrule-compact-"));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it("reads the shipped Wikigold files as readConllFile does", async () => {
    for (const name of ["train.conll", "dev.conll"]) {
      const path = new URL(`../../data/wikigold/${name}`, import.meta.url).pathname;
      const corpus = await readCompactCorpus(path);
      const parsed = await readConllFile(path);
      expect(corpus.file).toBe(path);
      expect(contents(corpus)).toEqual(contents(CompactCorpus.fromSentences(parsed.sentences, path)));
      expect(corpus.tagSet).toEqual(parsed.tagSet);
      expect([corpus.sentenceCount, corpus.tokenCount]).toEqual([parsed.sentences.length, parsed.tokenCount]);
    }
  });

  it("reads any CoNLL text, cut into any chunks, as parseConll reads it (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(conllSentence, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 50 }),
        fc.boolean(),
        async (sentences, chunk, crlf) => {
          let text = formatConll(sentences, { documentStarts: true });
          if (crlf) text = text.replace(/\n/g, "\r\n");
          const bytes = Buffer.from(text, "utf8");
          const chunks = [];
          for (let i = 0; i < bytes.length; i += chunk) chunks.push(bytes.subarray(i, i + chunk));
          const corpus = await readCompactCorpus(Readable.from(chunks), { file: "s.conll" });
          expect(contents(corpus)).toEqual(contents(CompactCorpus.fromSentences(parseConll(text).sentences)));
          expect(corpus.file).toBe("s.conll");
        },
      ),
      { numRuns: 100 },
    );
  });

  it("random or mutated text: the corpus of parseConll's sentences, or parseConll's very error (property)", async () => {
    const mutated = fc
      .tuple(
        fc.array(conllSentence, { maxLength: 3 }),
        fc.array(
          fc.tuple(
            fc.nat(),
            fc.oneof(fc.string({ maxLength: 5 }), fc.constantFrom("\n", " ", "\t", "X-", "-DOCSTART- O\n")),
          ),
          { maxLength: 3 },
        ),
      )
      .map(([sentences, edits]) => {
        let text = formatConll(sentences);
        for (const [at, insert] of edits) {
          const i = text.length === 0 ? 0 : at % text.length;
          text = text.slice(0, i) + insert + text.slice(i);
        }
        return text;
      });
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated, fc.string({ maxLength: 60, unit: "binary" })), async (text) => {
        let expected: unknown;
        try {
          expected = contents(CompactCorpus.fromSentences(parseConll(text, { file: "m.conll" }).sentences));
        } catch (error) {
          expect(error).toBeInstanceOf(ParseError);
          expected = (error as Error).message;
        }
        let got: unknown;
        try {
          got = contents(
            await readCompactCorpus(Readable.from([Buffer.from(text, "utf8")]), { file: "m.conll" }),
          );
        } catch (error) {
          expect(error).toBeInstanceOf(ChainruleError);
          got = (error as Error).message;
        }
        expect(got).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it("names the file in errors, and refuses an empty one", async () => {
    const bad = join(directory, "bad.conll");
    writeFileSync(bad, "a O\n\nb\n");
    await expect(readCompactCorpus(bad)).rejects.toThrow(
      `${bad}:3: expected at least 2 columns (a token and a tag), found 1`,
    );
    const empty = join(directory, "empty.conll");
    writeFileSync(empty, "\n-DOCSTART- O\n\n");
    await expect(readCompactCorpus(empty)).rejects.toThrow(/no sentences found/);
    await expect(readCompactCorpus(join(directory, "missing.conll"))).rejects.toThrow(/ENOENT/);
  });
});
