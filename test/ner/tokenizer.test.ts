import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ValueError } from "../../src/errors.js";
import { splitSentences, tokenize, tokenizeSentences } from "../../src/ner/index.js";

const texts = (text: string) => tokenize(text).map((t) => t.text);
const triples = (text: string) => tokenize(text).map((t) => [t.text, t.start, t.end]);

describe("tokenize: the lecture's sentences, with offsets", () => {
  it("Last night, Paris Hilton wowed in a sequin gown.", () => {
    expect(triples("Last night, Paris Hilton wowed in a sequin gown.")).toEqual([
      ["Last", 0, 4],
      ["night", 5, 10],
      [",", 10, 11],
      ["Paris", 12, 17],
      ["Hilton", 18, 24],
      ["wowed", 25, 30],
      ["in", 31, 33],
      ["a", 34, 35],
      ["sequin", 36, 42],
      ["gown", 43, 47],
      [".", 47, 48],
    ]);
  });

  it("Samuel Quinn was arrested in the Hilton Hotel in Paris in April 1989.", () => {
    expect(triples("Samuel Quinn was arrested in the Hilton Hotel in Paris in April 1989.")).toEqual([
      ["Samuel", 0, 6],
      ["Quinn", 7, 12],
      ["was", 13, 16],
      ["arrested", 17, 25],
      ["in", 26, 28],
      ["the", 29, 32],
      ["Hilton", 33, 39],
      ["Hotel", 40, 45],
      ["in", 46, 48],
      ["Paris", 49, 54],
      ["in", 55, 57],
      ["April", 58, 63],
      ["1989", 64, 68],
      [".", 68, 69],
    ]);
  });
});

describe("tokenize: English conventions (as in CoNLL-2003's data)", () => {
  it("possessives and contractions", () => {
    expect(texts("Paris's hotel")).toEqual(["Paris", "'s", "hotel"]);
    expect(texts("I'm sure they're here, we've seen it, he'll go, I'd say")).toEqual(
      "I 'm sure they 're here , we 've seen it , he 'll go , I 'd say".split(" "),
    );
    expect(texts("don't can't won't isn't")).toEqual(["do", "n't", "ca", "n't", "wo", "n't", "is", "n't"]);
    expect(texts("O'Brien's rock'n'roll")).toEqual(["O'Brien", "'s", "rock'n'roll"]);
    expect(texts("the Smiths' house")).toEqual(["the", "Smiths", "'", "house"]);
    expect(texts("Paris\u2019s")).toEqual(["Paris", "\u2019s"]);
  });

  it("abbreviations", () => {
    expect(texts("Mr. Smith met Dr. Jones of Acme Inc. in the U.S. and the U.K.")).toEqual(
      "Mr. Smith met Dr. Jones of Acme Inc. in the U.S. and the U.K.".split(" "),
    );
    expect(texts("e.g. this, i.e. that")).toEqual(["e.g.", "this", ",", "i.e.", "that"]);
    expect(texts("J. K. Rowling")).toEqual(["J.", "K.", "Rowling"]);
    expect(texts("So do I. Then")).toEqual(["So", "do", "I", ".", "Then"]);
    expect(texts("the end.")).toEqual(["the", "end", "."]);
  });

  it("numbers", () => {
    expect(texts("$1,000.50 in 1989, 3.5% at 10:30 on 1996-08-22, 1/2 of 1,0000")).toEqual(
      "$ 1,000.50 in 1989 , 3.5 % at 10:30 on 1996-08-22 , 1/2 of 1 , 0000".split(" "),
    );
    expect(texts("the 1990s and the 3rd")).toEqual(["the", "1990s", "and", "the", "3rd"]);
  });

  it("hyphens, dashes and ellipses", () => {
    expect(texts("a sequin-covered, well-known co-operative -- wow... pre- and post-war")).toEqual(
      "a sequin-covered , well-known co-operative -- wow ... pre - and post-war".split(" "),
    );
  });

  it("quotes and brackets", () => {
    expect(texts("He said \"Stop\" (twice) and \u201cgo\u201d; ``yes''")).toEqual([
      "He",
      "said",
      '"',
      "Stop",
      '"',
      "(",
      "twice",
      ")",
      "and",
      "\u201c",
      "go",
      "\u201d",
      ";",
      "``",
      "yes",
      "''",
    ]);
  });

  it("links, e-mail addresses, AT&T", () => {
    expect(texts("See https://example.com/a?b=1. Mail x.y@example.org, AT&T.")).toEqual([
      "See",
      "https://example.com/a?b=1",
      ".",
      "Mail",
      "x.y@example.org",
      ",",
      "AT&T",
      ".",
    ]);
  });

  it("non-ASCII letters and whitespace", () => {
    expect(triples("Émile\u00a0Zola  à Paris")).toEqual([
      ["Émile", 0, 5],
      ["Zola", 6, 10],
      ["à", 12, 13],
      ["Paris", 14, 19],
    ]);
    expect(tokenize("")).toEqual([]);
    expect(tokenize(" \n\t ")).toEqual([]);
    expect(() => tokenize(42 as unknown as string)).toThrow(ValueError);
  });

  it("offsets always point at the token's text, tokens never overlap or hold spaces (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80, unit: "grapheme" }), (text) => {
        let previousEnd = 0;
        for (const token of tokenize(text)) {
          expect(text.slice(token.start, token.end)).toBe(token.text);
          expect(token.start).toBeGreaterThanOrEqual(previousEnd);
          expect(token.end).toBeGreaterThan(token.start);
          expect(/\s/u.test(token.text)).toBe(false);
          // Everything skipped between tokens is whitespace.
          expect(text.slice(previousEnd, token.start).trim()).toBe("");
          previousEnd = token.end;
        }
        expect(text.slice(previousEnd).trim()).toBe("");
      }),
      { numRuns: 1000 },
    );
  });

  it("the same property on English-like text", () => {
    const piece = fc.constantFrom(
      "Mr.",
      "U.S.",
      "Paris's",
      "don't",
      "1,000.50",
      "well-known",
      '"',
      "...",
      "--",
      ",",
      ".",
      "?",
      "word",
      "'",
      "'s",
      "J.",
      " ",
      " ",
      "\n",
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (pieces) => {
        const text = pieces.join("");
        const tokens = tokenize(text);
        expect(tokens.map((t) => t.text).join("")).toBe(text.replace(/\s/g, ""));
        for (const t of tokens) expect(text.slice(t.start, t.end)).toBe(t.text);
      }),
      { numRuns: 500 },
    );
  });
});

