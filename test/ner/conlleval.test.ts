import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  conlleval,
  convertTags,
  encodeEntities,
  formatConllevalReport,
  formatPredictions,
  parsePredictions,
  ConllevalCounter,
  type EntitySpan,
  type PredictedSentence,
  type TagScheme,
} from "../../src/ner/index.js";
import { formatFixed2 } from "../../src/ner/conlleval.js";
import { ValueError } from "../../src/errors.js";

/** Sentences written as `token gold predicted` rows, one sentence per string. */
function sentences(...blocks: string[]): PredictedSentence[] {
  return blocks.map((block) => {
    const tokens: string[] = [];
    const gold: string[] = [];
    const predicted: string[] = [];
    for (const row of block.trim().split("\n")) {
      const [token, goldTag, predictedTag] = row.trim().split(/\s+/);
      tokens.push(token!);
      gold.push(goldTag!);
      predicted.push(predictedTag!);
    }
    return { tokens, gold, predicted };
  });
}

/**
 * Hand-made cases. Each expected report below was printed by the official conlleval script (the CoNLL-2000
 * shared task's `conlleval`, version 2004-01-26, run with Perl 5.36) reading `formatPredictions(cases[name])`
 * on standard input; the scorer must reproduce it byte for byte.
 */
const cases: Record<string, { input: PredictedSentence[]; report: string }> = {
  // CoNLL-2003's IOB1: I- everywhere, B- only between two touching entities of one type (Smith | Jones).
  iob1: {
    input: sentences(
      `UN I-ORG I-ORG
       urges O O
       Dutch I-MISC I-MISC
       plan O O
       to O O
       ban O O
       French I-MISC I-LOC
       cheese O O
       . O O`,
      `Anna I-PER I-PER
       Lindqvist I-PER I-PER`,
      `OSLO I-LOC I-LOC
       1997-03-14 O O`,
      `the O O
       Netherlands I-LOC I-LOC
       and O O
       Belgium I-LOC B-LOC
       Smith I-PER I-PER
       Jones B-PER I-PER
       met O O`,
    ),
    report: `processed 20 tokens with 9 phrases; found: 8 phrases; correct: 6.
accuracy:  85.00%; precision:  75.00%; recall:  66.67%; FB1:  70.59
              LOC: precision:  75.00%; recall: 100.00%; FB1:  85.71  4
             MISC: precision: 100.00%; recall:  50.00%; FB1:  66.67  1
              ORG: precision: 100.00%; recall: 100.00%; FB1: 100.00  1
              PER: precision:  50.00%; recall:  33.33%; FB1:  40.00  2
`,
  },
  // IOB2 on the lecture's sentences, with a wrong type, a spurious entity and a wrong boundary.
  iob2: {
    input: sentences(
      `Samuel B-PER B-PER
       Quinn I-PER I-PER
       was O O
       arrested O O
       in O O
       the O O
       Hilton B-LOC B-ORG
       Hotel I-LOC I-ORG
       in O O
       Paris B-LOC B-LOC
       in O O
       April O B-MISC
       1989 O I-MISC
       . O O`,
      `Last O O
       night O O
       , O O
       Paris B-PER B-LOC
       Hilton I-PER I-PER
       wowed O O
       in O O
       a O O
       sequin O O
       gown O O
       . O O`,
    ),
    report: `processed 25 tokens with 4 phrases; found: 6 phrases; correct: 2.
accuracy:  80.00%; precision:  33.33%; recall:  50.00%; FB1:  40.00
              LOC: precision:  50.00%; recall:  50.00%; FB1:  50.00  2
             MISC: precision:   0.00%; recall:   0.00%; FB1:   0.00  1
              ORG: precision:   0.00%; recall:   0.00%; FB1:   0.00  1
              PER: precision:  50.00%; recall:  50.00%; FB1:  50.00  2
`,
  },
  // Malformed I- after O in the predictions: each opens an entity (a correct one, `New York`, included).
  malformed: {
    input: sentences(
      `a O O
       New B-LOC I-LOC
       York I-LOC I-LOC
       b O I-ORG
       c O O
       d B-PER O
       e I-PER I-PER
       f I-PER I-PER
       g O O`,
      `x O I-PER
       y O O`,
    ),
    report: `processed 11 tokens with 2 phrases; found: 4 phrases; correct: 1.
accuracy:  63.64%; precision:  25.00%; recall:  50.00%; FB1:  33.33
              LOC: precision: 100.00%; recall: 100.00%; FB1: 100.00  1
              ORG: precision:   0.00%; recall:   0.00%; FB1:   0.00  1
              PER: precision:   0.00%; recall:   0.00%; FB1:   0.00  2
`,
  },
  // A change of type inside a run ends one entity and starts another.
  typeChange: {
    input: sentences(
      `Hilton B-ORG B-ORG
       Hotel I-ORG I-LOC
       Paris B-LOC I-LOC
       is O O
       Bank B-ORG B-ORG
       of I-ORG I-ORG
       England I-ORG I-LOC`,
    ),
    report: `processed 7 tokens with 3 phrases; found: 4 phrases; correct: 0.
accuracy:  57.14%; precision:   0.00%; recall:   0.00%; FB1:   0.00
              LOC: precision:   0.00%; recall:   0.00%; FB1:   0.00  2
              ORG: precision:   0.00%; recall:   0.00%; FB1:   0.00  2
`,
  },
  // Entities touching a sentence end: I-PER | I-PER across a boundary are two entities, not one.
  sentenceEnds: {
    input: sentences(
      `He O O
       met O O
       Paris I-PER I-PER`,
      `Hilton I-PER I-PER
       yesterday O O`,
      `Quinn I-PER I-PER`,
      `Samuel I-PER I-PER`,
    ),
    report: `processed 7 tokens with 4 phrases; found: 4 phrases; correct: 4.
accuracy: 100.00%; precision: 100.00%; recall: 100.00%; FB1: 100.00
              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  4
`,
  },
  // No entities at all, and a token spelled -X- (a sentence boundary to conlleval: not counted).
  noEntities: {
    input: sentences(
      `nothing O O
       here O O
       . O O`,
      `-X- O O
       again O O`,
    ),
    report: `processed 4 tokens with 0 phrases; found: 0 phrases; correct: 0.
accuracy: 100.00%; precision:   0.00%; recall:   0.00%; FB1:   0.00
`,
  },
  // Only a false positive.
  falsePositivesOnly: {
    input: sentences(
      `nothing O B-PER
       here O I-PER
       . O O`,
    ),
    report: `processed 3 tokens with 0 phrases; found: 1 phrases; correct: 0.
accuracy:  33.33%; precision:   0.00%; recall:   0.00%; FB1:   0.00
              PER: precision:   0.00%; recall:   0.00%; FB1:   0.00  1
`,
  },
  // 1 correct of 32 found: precision 100/32 = 3.125 exactly, which C's printf rounds to even: 3.12, not 3.13.
  tieRounding: {
    input: Array.from({ length: 32 }, (_, i) => sentences(`w${i} ${i === 0 ? "B-PER" : "O"} B-PER`)[0]!),
    report: `processed 32 tokens with 1 phrases; found: 32 phrases; correct: 1.
accuracy:   3.12%; precision:   3.12%; recall: 100.00%; FB1:   6.06
              PER: precision:   3.12%; recall: 100.00%; FB1:   6.06  32
`,
  },
  // conlleval's corners: hyphens inside a type, a type "0" (false in Perl, so no type), tags without a hyphen
  // (the empty type, listed twice), a non-ASCII type (padded by bytes) and S- read as a type change only.
  quirks: {
    input: sentences(
      `a B-WORK-OF-ART B-WORK-OF-ART
       b I-WORK-OF-ART I-WORK-OF-ART
       c B-0 B-0
       d B B
       e I I
       f B-É B-É
       g O S-PER
       h S-PER S-PER`,
    ),
    report: `processed 8 tokens with 5 phrases; found: 5 phrases; correct: 4.
accuracy:  87.50%; precision:  80.00%; recall:  80.00%; FB1:  80.00
                 : precision: 100.00%; recall: 100.00%; FB1: 100.00  2
                 : precision: 100.00%; recall: 100.00%; FB1: 100.00  2
              PER: precision:   0.00%; recall:   0.00%; FB1:   0.00  1
      WORK-OF-ART: precision: 100.00%; recall: 100.00%; FB1: 100.00  1
               É: precision: 100.00%; recall: 100.00%; FB1: 100.00  1
`,
  },
};

