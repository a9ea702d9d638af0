import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  convertTags,
  detectScheme,
  encodeEntities,
  entityTypes,
  extractEntities,
  splitTag,
  type EntitySpan,
  type TagScheme,
} from "../../src/ner/index.js";
import { iobesToIob2, isChunkEnd, isChunkStart, tagProblem } from "../../src/ner/tags.js";
import { ValueError } from "../../src/errors.js";

const tags = (text: string) => text.trim().split(/\s+/);

describe("splitTag and tagProblem", () => {
  it("splits at the first hyphen, as conlleval does", () => {
    expect(splitTag("B-PER")).toEqual({ prefix: "B", type: "PER" });
    expect(splitTag("I-WORK-OF-ART")).toEqual({ prefix: "I", type: "WORK-OF-ART" });
    expect(splitTag("O")).toEqual({ prefix: "O", type: "" });
    expect(splitTag("B")).toEqual({ prefix: "B", type: "" });
  });

  it("accepts O and B-/I-/E-/S- with a type; names the problem otherwise", () => {
    for (const good of ["O", "B-PER", "I-LOC", "E-ORG", "S-MISC", "B-WORK-OF-ART"]) {
      expect(tagProblem(good)).toBeUndefined();
    }
    expect(tagProblem("X-PER")).toBe(
      'unknown tag prefix "X" in "X-PER" (expected O or B-, I-, E-, S- followed by a type)',
    );
    expect(tagProblem("PER")).toMatch(/has no prefix/);
    expect(tagProblem("B-")).toMatch(/no entity type/);
    expect(tagProblem("o")).toMatch(/has no prefix/);
  });
});

describe("conlleval's chunk rules", () => {
  it("start and end between pairs of prefixes of one type", () => {
    // (previous, current) → [start, end], from conlleval's rule lists.
    const table: Record<string, [boolean, boolean]> = {
      "O>B": [true, false],
      "O>I": [true, false],
      "O>O": [false, false],
      "B>I": [false, false],
      "I>I": [false, false],
      "B>B": [true, true],
      "I>B": [true, true],
      "B>O": [false, true],
      "I>O": [false, true],
      "E>E": [true, true],
      "E>I": [true, true],
      "O>E": [true, false],
      "I>E": [false, false],
      "E>B": [false, false],
    };
    for (const [pair, [start, end]] of Object.entries(table)) {
      const [previous, current] = pair.split(">") as [string, string];
      const type = (prefix: string) => (prefix === "O" ? "" : "PER");
      expect(isChunkStart(previous, current, type(previous), type(current)), `start ${pair}`).toBe(start);
      expect(isChunkEnd(previous, current, type(previous), type(current)), `end ${pair}`).toBe(end);
    }
  });

  it("a change of type ends and starts chunks", () => {
    expect(isChunkStart("I", "I", "PER", "LOC")).toBe(true);
    expect(isChunkEnd("I", "I", "PER", "LOC")).toBe(true);
    expect(isChunkEnd("O", "I", "", "LOC")).toBe(false);
    expect(isChunkStart("I", "O", "PER", "")).toBe(false);
  });
});

describe("extractEntities", () => {
  it("IOB1: I- opens an entity after O; B- separates touching entities of one type", () => {
    expect(extractEntities(tags("I-PER I-PER B-PER O I-LOC"), "IOB1")).toEqual([
      { type: "PER", start: 0, end: 2 },
      { type: "PER", start: 2, end: 3 },
      { type: "LOC", start: 4, end: 5 },
    ]);
  });

  it("IOB2, and a malformed I- after O read as a start", () => {
    expect(extractEntities(tags("B-PER I-PER O I-ORG I-ORG B-ORG"))).toEqual([
      { type: "PER", start: 0, end: 2 },
      { type: "ORG", start: 3, end: 5 },
      { type: "ORG", start: 5, end: 6 },
    ]);
  });

  it("a type change inside a run splits it", () => {
    expect(extractEntities(tags("B-ORG I-ORG I-LOC I-LOC"))).toEqual([
      { type: "ORG", start: 0, end: 2 },
      { type: "LOC", start: 2, end: 4 },
    ]);
  });

  it("the sentence end closes an entity", () => {
    expect(extractEntities(tags("O B-PER I-PER"))).toEqual([{ type: "PER", start: 1, end: 3 }]);
    expect(extractEntities([])).toEqual([]);
    expect(extractEntities(tags("O O"))).toEqual([]);
  });

  it("IOBES: S- is a one-token entity; E- closes; a stray I-/E- starts a new entity", () => {
    expect(extractEntities(tags("S-PER B-LOC I-LOC E-LOC S-LOC O E-ORG I-ORG"), "IOBES")).toEqual([
      { type: "PER", start: 0, end: 1 },
      { type: "LOC", start: 1, end: 4 },
      { type: "LOC", start: 4, end: 5 },
      { type: "ORG", start: 6, end: 7 },
      { type: "ORG", start: 7, end: 8 },
    ]);
    expect(iobesToIob2(tags("B-PER E-PER S-PER E-PER"))).toEqual(tags("B-PER I-PER B-PER B-PER"));
  });
});