describe("sentences", () => {
  it("splits the lecture's two sentences", () => {
    const text =
      "Last night, Paris Hilton wowed in a sequin gown. Samuel Quinn was arrested in the Hilton Hotel in Paris in April 1989.";
    const sentences = tokenizeSentences(text);
    expect(sentences).toHaveLength(2);
    expect(sentences.map((s) => [s.start, s.end])).toEqual([
      [0, 48],
      [49, 118],
    ]);
    expect(sentences[1]!.tokens[0]).toEqual({ text: "Samuel", start: 49, end: 55 });
  });

  it("keeps closing quotes, ignores abbreviations, waits for a capital, and splits at blank lines", () => {
    const split = (text: string) => tokenizeSentences(text).map((s) => s.tokens.map((t) => t.text).join(" "));
    expect(split('He said "Stop." Then he left! Really?')).toEqual([
      'He said " Stop . "',
      "Then he left !",
      "Really ?",
    ]);
    expect(split("Mr. Smith went to the U.S. Army base. It was late.")).toEqual([
      "Mr. Smith went to the U.S. Army base .",
      "It was late .",
    ]);
    expect(split("Wait... What? No way")).toEqual(["Wait ...", "What ?", "No way"]);
    expect(split("Wait... what? no way")).toEqual(["Wait ... what ? no way"]);
    expect(split("A title\n\nThe first paragraph")).toEqual(["A title", "The first paragraph"]);
    expect(split("")).toEqual([]);
  });

  it("every token lands in exactly one sentence, in order (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        const tokens = tokenize(text);
        const sentences = splitSentences(text, tokens);
        expect(sentences.flatMap((s) => s.tokens)).toEqual(tokens);
        for (const s of sentences) {
          expect(s.tokens.length).toBeGreaterThan(0);
          expect(s.start).toBe(s.tokens[0]!.start);
          expect(s.end).toBe(s.tokens[s.tokens.length - 1]!.end);
        }
      }),
    );
  });
});

describe("tokenize: big inputs (linear time)", () => {
  // Each of these took time quadratic in the length (an e-mail pattern rescanned the rest of a long run at
  // every token): 20 KB of "x+" took 3.5 s, so 600 KB would take half an hour; a linear scan takes well under a
  // second. Timing itself lives in bench/tokenizer.ts; here the inputs are just too big for a quadratic scan.
  const size = 600_000;
  const fill = (piece: string) => piece.repeat(Math.ceil(size / piece.length)).slice(0, size);

  it("a long run of e-mail characters without an @", () => {
    const text = fill("x+") + " \u2014";
    const tokens = tokenize(text);
    expect(tokens).toHaveLength(size + 1);
    expect(tokens[0]).toEqual({ text: "x", start: 0, end: 1 });
    expect(tokens[size - 1]).toEqual({ text: "+", start: size - 1, end: size });
    expect(tokens[size]).toEqual({ text: "\u2014", start: size + 1, end: size + 2 });
  });

  it("a long local part before an @ whose domain never gets a dot", () => {
    const text = `${fill("a.b")}@${fill("c")}`;
    const tokens = tokenize(text);
    expect(tokens.map((t) => t.text).join("")).toBe(text);
    expect(tokens.find((t) => t.text === "@")).toBeDefined();
  });

  it("a long address is one token, and so is a long link", () => {
    const address = `${fill("a+")}@example.org`;
    expect(texts(address)).toEqual([address]);
    const link = `https://${fill("a/")}`;
    expect(texts(`${link} and`)).toEqual([link, "and"]);
  });

  it("many short addresses, initials and numbers", () => {
    expect(tokenize(fill("a@b.c ")).length).toBe(size / 6);
    // Every "J." before another capital is an initial; the last one ends the text, so its period is a token.
    const initials = tokenize(fill("J. ")).map((t) => t.text);
    expect(initials).toHaveLength(size / 3 + 1);
    expect(initials.slice(-3)).toEqual(["J.", "J", "."]);
    const numbers = tokenize(fill("1,000 "));
    expect(numbers.slice(0, 3).map((t) => t.text)).toEqual(["1,000", "1,000", "1,000"]);
  });

  it("long runs of letters, spaces and blank lines split into sentences", () => {
    const sentences = tokenizeSentences(fill("Paris.\n\n"));
    expect(sentences).toHaveLength(size / 8);
    expect(tokenizeSentences(`A${" ".repeat(size)}b`)).toHaveLength(1);
  });
});
