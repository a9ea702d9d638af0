import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { ParseError, ValueError } from "../../src/errors.js";
import {
  formatConll,
  formatPredictions,
  parseConll,
  parsePredictions,
  type ConllCorpus,
} from "../../src/ner/index.js";
import {
  readConllFile,
  readConllSentences,
  readPredictionsFile,
  writePredictionsFile,
} from "../../src/ner/conll-node.js";
import { Readable } from "node:stream";

// Invented sentences in CoNLL-2003's layout (four columns: token, POS, chunk, IOB1 tag; -DOCSTART- before each
// document); the real files are never part of the project.
const CONLL_2003 = `-DOCSTART- -X- -X- O

UN NNP I-NP I-ORG
urges VBZ I-VP O
Dutch JJ I-NP I-MISC
plan NN I-NP O
. . O O

Anna NNP I-NP I-PER
Lindqvist NNP I-NP I-PER

-DOCSTART- -X- -X- O

OSLO NNP I-NP I-LOC
1997-03-14 CD I-NP O
`;

function errorOf(action: () => unknown): ParseError {
  try {
    action();
  } catch (error) {
    if (error instanceof ParseError) return error;
    throw error;
  }
  throw new Error("expected a ParseError");
}

describe("parseConll", () => {
  it("reads CoNLL-2003's four-column format", () => {
    const corpus = parseConll(CONLL_2003, { file: "eng.train" });
    expect(corpus.file).toBe("eng.train");
    expect(corpus.columnCount).toBe(4);
    expect(corpus.tokenCount).toBe(9);
    expect(corpus.documentCount).toBe(2);
    expect(corpus.tagSet).toEqual(["O", "I-LOC", "I-MISC", "I-ORG", "I-PER"]);
    expect(corpus.sentences).toEqual([
      {
        tokens: ["UN", "urges", "Dutch", "plan", "."],
        tags: ["I-ORG", "O", "I-MISC", "O", "O"],
        line: 3,
        document: 0,
      },
      { tokens: ["Anna", "Lindqvist"], tags: ["I-PER", "I-PER"], line: 9, document: 0 },
      { tokens: ["OSLO", "1997-03-14"], tags: ["I-LOC", "O"], line: 14, document: 1 },
    ]);
  });

  it("reads two-column files with tabs or spaces, -DOCSTART- after each document (Wikigold)", () => {
    const text = "Zyx\tI-MISC\nis\tO\n\n-DOCSTART-\tO\n\nThe  I-ORG\nBand I-ORG\n\n-DOCSTART- O\n\n";
    const corpus = parseConll(text);
    expect(corpus.columnCount).toBe(2);
    expect(corpus.documentCount).toBe(2);
    expect(corpus.sentences.map((s) => [s.tokens, s.document])).toEqual([
      [["Zyx", "is"], 0],
      [["The", "Band"], 1],
    ]);
  });

  it("accepts CRLF and CR line ends, a byte-order mark, a missing final newline and several blank lines", () => {
    const corpus = parseConll("\uFEFFa O\r\nb B-PER\r\n\r\n\r\n\r\nc O\rd I-PER");
    expect(corpus.sentences.map((s) => s.tokens)).toEqual([
      ["a", "b"],
      ["c", "d"],
    ]);
    expect(corpus.sentences[1]!.line).toBe(6);
  });

  it("takes the tag from a chosen column", () => {
    const corpus = parseConll("Rome NNP I-NP I-LOC\n", { tagColumn: 2 });
    expect(corpus.sentences[0]!.tags).toEqual(["I-NP"]);
    expect(parseConll("Rome NNP I-NP I-LOC\n", { tagColumn: -2 }).sentences[0]!.tags).toEqual(["I-NP"]);
    expect(parseConll("x EU O\n", { tokenColumn: 1 }).sentences[0]!.tokens).toEqual(["EU"]);
  });

  it("keeps any tag set", () => {
    const corpus = parseConll("aspirin B-DRUG\n5mg I-DOSE\nx S-GENE\ny E-GENE\n");
    expect(corpus.tagSet).toEqual(["B-DRUG", "E-GENE", "I-DOSE", "S-GENE"]);
  });

  describe("malformed input gets a clear error with file and line", () => {
    it("too few columns", () => {
      const error = errorOf(() => parseConll("UN I-ORG\nurges O\n\nlonely\n", { file: "eng.train" }));
      expect(error.message).toBe("eng.train:4: expected at least 2 columns (a token and a tag), found 1");
      expect(error.line).toBe(4);
      expect(error.source).toBe("eng.train");
    });

    it("a changing number of columns", () => {
      expect(() => parseConll("UN NNP I-NP I-ORG\nurges VBZ O\n", { file: "eng.testa" })).toThrow(
        "eng.testa:2: expected 4 columns as on line 1, found 3",
      );
    });

    it("an unknown tag prefix, with the column", () => {
      const error = errorOf(() => parseConll("a O\nb X-PER\n", { file: "f.conll" }));
      expect(error.message).toBe(
        'f.conll:2: unknown tag prefix "X" in "X-PER" (expected O or B-, I-, E-, S- followed by a type)',
      );
      expect(error.column).toBe(3);
      expect(() => parseConll("a PER\n")).toThrow('<string>:1: tag "PER" has no prefix');
      expect(() => parseConll("a B-\n")).toThrow("has no entity type");
      // …unless asked not to check
      expect(parseConll("a PER\n", { validateTags: false }).tagSet).toEqual(["PER"]);
    });

    it("a very long field is quoted briefly", () => {
      const tag = `X-${"y".repeat(770_000)}`;
      expect(() => parseConll(`a ${tag}\n`)).toThrow(
        `<string>:1: unknown tag prefix "X" in "X-${"y".repeat(58)}…" (770002 characters)`,
      );
      expect(() => formatConll([{ tokens: ["a b".repeat(100_000)], tags: ["O"] }])).toThrow(
        /^formatConll: the token "(a b){20}…" \(300000 characters\) contains a space/,
      );
    });

    it("an empty file, or one without sentences", () => {
      expect(() => parseConll("", { file: "empty.txt" })).toThrow(
        "empty.txt: no sentences found (the text is empty)",
      );
      expect(() => parseConll("\n\n-DOCSTART- -X- -X- O\n\n", { file: "x" })).toThrow(
        "x: no sentences found (it holds only blank lines and -DOCSTART- lines)",
      );
      expect(parseConll("", { allowEmpty: true }).sentences).toEqual([]);
    });

    it("columns that do not exist", () => {
      expect(() => parseConll("a O\n", { tagColumn: 5 })).toThrow(
        "tag column 5 does not exist on a line of 2 columns",
      );
      expect(() => parseConll("a O\n", { tagColumn: 0 })).toThrow("both column 0");
      expect(() => parseConll("a O\n", { tagColumn: 1.5 })).toThrow(ValueError);
    });
  });

  const tokenArbitrary = fc.stringMatching(/^[A-Za-z0-9.,'&-]{1,8}$/).filter((t) => t !== "-DOCSTART-");
  const tagArbitrary = fc.oneof(
    fc.constant("O"),
    fc
      .tuple(fc.constantFrom("B", "I", "E", "S"), fc.constantFrom("PER", "LOC", "WORK-OF-ART"))
      .map(([p, t]) => `${p}-${t}`),
  );
  const sentenceArbitrary = fc
    .array(fc.tuple(tokenArbitrary, tagArbitrary), { minLength: 1, maxLength: 10 })
    .map((pairs) => ({ tokens: pairs.map((p) => p[0]), tags: pairs.map((p) => p[1]) }));

  it("round trips formatConll → parseConll (property)", () => {
    fc.assert(
      fc.property(fc.array(sentenceArbitrary, { minLength: 1, maxLength: 6 }), (sentences) => {
        const corpus = parseConll(formatConll(sentences));
        expect(corpus.sentences.map((s) => ({ tokens: s.tokens, tags: s.tags }))).toEqual(sentences);
        expect(corpus.tokenCount).toBe(sentences.reduce((n, s) => n + s.tokens.length, 0));
      }),
    );
  });

  it("a U+FEFF inside a token survives; only the text's very first character is a byte-order mark", () => {
    // A U+FEFF starting a later line is part of its token.
    expect(parseConll("\n\uFEFF,\tO").sentences[0]!.tokens).toEqual(["\uFEFF,"]);
    expect(parseConll("\uFEFFa O\n\n\uFEFFb O").sentences.map((s) => s.tokens)).toEqual([["a"], ["\uFEFFb"]]);
    // One byte-order mark is dropped, not two.
    expect(parseConll("\uFEFF\uFEFFa O").sentences[0]!.tokens).toEqual(["\uFEFFa"]);
    // Written text starting with such a token gets a byte-order mark in front, so it reads back whole.
    const sentences = [{ tokens: ["\uFEFF,", "b"], tags: ["O", "O"] }];
    expect(formatConll(sentences)).toBe("\uFEFF\uFEFF, O\nb O\n\n");
    expect(parseConll(formatConll(sentences)).sentences[0]!.tokens).toEqual(["\uFEFF,", "b"]);
    const predicted = [{ tokens: ["\uFEFF"], gold: ["O"], predicted: ["O"] }];
    expect(parsePredictions(formatPredictions(predicted))).toEqual(predicted);
  });

  it("round trips any token the format can hold (property)", () => {
    const anyToken = fc
      .string({ minLength: 1, maxLength: 6, unit: "binary" })
      .filter((t) => !/[ \t\n\r]/.test(t) && t !== "-DOCSTART-");
    const anySentence = fc
      .array(fc.tuple(fc.oneof(anyToken, fc.constant("\uFEFF")), tagArbitrary), {
        minLength: 1,
        maxLength: 5,
      })
      .map((pairs) => ({ tokens: pairs.map((p) => p[0]), tags: pairs.map((p) => p[1]) }));
    fc.assert(
      fc.property(fc.array(anySentence, { minLength: 1, maxLength: 4 }), (sentences) => {
        const corpus = parseConll(formatConll(sentences));
        expect(corpus.sentences.map((s) => ({ tokens: s.tokens, tags: s.tags }))).toEqual(sentences);
      }),
      { numRuns: 500 },
    );
  });

  it("keeps documents through formatConll with documentStarts (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(sentenceArbitrary, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }),
        (documents) => {
          const sentences = documents.flatMap((document, d) => document.map((s) => ({ ...s, document: d })));
          const corpus = parseConll(formatConll(sentences, { documentStarts: true }));
          expect(corpus.documentCount).toBe(documents.length);
          expect(corpus.sentences.map((s) => s.document)).toEqual(sentences.map((s) => s.document));
        },
      ),
    );
  });

  it("random or mutated text: a result or a ParseError naming a line, never another failure (property)", () => {
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant("delete" as const),
        at: fc.nat(),
        length: fc.integer({ min: 1, max: 8 }),
      }),
      fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), text: fc.string({ maxLength: 6 }) }),
      fc.record({
        kind: fc.constant("insert" as const),
        at: fc.nat(),
        text: fc.constantFrom("\n", " ", "\t", "-DOCSTART- O\n", "X-", "B-", "\r", "\uFEFF", " extra"),
      }),
    );
    fc.assert(
      fc.property(
        fc.array(sentenceArbitrary, { maxLength: 4 }),
        fc.array(mutation, { maxLength: 4 }),
        (sentences, mutations) => {
          let text = formatConll(sentences);
          for (const m of mutations) {
            const at = text.length === 0 ? 0 : m.at % (text.length + 1);
            text =
              m.kind === "delete"
                ? text.slice(0, at) + text.slice(at + m.length)
                : text.slice(0, at) + m.text + text.slice(at);
          }
          let corpus: ConllCorpus | undefined;
          try {
            corpus = parseConll(text, { file: "fuzz.conll" });
          } catch (error) {
            expect(error).toBeInstanceOf(ParseError);
            const parseError = error as ParseError;
            expect(parseError.message).toMatch(/^fuzz\.conll:\d*:? ?/);
            expect(parseError.line).toBeGreaterThanOrEqual(1);
            return;
          }
          // Never silently empty, and consistent.
          expect(corpus.sentences.length).toBeGreaterThan(0);
          for (const s of corpus.sentences) {
            expect(s.tokens.length).toBe(s.tags.length);
            expect(s.tokens.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("arbitrary strings: a result or a ParseError (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: "binary" }), (text) => {
        try {
          parseConll(text);
        } catch (error) {
          expect(error).toBeInstanceOf(ParseError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe("predictions in conlleval's format", () => {
  const predictions = [
    {
      tokens: ["Paris", "Hilton", "wowed"],
      gold: ["B-PER", "I-PER", "O"],
      predicted: ["B-LOC", "I-PER", "O"],
    },
    { tokens: ["."], gold: ["O"], predicted: ["O"] },
  ];

  it("writes token, gold and predicted tags separated by single spaces, a blank line after each sentence", () => {
    expect(formatPredictions(predictions)).toBe(
      "Paris B-PER B-LOC\nHilton I-PER I-PER\nwowed O O\n\n. O O\n\n",
    );
  });

  it("reads them back", () => {
    expect(parsePredictions(formatPredictions(predictions))).toEqual(predictions);
    expect(() => parsePredictions("a O\n", { file: "p.txt" })).toThrow(
      "p.txt:1: expected at least 3 columns (token, gold tag, predicted tag), found 2",
    );
  });

  it("refuses tokens that the format cannot hold", () => {
    expect(() => formatPredictions([{ tokens: ["New York"], gold: ["O"], predicted: ["O"] }])).toThrow(
      /contains a space/,
    );
    expect(() => formatPredictions([{ tokens: [""], gold: ["O"], predicted: ["O"] }])).toThrow(ValueError);
    expect(() => formatPredictions([{ tokens: ["a"], gold: ["O"], predicted: [] }])).toThrow(
      /1 tokens, 1 gold tags and 0/,
    );
    expect(() => formatConll([{ tokens: ["-DOCSTART-"], tags: ["O"] }])).toThrow(ValueError);
  });
});

describe("conll-node", () => {
  const directory = mkdtempSync(join(tmpdir(), "chainrule-conll-"));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it("reads a file, naming it in errors", async () => {
    const path = join(directory, "eng.train");
    writeFileSync(path, CONLL_2003);
    const corpus = await readConllFile(path);
    expect(corpus.file).toBe(path);
    expect(corpus.sentences).toHaveLength(3);
    const bad = join(directory, "bad.train");
    writeFileSync(bad, "a O\nb\n");
    await expect(readConllFile(bad)).rejects.toThrow(`${bad}:2: expected at least 2 columns`);
    await expect(readConllFile(bad, { file: "bad" })).rejects.toThrow(/^bad:2:/);
  });

  it("writes predictions atomically and reads them back", async () => {
    const path = join(directory, "predictions.conll");
    const sentences = [{ tokens: ["Paris"], gold: ["B-LOC"], predicted: ["B-PER"] }];
    await writePredictionsFile(path, sentences);
    expect(readFileSync(path, "utf8")).toBe("Paris B-LOC B-PER\n\n");
    expect(await readPredictionsFile(path)).toEqual(sentences);
    // No temporary file left behind, even after a failed write.
    await expect(
      writePredictionsFile(path, [{ tokens: ["a b"], gold: ["O"], predicted: ["O"] }]),
    ).rejects.toThrow(ValueError);
    expect(readdirSync(directory).filter((name) => name.endsWith(".tmp"))).toEqual([]);
    expect(readFileSync(path, "utf8")).toBe("Paris B-LOC B-PER\n\n");
  });

  it("drops exactly one byte-order mark from a file", async () => {
    const path = join(directory, "bom.conll");
    writeFileSync(path, "\uFEFF\uFEFFa O\n");
    expect((await readConllFile(path)).sentences[0]!.tokens).toEqual(["\uFEFFa"]);
    writeFileSync(path, "\uFEFFa O\n");
    expect((await readConllFile(path)).sentences[0]!.tokens).toEqual(["a"]);
  });

  /** Collects what the streaming reader yields for text cut into the given chunks. */
  async function streamed(chunks: (string | Buffer)[], options = {}) {
    const sentences = [];
    for await (const sentence of readConllSentences(Readable.from(chunks), options)) sentences.push(sentence);
    return sentences;
  }

  it("streams sentences one at a time, exactly as parseConll reads them", async () => {
    const path = join(directory, "stream.conll");
    writeFileSync(path, "\uFEFF" + CONLL_2003);
    const all = [];
    for await (const sentence of readConllSentences(path)) all.push(sentence);
    expect(all).toEqual(parseConll(CONLL_2003).sentences);
    // Cut anywhere, even inside a CRLF or a multi-byte character, the stream reads the same.
    const text = "\uFEFF\uFEFFÉmile B-PER\r\nZola I-PER\r\n\r\n-DOCSTART- O\n\nà O\rParis B-LOC\n";
    const bytes = Buffer.from(text, "utf8");
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(await streamed([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(
        parseConll(text).sentences,
      );
    }
  });

  it("streaming errors are the parser's, with file and line, and come when the bad line is reached", async () => {
    const seen: string[][] = [];
    const read = async () => {
      for await (const s of readConllSentences(Readable.from(["a O\n\nb O\nc\n"]), { file: "x.conll" })) {
        seen.push(s.tokens);
      }
    };
    await expect(read()).rejects.toThrow(
      "x.conll:4: expected at least 2 columns (a token and a tag), found 1",
    );
    expect(seen).toEqual([["a"]]);
    await expect(streamed(["\n\n"])).rejects.toThrow(/no sentences found/);
    expect(await streamed(["\n"], { allowEmpty: true })).toEqual([]);
    await expect(streamed(["a O\n"], { tagColumn: 0.5 })).rejects.toThrow(ValueError);
  });

  it("streams any CoNLL text as parseConll reads it (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc
            .array(
              fc.tuple(fc.stringMatching(/^[A-Za-zé0-9.,'-]{1,6}$/), fc.constantFrom("O", "B-PER", "I-LOC")),
              {
                minLength: 1,
                maxLength: 6,
              },
            )
            .map((pairs) => ({ tokens: pairs.map((p) => p[0]), tags: pairs.map((p) => p[1]) })),
          { minLength: 1, maxLength: 5 },
        ),
        fc.integer({ min: 1, max: 40 }),
        async (sentences, chunk) => {
          const text = formatConll(sentences);
          const chunks = [];
          for (let i = 0; i < text.length; i += chunk) chunks.push(text.slice(i, i + chunk));
          expect(await streamed(chunks)).toEqual(parseConll(text).sentences);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("a missing file is an I/O error, not a crash", async () => {
    await expect(readConllFile(join(directory, "missing.conll"))).rejects.toThrow(/ENOENT/);
  });
});