describe("encodeEntities and convertTags", () => {
  const spans: EntitySpan[] = [
    { type: "PER", start: 0, end: 2 },
    { type: "PER", start: 2, end: 3 },
    { type: "LOC", start: 4, end: 5 },
  ];

  it("writes each scheme", () => {
    expect(encodeEntities(spans, 6, "IOB1")).toEqual(tags("I-PER I-PER B-PER O I-LOC O"));
    expect(encodeEntities(spans, 6, "IOB2")).toEqual(tags("B-PER I-PER B-PER O B-LOC O"));
    expect(encodeEntities(spans, 6, "IOBES")).toEqual(tags("B-PER E-PER S-PER O S-LOC O"));
  });

  it("converts CoNLL-2003's IOB1 to IOB2 and IOBES", () => {
    const iob1 = tags("I-ORG O I-MISC O O O I-MISC O O");
    expect(convertTags(iob1, "IOB1", "IOB2")).toEqual(tags("B-ORG O B-MISC O O O B-MISC O O"));
    expect(convertTags(iob1, "IOB1", "IOBES")).toEqual(tags("S-ORG O S-MISC O O O S-MISC O O"));
  });

  it("repairs malformed input on the way", () => {
    expect(convertTags(tags("O I-PER I-LOC"), "IOB2", "IOB2")).toEqual(tags("O B-PER B-LOC"));
  });

  it("rejects bad spans with clear errors", () => {
    expect(() => encodeEntities([{ type: "PER", start: 2, end: 2 }], 3, "IOB2")).toThrow(ValueError);
    expect(() => encodeEntities([{ type: "PER", start: 0, end: 4 }], 3, "IOB2")).toThrow(
      /outside a sentence of 3/,
    );
    expect(() =>
      encodeEntities(
        [
          { type: "PER", start: 0, end: 2 },
          { type: "LOC", start: 1, end: 3 },
        ],
        3,
        "IOB2",
      ),
    ).toThrow(/overlaps/);
    expect(() => encodeEntities([{ type: "", start: 0, end: 1 }], 3, "IOB2")).toThrow(/no entity type/);
    expect(() => convertTags(["O"], "IOB3" as TagScheme, "IOB2")).toThrow(/unknown tag scheme "IOB3"/);
  });

  const TYPES = ["PER", "LOC", "ORG"];
  const spansArbitrary = fc.integer({ min: 0, max: 20 }).chain((length) =>
    fc
      .array(
        fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 4 }), fc.constantFrom(...TYPES)),
        {
          maxLength: 8,
        },
      )
      .map((raw) => {
        const result: EntitySpan[] = [];
        let position = 0;
        for (const [gap, size, type] of raw) {
          const start = position + gap;
          if (start + size > length) break;
          result.push({ type, start, end: start + size });
          position = start + size;
        }
        return { length, spans: result };
      }),
  );
  const schemeArbitrary = fc.constantFrom<TagScheme>("IOB1", "IOB2", "IOBES");

  it("round trips: spans → scheme A → scheme B → spans (property)", () => {
    fc.assert(
      fc.property(spansArbitrary, schemeArbitrary, schemeArbitrary, ({ length, spans }, from, to) => {
        const written = encodeEntities(spans, length, from);
        expect(extractEntities(written, from)).toEqual(spans);
        const converted = convertTags(written, from, to);
        expect(converted).toHaveLength(length);
        expect(extractEntities(converted, to)).toEqual(spans);
        expect(convertTags(converted, to, from)).toEqual(written);
      }),
      { numRuns: 500 },
    );
  });

  it("any tag sequence converts to a well-formed one with the same entities (property)", () => {
    const tagArbitrary = fc.oneof(
      fc.constant("O"),
      fc.tuple(fc.constantFrom("B", "I", "E", "S"), fc.constantFrom(...TYPES)).map(([p, t]) => `${p}-${t}`),
    );
    fc.assert(
      fc.property(
        fc.array(tagArbitrary, { maxLength: 15 }),
        schemeArbitrary,
        schemeArbitrary,
        (input, from, to) => {
          const spans = extractEntities(input, from);
          const converted = convertTags(input, from, to);
          expect(extractEntities(converted, to)).toEqual(spans);
          // Well formed: writing the entities again gives the same tags.
          expect(encodeEntities(spans, input.length, to)).toEqual(converted);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("detectScheme", () => {
  it("CoNLL-2003-style IOB1", () => {
    const result = detectScheme([tags("I-ORG O I-MISC"), tags("I-PER B-PER O")]);
    expect(result.scheme).toBe("IOB1");
    expect(result.certain).toBe(true);
    expect(result.entitiesStartingWithI).toBe(3);
    expect(result.entitiesStartingWithB).toBe(1);
  });

  it("IOB2 and IOBES", () => {
    expect(detectScheme([tags("B-ORG I-ORG O B-PER")]).scheme).toBe("IOB2");
    expect(detectScheme([tags("B-ORG E-ORG O S-PER")]).scheme).toBe("IOBES");
  });

  it("no entities: IOB2, not certain", () => {
    expect(detectScheme([tags("O O"), []])).toMatchObject({ scheme: "IOB2", certain: false });
  });

  it("finds the scheme a sequence was written in (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("PER", "LOC"), fc.integer({ min: 1, max: 3 })), {
          minLength: 1,
          maxLength: 5,
        }),
        fc.constantFrom<TagScheme>("IOB1", "IOB2", "IOBES"),
        (entities, scheme) => {
          // Entities separated by one O each: IOB1 writes them with I-, IOB2 with B-, IOBES with S-/B-…E-.
          const spans: EntitySpan[] = [];
          let position = 0;
          for (const [type, size] of entities) {
            spans.push({ type, start: position, end: position + size });
            position += size + 1;
          }
          const written = encodeEntities(spans, position, scheme);
          const detected = detectScheme([written]).scheme;
          // A run of only one-token entities written in IOBES is all S-: still IOBES.
          expect(detected).toBe(scheme);
        },
      ),
    );
  });
});

describe("entityTypes", () => {
  it("lists the types of a tag set", () => {
    expect(entityTypes(["O", "I-PER", "B-LOC", "I-LOC", "S-MISC"])).toEqual(["LOC", "MISC", "PER"]);
  });
});
