import { describe, expect, it } from "vitest";
import { Random, ShapeError, ValueError, gradcheck, tensor, type Tensor } from "../../src/index.js";
import {
  crfForwardBackward,
  crfNegativeLogLikelihood,
  crfViterbi,
  type CrfScores,
} from "../../src/ner/crf.js";
import { transitionTable } from "../../src/ner/decode.js";

/** Every path of `length` tags out of K, for brute-force checks. */
function paths(K: number, length: number): number[][] {
  if (length === 0) return [[]];
  return paths(K, length - 1).flatMap((p) => Array.from({ length: K }, (_, j) => [...p, j]));
}

function pathScore(emissions: ArrayLike<number>, first: number, path: number[], scores: CrfScores): number {
  const K = scores.size;
  const allowed = scores.allowed ?? null;
  let total = scores.start[path[0]!]! + scores.end[path[path.length - 1]!]!;
  if (allowed && (allowed.start[path[0]!] === 0 || allowed.end[path[path.length - 1]!] === 0))
    return -Infinity;
  path.forEach((y, t) => {
    total += emissions[(first + t) * K + y]!;
    if (t > 0) {
      if (allowed && allowed.allowed[path[t - 1]! * K + y] === 0) total = -Infinity;
      total += scores.transitions[path[t - 1]! * K + y]!;
    }
  });
  return total;
}

function randomProblem(random: Random, K: number, lengths: number[]) {
  const rows = lengths.reduce((a, b) => a + b, 0);
  const emissions = Float64Array.from({ length: rows * K }, () => 2 * random.normal());
  const scores: CrfScores = {
    size: K,
    transitions: Float64Array.from({ length: K * K }, () => random.normal()),
    start: Float64Array.from({ length: K }, () => random.normal()),
    end: Float64Array.from({ length: K }, () => random.normal()),
  };
  const offsets = Int32Array.from([
    0,
    ...lengths.map((_, i) => lengths.slice(0, i + 1).reduce((a, b) => a + b, 0)),
  ]);
  const tags = Int32Array.from({ length: rows }, () => Math.floor(random.uniform() * K));
  return { emissions, scores, offsets, tags };
}