// IOBES tags. conlleval does not know S-, so they are rewritten as IOB2 first; the report below was printed
// by the official script on the rewritten file (shown in the test). Without the rewrite the script prints
// 100.00 F1 for these wrong predictions (also checked below).
const iobes = sentences(
  `Samuel B-PER B-PER
   Quinn E-PER E-PER
   was O O
   in O O
   Paris S-LOC S-LOC
   and O O
   London S-LOC B-LOC
   Paris S-LOC E-LOC
   Hilton B-ORG B-ORG
   Hotel I-ORG E-ORG
   Group E-ORG S-ORG`,
);

describe("conlleval agrees with the official script", () => {
  for (const [name, { input, report }] of Object.entries(cases)) {
    it(`${name}: same report, byte for byte`, () => {
      expect(formatConllevalReport(conlleval(input))).toBe(report);
      // The same through the file format the script reads.
      expect(formatConllevalReport(conlleval(parsePredictions(formatPredictions(input))))).toBe(report);
    });
  }

  it("IOBES, rewritten as IOB2", () => {
    const rewritten = iobes.map((s) => ({
      tokens: s.tokens,
      gold: convertTags(s.gold, "IOBES", "IOB2"),
      predicted: convertTags(s.predicted, "IOBES", "IOB2"),
    }));
    // The file given to the script:
    expect(formatPredictions(rewritten)).toBe(
      [
        "Samuel B-PER B-PER",
        "Quinn I-PER I-PER",
        "was O O",
        "in O O",
        "Paris B-LOC B-LOC",
        "and O O",
        "London B-LOC B-LOC",
        "Paris B-LOC I-LOC",
        "Hilton B-ORG B-ORG",
        "Hotel I-ORG I-ORG",
        "Group I-ORG B-ORG",
        "",
        "",
      ].join("\n"),
    );
    const report = `processed 11 tokens with 5 phrases; found: 5 phrases; correct: 2.
accuracy:  81.82%; precision:  40.00%; recall:  40.00%; FB1:  40.00
              LOC: precision:  50.00%; recall:  33.33%; FB1:  40.00  2
              ORG: precision:   0.00%; recall:   0.00%; FB1:   0.00  2
              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  1
`;
    expect(formatConllevalReport(conlleval(iobes, { scheme: "IOBES" }))).toBe(report);
    expect(formatConllevalReport(conlleval(rewritten))).toBe(report);
  });

  it("IOBES given raw to the script: the same (misleading) figures as the script", () => {
    expect(formatConllevalReport(conlleval(iobes)))
      .toBe(`processed 11 tokens with 4 phrases; found: 4 phrases; correct: 4.
accuracy:  63.64%; precision: 100.00%; recall: 100.00%; FB1: 100.00
              LOC: precision: 100.00%; recall: 100.00%; FB1: 100.00  2
              ORG: precision: 100.00%; recall: 100.00%; FB1: 100.00  1
              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  1
`);
  });

  it("exposes the counts behind the report", () => {
    const result = conlleval(cases.iob1!.input);
    expect(result.tokenCount).toBe(20);
    expect(result.correctTagCount).toBe(17);
    expect(result.goldCount).toBe(9);
    expect(result.predictedCount).toBe(8);
    expect(result.correctCount).toBe(6);
    // precision 6/8 = 75 %, recall 6/9 = 66.67 %, F1 = 2·75·66.67/(75 + 66.67) = 70.588…
    expect(result.precision).toBe(75);
    expect(result.recall).toBeCloseTo(66.6667, 3);
    expect(result.f1).toBeCloseTo(70.588, 3);
    expect(result.types.map((t) => [t.type, t.goldCount, t.predictedCount, t.correctCount])).toEqual([
      ["LOC", 3, 4, 3],
      ["MISC", 2, 1, 1],
      ["ORG", 1, 1, 1],
      ["PER", 3, 2, 1],
    ]);
  });

  it("counts sentence by sentence like the one-call form", () => {
    const counter = new ConllevalCounter();
    for (const s of cases.iob2!.input) counter.addSentence(s.gold, s.predicted, s.tokens);
    expect(counter.result()).toEqual(conlleval(cases.iob2!.input));
  });

  it("an empty set: the first line only", () => {
    expect(formatConllevalReport(conlleval([]))).toBe(
      "processed 0 tokens with 0 phrases; found: 0 phrases; correct: 0.\n",
    );
  });

  it("rejects sentences whose gold and predicted lengths differ, with a clear error", () => {
    expect(() => conlleval([{ gold: ["O", "O"], predicted: ["O"] }])).toThrow(ValueError);
    expect(() => conlleval([{ gold: ["O", "O"], predicted: ["O"] }])).toThrow(/2 gold tags but 1 predicted/);
    expect(() => conlleval([{ gold: ["O"], predicted: ["O"], tokens: [] }])).toThrow(/0 tokens but 1 tags/);
    expect(() => conlleval([{ gold: ["O"], predicted: ["O"] }], { scheme: "BILOU" as TagScheme })).toThrow(
      /unknown tag scheme/,
    );
  });
});

