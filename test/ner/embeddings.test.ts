import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { FormatError, ParseError, ValueError } from "../../src/errors.js";
import { tensor } from "../../src/index.js";
import { serialize } from "../../src/nn/safetensors.js";
import { Vocabulary, parseEmbeddings, parseEmbeddingsForVocabulary } from "../../src/ner/index.js";
import { EmbeddingTableBuilder } from "../../src/ner/embeddings.js";
import { embeddingTableFromSafetensors, embeddingTableToSafetensors } from "../../src/ner/embedding-table.js";
import { readEmbeddingsFile, readEmbeddingsForVocabulary } from "../../src/ner/embeddings-node.js";

const GLOVE = `the 0.418 0.24968 -0.41242
, 0.013441 0.23682 -0.16899
paris -1.5e-1 .5 2
1989 1 2 3
2001 4 5 6
`;

const f32 = (values: number[]) => Array.from(Float32Array.from(values));

describe("parseEmbeddings", () => {
  it("reads GloVe text: a word and d numbers per line", () => {
    const table = parseEmbeddings(GLOVE);
    expect(table.words).toEqual(["the", ",", "paris", "1989", "2001"]);
    expect(table.dimension).toBe(3);
    expect(Array.from(table.vectors.subarray(6, 9))).toEqual(f32([-0.15, 0.5, 2]));
    expect(table.vectors).toHaveLength(15);
  });

  it("accepts tabs, CRLF, a trailing space (fastText), blank lines and a word2vec header", () => {
    const table = parseEmbeddings("2 2\r\nthe\t1 2 \r\n\r\nof 3 4\r\n");
    expect(table.words).toEqual(["the", "of"]);
    expect(Array.from(table.vectors)).toEqual([1, 2, 3, 4]);
  });

  describe("malformed input gets a clear error with file and line", () => {
    it("a dimension mismatch", () => {
      expect(() => parseEmbeddings("a 1 2 3\nb 1 2\n", { file: "glove.6B.100d.txt" })).toThrow(
        'glove.6B.100d.txt:2: expected 3 numbers after the word "b", found 2 (line 1 has 3)',
      );
      expect(() => parseEmbeddings("a 1 2 3\n", { dimension: 100 })).toThrow(
        '<string>:1: expected 100 numbers after the word "a", found 3 (the expected dimension)',
      );
      expect(() => parseEmbeddings("5 3\na 1 2\n")).toThrow(
        '<string>:2: expected 3 numbers after the word "a", found 2',
      );
      expect(() => parseEmbeddings("5 3\n", { dimension: 4 })).toThrow(/header declares dimension 3, but 4/);
    });

    it("a malformed number, with its column", () => {
      let error: unknown;
      try {
        parseEmbeddings("a 1 2\nb 0.5 1,5\n", { file: "v.txt" });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ParseError);
      expect((error as ParseError).message).toBe(
        'v.txt:2: "1,5" is not a decimal number (number 2 of the word "b")',
      );
      expect((error as ParseError).line).toBe(2);
      expect((error as ParseError).column).toBe(7);
      for (const bad of ["0x10", "Infinity", "NaN", "1e", "--1", "1.2.3", ".", "+", "1e5x", "١"]) {
        expect(() => parseEmbeddings(`a 1 ${bad}\n`), bad).toThrow(/is not a decimal number/);
      }
      expect(() => parseEmbeddings("a 1 1e39\n")).toThrow(/too large for float32/);
    });

    it("a word without numbers, an empty file", () => {
      expect(() => parseEmbeddings("a 1\nlonely\n")).toThrow(
        '<string>:2: the word "lonely" has no numbers after it',
      );
      expect(() => parseEmbeddings("a 1\nb 1 2\n")).toThrow(
        '<string>:2: expected 1 number after the word "b", found 2',
      );
      expect(() => parseEmbeddings("lonely\n")).toThrow(
        '<string>:1: the word "lonely" has no numbers after it',
      );
      expect(() => parseEmbeddings("", { file: "e.txt" })).toThrow(
        "e.txt: no word vectors found (the text is empty)",
      );
      expect(() => parseEmbeddings("\n \n")).toThrow("no word vectors found (the text is empty)");
      expect(() => parseEmbeddings("10 50\n")).toThrow(
        "no word vectors found (no line holds a word and numbers)",
      );
      expect(() => parseEmbeddings("a 1", { dimension: 0 })).toThrow(ValueError);
    });
  });

  describe("sizes from the file are checked before anything is allocated", () => {
    it("a header declaring a huge dimension", () => {
      // Was a RangeError (Invalid typed array length) from allocating what the header asked for.
      expect(() => parseEmbeddings("1 4294967297\n")).toThrow(ParseError);
      expect(() => parseEmbeddings("1 4294967297\n")).toThrow(
        '<string>:1: the header declares dimension "4294967297" (expected 1 to 1000000)',
      );
      expect(() => parseEmbeddings(`1 ${"9".repeat(400)}\na 1\n`)).toThrow(
        /header declares dimension "9{20,}…"/,
      );
      // Within the bound, a header's dimension is only a claim until a line holds that many numbers.
      expect(() => parseEmbeddings("1 999999\na 1 2\n")).toThrow(
        '<string>:2: expected 999999 numbers after the word "a", found 2',
      );
      expect(() => parseEmbeddings("a 1", { dimension: 2 ** 32 })).toThrow(ValueError);
    });

    it("long vectors are stored in blocks no bigger than a few of them", () => {
      const dimension = 200_000;
      const line = (word: string) => `${word}${" 0.5".repeat(dimension)}\n`;
      const table = parseEmbeddings(line("a") + line("b") + line("c"));
      expect(table.dimension).toBe(dimension);
      expect(table.vectors.length).toBe(3 * dimension);
      expect(table.vectors[3 * dimension - 1]).toBe(0.5);
    });
  });

  describe("messages quote the offending input briefly", () => {
    it("an executable given as embeddings", () => {
      // The start of an ELF file: a 'word' of control bytes followed by a field that is not a number.
      const elf =
        "\u007fELF\u0002\u0001\u0001" + "\u0000".repeat(1700) + " >\u0000\u0001 " + "\u0000".repeat(900);
      let message = "";
      try {
        parseEmbeddings(elf, { file: "/usr/bin/ls" });
      } catch (error) {
        expect(error).toBeInstanceOf(ParseError);
        message = (error as Error).message;
      }
      expect(message).toMatch(
        /^\/usr\/bin\/ls:1: ">\\u0000\\u0001" is not a decimal number \(number 1 of the word "\\u007fELF/,
      );
      expect(message.length).toBeLessThan(250);
    });

    it("a very long word or field", () => {
      const word = "w".repeat(770_000);
      const messages: string[] = [];
      for (const text of [`${word}\n`, `a 1\n${word} x\n`, `a 1\nb ${word}\n`, `a 1 2\n${word} 1\n`]) {
        try {
          parseEmbeddings(text);
        } catch (error) {
          expect(error).toBeInstanceOf(ParseError);
          messages.push((error as Error).message);
        }
      }
      expect(messages).toHaveLength(4);
      for (const message of messages) {
        expect(message.length).toBeLessThan(250);
        expect(message).toContain("(770000 characters)");
      }
    });
  });

  it("random or mutated text: a table or a ParseError naming a line, never another failure (property)", () => {
    const lineArbitrary = fc.tuple(
      fc.stringMatching(/^[a-z,.0-9]{1,6}$/),
      fc.array(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), {
        minLength: 3,
        maxLength: 3,
      }),
    );
    const mutation = fc.record({
      at: fc.nat(),
      remove: fc.integer({ min: 0, max: 3 }),
      text: fc.oneof(
        fc.string({ maxLength: 4 }),
        fc.constantFrom(" ", "\n", "\t", "e", "-", ".", "x", "1", "\r\n"),
      ),
    });
    fc.assert(
      fc.property(
        fc.array(lineArbitrary, { maxLength: 6 }),
        fc.array(mutation, { maxLength: 3 }),
        (lines, mutations) => {
          let text = lines.map(([word, values]) => `${word} ${values.join(" ")}\n`).join("");
          for (const m of mutations) {
            const at = m.at % (text.length + 1);
            text = text.slice(0, at) + m.text + text.slice(at + m.remove);
          }
          try {
            const table = parseEmbeddings(text, { file: "fuzz.txt" });
            expect(table.vectors.length).toBe(table.words.length * table.dimension);
            expect(table.words.length).toBeGreaterThan(0);
            for (const value of table.vectors) expect(Number.isFinite(value)).toBe(true);
          } catch (error) {
            expect(error).toBeInstanceOf(ParseError);
            expect((error as ParseError).message).toMatch(/^fuzz\.txt:/);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("the one-pattern check of ordinary lines agrees with the field-by-field check of first lines (property)", () => {
    // A first line (dimension unknown) is checked field by field; once the dimension is known (here given as
    // an option) lines are checked by one compiled pattern. Both must accept and reject the same lines.
    const lineArbitrary = fc
      .array(fc.constantFrom("0", "1", "9", ".", "e", "E", "+", "-", " ", "\t", "x", "a"), { maxLength: 14 })
      .map((characters) => `w ${characters.join("")}`);
    fc.assert(
      fc.property(lineArbitrary, (line) => {
        const fields = line.trim().split(/[ \t]+/).length - 1;
        let slow: Float32Array | null = null;
        try {
          slow = parseEmbeddings(line).vectors;
        } catch (error) {
          expect(error).toBeInstanceOf(ParseError);
        }
        if (fields === 0) return;
        let fast: Float32Array | null = null;
        try {
          fast = parseEmbeddings(line, { dimension: fields }).vectors;
        } catch (error) {
          expect(error).toBeInstanceOf(ParseError);
        }
        expect(fast).toEqual(slow);
      }),
      { numRuns: 2000 },
    );
  });

  it("keeps every value a well-formed file holds (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }).chain((d) =>
          fc.array(
            fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: d, maxLength: d }),
            {
              minLength: 1,
              maxLength: 5,
            },
          ),
        ),
        (vectors) => {
          const text = vectors.map((v, i) => `w${i} ${v.map((x) => String(x)).join(" ")}`).join("\n");
          const table = parseEmbeddings(text);
          // String(-0) is "0", so a negative zero is written (and read back) as 0.
          expect(Array.from(table.vectors)).toEqual(vectors.flat().map((x) => (x === 0 ? 0 : x)));
        },
      ),
    );
  });
});