describe("crfForwardBackward", () => {
  it("gives the hand-derived loss and gradients on a two-word sentence", () => {
    // Two tags, two words. Every score is 0 except A[0, 1] = ln 3, so the four paths weigh
    //   exp(score): (0,0) → 1, (0,1) → 3, (1,0) → 1, (1,1) → 1,   Z = 6.
    // Gold path (0, 1): J = log Z − score(gold) = ln 6 − ln 3 = ln 2.
    // Path probabilities p = (1/6, 1/2, 1/6, 1/6); tag marginals
    //   P(y₀ = 0) = 1/6 + 1/2 = 2/3, P(y₀ = 1) = 1/3;  P(y₁ = 0) = 1/6 + 1/6 = 1/3, P(y₁ = 1) = 2/3.
    // ∂J/∂E[t, j] = P(y_t = j) − [y_t = j]:  row 0: (2/3 − 1, 1/3) = (−1/3, 1/3);  row 1: (1/3, 2/3 − 1).
    // ∂J/∂A[i, j] = P(y₀ = i, y₁ = j) − [(i, j) = (0, 1)] = [[1/6, 1/2 − 1], [1/6, 1/6]].
    // ∂J/∂s = P(y₀) − onehot(0) = (−1/3, 1/3);  ∂J/∂e = P(y₁) − onehot(1) = (1/3, −1/3).
    const result = crfForwardBackward([0, 0, 0, 0], [0, 2], [0, 1], {
      size: 2,
      transitions: [0, Math.log(3), 0, 0],
      start: [0, 0],
      end: [0, 0],
    });
    const close = (actual: ArrayLike<number>, expected: number[]) =>
      expected.forEach((v, i) => expect(actual[i]).toBeCloseTo(v, 12));
    expect(result.loss).toBeCloseTo(Math.log(2), 12);
    close(result.emissions, [-1 / 3, 1 / 3, 1 / 3, -1 / 3]);
    close(result.transitions, [1 / 6, -1 / 2, 1 / 6, 1 / 6]);
    close(result.start, [-1 / 3, 1 / 3]);
    close(result.end, [1 / 3, -1 / 3]);
    close(result.marginals, [2 / 3, 1 / 3, 1 / 3, 2 / 3]);
  });

  it("matches log Z and the marginals enumerated over every path", () => {
    const random = new Random(3);
    for (const constrained of [false, true]) {
      const K = 3;
      const problem = randomProblem(random, K, [1, 3, 4]);
      // Tags "O", "B-X", "I-X" in IOB2: I-X only after B-X or I-X.
      const scores: CrfScores = {
        ...problem.scores,
        allowed: constrained ? transitionTable(["O", "B-X", "I-X"], "IOB2") : null,
      };
      const tags = constrained ? Int32Array.from([1, 0, 1, 2, 1, 2, 2, 0]) : problem.tags;
      const result = crfForwardBackward(problem.emissions, problem.offsets, tags, scores);
      let loss = 0;
      const marginals = new Float64Array(problem.emissions.length);
      for (let s = 0; s < 3; s++) {
        const first = problem.offsets[s]!;
        const length = problem.offsets[s + 1]! - first;
        const all = paths(K, length).map((p) => ({
          p,
          score: pathScore(problem.emissions, first, p, scores),
        }));
        const logZ = Math.log(all.reduce((total, { score }) => total + Math.exp(score), 0));
        const gold = Array.from(tags.subarray(first, first + length));
        loss += logZ - pathScore(problem.emissions, first, gold, scores);
        for (const { p, score } of all) {
          p.forEach((y, t) => (marginals[(first + t) * K + y]! += Math.exp(score - logZ)));
        }
      }
      expect(result.loss).toBeCloseTo(loss, 10);
      marginals.forEach((v, i) => expect(result.marginals[i]).toBeCloseTo(v, 10));
    }
  });

  it("refuses gold tags the constraints forbid, bad shapes and bad offsets", () => {
    const allowed = transitionTable(["O", "B-X", "I-X"], "IOB2");
    const scores = { size: 3, transitions: new Float64Array(9), start: [0, 0, 0], end: [0, 0, 0], allowed };
    const emissions = new Float64Array(6);
    expect(() => crfForwardBackward(emissions, [0, 2], [0, 2], scores)).toThrow(/forbid/);
    expect(() => crfForwardBackward(emissions, [0, 2], [2, 0], scores)).toThrow(/start with tag 2/);
    expect(() => crfForwardBackward(emissions, [0, 3], [0, 0], scores)).toThrow(ValueError);
    expect(() => crfForwardBackward(emissions, [0, 2], [0, 5], scores)).toThrow(/outside/);
    expect(() => crfForwardBackward(new Float64Array(5), [0, 2], [0, 0], scores)).toThrow(ShapeError);
    expect(() => crfForwardBackward(emissions, [0, 2], [0, 0], { ...scores, transitions: [0] })).toThrow(
      ShapeError,
    );
  });
});