describe("formatFixed2 prints like C's %6.2f", () => {
  it("rounds exact ties to even and everything else from the exact binary value", () => {
    // Ties are the odd multiples of 1/8: 0.125 → 0.12, 0.375 → 0.38, 12.125 → 12.12, 0.625 → 0.62.
    expect(formatFixed2(0.125)).toBe("0.12");
    expect(formatFixed2(0.375)).toBe("0.38");
    expect(formatFixed2(0.625)).toBe("0.62");
    expect(formatFixed2(0.875)).toBe("0.88");
    expect(formatFixed2(12.125)).toBe("12.12");
    expect(formatFixed2(99.875)).toBe("99.88");
    // 1.005 is stored as 1.00499999999999989…, so it rounds down (C and toFixed agree).
    expect(formatFixed2(1.005)).toBe("1.00");
    expect(formatFixed2(100, 6)).toBe("100.00");
    expect(formatFixed2(0, 6)).toBe("  0.00");
    expect(formatFixed2(200 / 3, 6)).toBe(" 66.67");
  });

  it("agrees with toFixed except at ties", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 10_000 }), (a, b) => {
        const value = (100 * Math.min(a, b)) / b;
        const isTie = Number.isInteger(value * 8) && (value * 8) % 2 === 1;
        if (!isTie) expect(formatFixed2(value)).toBe(value.toFixed(2));
        else {
          const hundredths = Math.round(Number(formatFixed2(value)) * 100);
          expect(hundredths % 2).toBe(0);
          expect(Math.abs(hundredths - value * 100)).toBe(0.5);
        }
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// A second, independent implementation of conlleval's chunk rules, written as tables of (previous, current)
// prefix pairs, used to score entity sets directly (chunks as sets of [start, end, type]); and a third check
// from the ground truth: entities generated first, then written in a scheme.

const STARTS = new Set(["B>B", "I>B", "O>B", "O>I", "E>E", "E>I", "O>E"]);
const ENDS = new Set(["B>B", "B>O", "I>B", "I>O", "E>E", "E>I", "E>O"]);

function parts(tag: string): [string, string] {
  const at = tag.indexOf("-");
  return at < 0 ? [tag, ""] : [tag.slice(0, at), tag.slice(at + 1)];
}

/** Chunks as "start:end:type" strings, with sentence-unique offsets. */
function chunksOf(tags: readonly string[], offset: number): string[] {
  const chunks: string[] = [];
  let [previousPrefix, previousType] = ["O", ""];
  let open: { start: number; type: string } | null = null;
  for (let i = 0; i <= tags.length; i++) {
    const [prefix, type] = i < tags.length ? parts(tags[i]!) : ["O", ""];
    const pair = `${previousPrefix}>${prefix}`;
    const start = i < tags.length && (STARTS.has(pair) || (prefix !== "O" && previousType !== type));
    const end = ENDS.has(pair) || (previousPrefix !== "O" && previousType !== type);
    if (open && (end || start || i === tags.length)) {
      chunks.push(`${offset + open.start}:${offset + i}:${open.type}`);
      open = null;
    }
    if (start) open = { start: i, type };
    [previousPrefix, previousType] = [prefix, type];
  }
  return chunks;
}

function referenceScore(input: readonly PredictedSentence[]) {
  const gold: string[] = [];
  const predicted: string[] = [];
  let tokens = 0;
  let correctTags = 0;
  input.forEach((s, index) => {
    gold.push(...chunksOf(s.gold, index * 1000));
    predicted.push(...chunksOf(s.predicted, index * 1000));
    tokens += s.gold.length;
    s.gold.forEach((tag, i) => {
      if (tag === s.predicted[i]) correctTags++;
    });
  });
  const goldSet = new Set(gold);
  const correct = predicted.filter((c) => goldSet.has(c));
  const byType = (list: string[], type: string) => list.filter((c) => c.endsWith(`:${type}`)).length;
  return { gold, predicted, correct, tokens, correctTags, byType };
}

const TYPES = ["PER", "LOC", "ORG"];
const tagArbitrary = fc.oneof(
  { weight: 3, arbitrary: fc.constant("O") },
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.constantFrom("B", "I", "E", "S"), fc.constantFrom(...TYPES))
      .map(([p, t]) => `${p}-${t}`),
  },
);
const sentenceArbitrary = fc.integer({ min: 1, max: 12 }).chain((n) =>
  fc.record({
    gold: fc.array(tagArbitrary, { minLength: n, maxLength: n }),
    predicted: fc.array(tagArbitrary, { minLength: n, maxLength: n }),
  }),
);