describe("parseEmbeddingsForVocabulary", () => {
  const vocabulary = Vocabulary.build([["The", "Paris", "1989", "1776", "Quinn", "<s>"]]);

  it("fills the rows of words found (matching normalised forms) and lists the missing ones", () => {
    const result = parseEmbeddingsForVocabulary(GLOVE, vocabulary);
    expect(result.dimension).toBe(3);
    expect(result.vectors).toHaveLength(vocabulary.size * 3);
    const row = (word: string) =>
      Array.from(result.vectors.subarray(vocabulary.idOf(word) * 3, vocabulary.idOf(word) * 3 + 3));
    expect(row("the")).toEqual(f32([0.418, 0.24968, -0.41242]));
    expect(row("Paris")).toEqual(f32([-0.15, 0.5, 2]));
    // 1989 and 1776 share the entry "0000": the first file word that normalises to it (1989) wins.
    expect(row("1776")).toEqual([1, 2, 3]);
    expect(result.missing).toEqual(["quinn"]);
    expect(result.foundCount).toBe(3);
    expect(result.fileVectorCount).toBe(5);
    expect(Array.from(result.found)).toEqual(
      vocabulary.words.map((w) => (["the", "paris", "0000"].includes(w) ? 1 : 0)),
    );
    // special rows stay zero
    expect(Array.from(result.vectors.subarray(0, 9))).toEqual(new Array(9).fill(0));
  });

  it("checks every line, even those it does not keep", () => {
    expect(() => parseEmbeddingsForVocabulary("the 1 2\nzebra 1 x\n", vocabulary, { file: "g" })).toThrow(
      'g:2: "x" is not a decimal number',
    );
  });
});