describe("crfNegativeLogLikelihood", () => {
  function inputs(random: Random, K: number, rows: number, dtype: "float32" | "float64" = "float64") {
    const make = (shape: number[], scale: number): Tensor => {
      const size = shape.reduce((a, b) => a * b, 1);
      return tensor(
        Array.from({ length: size }, () => scale * random.normal()),
        { shape, dtype, requiresGrad: true },
      );
    };
    return {
      emissions: make([rows, K], 1.5),
      transitions: make([K, K], 1),
      start: make([K], 1),
      end: make([K], 1),
    };
  }

  it("passes a float64 gradcheck for emissions, transitions, start and end scores", () => {
    const random = new Random(7);
    const { emissions, transitions, start, end } = inputs(random, 4, 7);
    const tags = Int32Array.from([0, 1, 3, 2, 2, 1, 0]);
    const offsets = Int32Array.from([0, 1, 4, 7]);
    for (const reduction of ["mean", "sum"] as const) {
      const report = gradcheck(
        (E, A, s, e) =>
          crfNegativeLogLikelihood(E!, { transitions: A!, start: s!, end: e! }, tags, offsets, { reduction }),
        [emissions, transitions, start, end],
        { atol: 1e-7, rtol: 1e-5 },
      );
      expect(report.passed).toBe(true);
    }
  });

  it("passes a float64 gradcheck under IOBES constraints", () => {
    const tagNames = ["O", "B-X", "I-X", "E-X", "S-X"];
    const allowed = transitionTable(tagNames, "IOBES");
    const random = new Random(11);
    const { emissions, transitions, start, end } = inputs(random, 5, 6);
    const tags = Int32Array.from([1, 2, 3, 0, 4, 0]);
    const offsets = Int32Array.from([0, 6]);
    const report = gradcheck(
      (E, A, s, e) =>
        crfNegativeLogLikelihood(E!, { transitions: A!, start: s!, end: e! }, tags, offsets, { allowed }),
      [emissions, transitions, start, end],
      { atol: 1e-7, rtol: 1e-5 },
    );
    expect(report.passed).toBe(true);
  });

  it("gives the forward–backward value and gradients in float32 too, mean over tokens", () => {
    const random = new Random(5);
    const { emissions, transitions, start, end } = inputs(random, 3, 5, "float32");
    const tags = Int32Array.from([0, 1, 2, 2, 1]);
    const offsets = Int32Array.from([0, 2, 5]);
    const loss = crfNegativeLogLikelihood(emissions, { transitions, start, end }, tags, offsets);
    const reference = crfForwardBackward(emissions.data, offsets, tags, {
      size: 3,
      transitions: transitions.data,
      start: start.data,
      end: end.data,
    });
    expect(loss.dtype).toBe("float32");
    expect(loss.item()).toBeCloseTo(reference.loss / 5, 4);
    loss.backward();
    Array.from(emissions.grad!.data).forEach((g, i) => expect(g).toBeCloseTo(reference.emissions[i]! / 5, 5));
    Array.from(transitions.grad!.data).forEach((g, i) =>
      expect(g).toBeCloseTo(reference.transitions[i]! / 5, 5),
    );
  });

  it("checks its inputs", () => {
    const random = new Random(1);
    const { emissions, transitions, start, end } = inputs(random, 3, 2);
    expect(() =>
      crfNegativeLogLikelihood(emissions, { transitions: start, start, end }, [0, 0], [0, 2]),
    ).toThrow(/transitions must have shape \[3, 3\]/);
    expect(() =>
      crfNegativeLogLikelihood(emissions, { transitions, start, end }, [0, 0], [0, 2], {
        reduction: "max" as "sum",
      }),
    ).toThrow(/reduction/);
  });
});

describe("crfViterbi", () => {
  it("finds the best path enumerated over every path, with and without constraints", () => {
    const random = new Random(9);
    const tagNames = ["O", "B-X", "I-X"];
    for (const constrained of [false, true]) {
      for (let trial = 0; trial < 5; trial++) {
        const problem = randomProblem(random, 3, [5]);
        const scores: CrfScores = {
          ...problem.scores,
          allowed: constrained ? transitionTable(tagNames, "IOB2") : null,
        };
        const best = paths(3, 5).reduce(
          (top, p) => {
            const score = pathScore(problem.emissions, 0, p, scores);
            return score > top.score ? { p, score } : top;
          },
          { p: [] as number[], score: -Infinity },
        );
        expect(Array.from(crfViterbi(problem.emissions, 0, 5, scores))).toEqual(best.p);
      }
    }
    expect(crfViterbi([], 0, 0, { size: 2, transitions: [0, 0, 0, 0], start: [0, 0], end: [0, 0] })).toEqual(
      new Int32Array(0),
    );
  });
});