describe("conlleval against an independent implementation (property-based)", () => {
  it("random tag sequences (B, I, E, S, O of three types): same counts and scores", () => {
    fc.assert(
      fc.property(fc.array(sentenceArbitrary, { minLength: 1, maxLength: 8 }), (input) => {
        const sentencesWithTokens = input.map((s) => ({ ...s, tokens: s.gold.map((_, i) => `w${i}`) }));
        const result = conlleval(sentencesWithTokens);
        const reference = referenceScore(sentencesWithTokens);
        expect(result.goldCount).toBe(reference.gold.length);
        expect(result.predictedCount).toBe(reference.predicted.length);
        expect(result.correctCount).toBe(reference.correct.length);
        expect(result.tokenCount).toBe(reference.tokens);
        expect(result.correctTagCount).toBe(reference.correctTags);
        for (const score of result.types) {
          expect(score.goldCount).toBe(reference.byType(reference.gold, score.type));
          expect(score.predictedCount).toBe(reference.byType(reference.predicted, score.type));
          expect(score.correctCount).toBe(reference.byType(reference.correct, score.type));
        }
        const precision = reference.predicted.length
          ? (100 * reference.correct.length) / reference.predicted.length
          : 0;
        expect(result.precision).toBe(precision);
      }),
      { numRuns: 500 },
    );
  });

  const spansArbitrary = (length: number) =>
    fc
      .array(
        fc.tuple(
          fc.integer({ min: 0, max: length }),
          fc.integer({ min: 1, max: 3 }),
          fc.constantFrom(...TYPES),
        ),
        {
          maxLength: 5,
        },
      )
      .map((raw) => {
        const spans: EntitySpan[] = [];
        let position = 0;
        for (const [gap, size, type] of raw.sort((a, b) => a[0] - b[0])) {
          const start = Math.max(position, gap);
          if (start + size > length) break;
          spans.push({ type, start, end: start + size });
          position = start + size;
        }
        return spans;
      });

  it("entities generated first and written in any scheme: correct = |gold ∩ predicted|", () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 15 })
          .chain((n) => fc.tuple(fc.constant(n), spansArbitrary(n), spansArbitrary(n))),
        fc.constantFrom<TagScheme>("IOB1", "IOB2", "IOBES"),
        ([length, goldSpans, predictedSpans], scheme) => {
          const gold = encodeEntities(goldSpans, length, scheme);
          const predicted = encodeEntities(predictedSpans, length, scheme);
          const result = conlleval([{ gold, predicted }], { scheme });
          const key = (s: EntitySpan) => `${s.start}:${s.end}:${s.type}`;
          const goldKeys = new Set(goldSpans.map(key));
          expect(result.goldCount).toBe(goldSpans.length);
          expect(result.predictedCount).toBe(predictedSpans.length);
          expect(result.correctCount).toBe(predictedSpans.filter((s) => goldKeys.has(key(s))).length);
        },
      ),
      { numRuns: 500 },
    );
  });
});