describe("embeddings-node streams files", () => {
  const directory = mkdtempSync(join(tmpdir(), "chainrule-glove-"));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it("reads a file line by line, naming it in errors", async () => {
    const path = join(directory, "glove.txt");
    writeFileSync(path, GLOVE);
    const table = await readEmbeddingsFile(path);
    expect(table.words).toHaveLength(5);
    const vocabulary = Vocabulary.build([["paris", "zebra"]]);
    const result = await readEmbeddingsForVocabulary(path, vocabulary);
    expect(result.missing).toEqual(["zebra"]);
    const bad = join(directory, "bad.txt");
    writeFileSync(bad, "a 1 2\nb 1\n");
    await expect(readEmbeddingsFile(bad)).rejects.toThrow(`${bad}:2: expected 2 numbers`);
    await expect(readEmbeddingsForVocabulary(bad, vocabulary, { file: "bad" })).rejects.toThrow(/^bad:2:/);
    await expect(readEmbeddingsFile(join(directory, "missing.txt"))).rejects.toThrow(/ENOENT/);
  });

  it("reads a file bigger than its stream's chunks the same as from a string", async () => {
    const lines = Array.from({ length: 3000 }, (_, i) => `w${i} ${[i, -i / 7, 0.5].join(" ")}`);
    const path = join(directory, "big.txt");
    writeFileSync(path, lines.join("\n"));
    const fromFile = await readEmbeddingsFile(path);
    const builder = new EmbeddingTableBuilder();
    for (const line of lines) builder.addLine(line);
    const fromLines = builder.finish();
    expect(fromFile.words).toEqual(fromLines.words);
    expect(fromFile.vectors).toEqual(fromLines.vectors);
  });
});

describe("embeddingTableFromSafetensors and non-finite values", () => {
  const table = (values: number[]) => ({
    words: ["the", "of"],
    dimension: 2,
    vectors: Float32Array.from(values),
  });

  it("refuses NaN and ±Infinity with a FormatError naming the file, the value and its index", () => {
    for (const [bad, shown] of [
      [NaN, "NaN"],
      [Infinity, "Infinity"],
      [-Infinity, "-Infinity"],
    ] as const) {
      const bytes = embeddingTableToSafetensors(table([1, 2, 3, bad]), { dtype: "F32" });
      let error: unknown;
      try {
        embeddingTableFromSafetensors(bytes, "vectors.safetensors");
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(FormatError);
      expect((error as Error).message).toBe(
        `vectors.safetensors: the tensor "vectors" holds 1 non-finite value (the first, at index 3, is ${shown}); ` +
          "weights must be finite numbers (pass allowNonFinite to load them anyway)",
      );
    }
  });

  it("refuses a float64 value beyond float32's range (it would become Infinity), unless allowed", () => {
    const bytes = serialize({ vectors: tensor([[1, 1e300]], { dtype: "float64" }) }, { words: '["the"]' });
    expect(() => embeddingTableFromSafetensors(bytes)).toThrow(/at index 1, is Infinity/);
    const allowed = embeddingTableFromSafetensors(bytes, "<bytes>", { allowNonFinite: true });
    expect(Array.from(allowed.vectors)).toEqual([1, Infinity]);
  });

  it("reads finite tables as before, and non-finite ones when allowed", () => {
    const bytes = embeddingTableToSafetensors(table([1, 2, 3, NaN]), { dtype: "F32" });
    const read = embeddingTableFromSafetensors(bytes, "x", { allowNonFinite: true });
    expect(read.words).toEqual(["the", "of"]);
    expect(Array.from(read.vectors)).toEqual([1, 2, 3, NaN]);
    const finite = embeddingTableFromSafetensors(embeddingTableToSafetensors(table([1, 2, 3, 4])));
    expect(Array.from(finite.vectors)).toEqual([1, 2, 3, 4]);
  });
});
