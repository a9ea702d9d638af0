/**
 * The jvp rule of every op in the table, checked two ways in float64:
 *  - against reverse mode, by transposition: for random tangents v and a random cotangent w,
 *    ⟨jvp(f, x, v), w⟩ = ⟨v, vjp(f, x)(w)⟩, for all inputs at once and for each input alone (the others then
 *    carry no tangent, which exercises each rule's "null tangent" branches);
 *  - against central finite differences of the forward op, (f(x + εv) − f(x − εv)) / 2ε.
 * The cases are keyed by op name and the test iterates over the op table itself, so an op added later
 * without a case (or without a correct jvp) fails here.
 */
import { describe, expect, it } from "vitest";
import { Random, Tensor, getOpTable, jvp, noGrad, vjp, type OpName } from "../../src/index.js";
import { apply } from "../../src/autograd/record.js";
import type { OpAttrs } from "../../src/ops/types.js";
import { dot, expectClose, randomTensor } from "./helpers.js";

interface Case<P extends OpName> {
  /** What the case exercises (shown in the test name). */
  name: string;
  inputs: (random: Random) => Tensor[];
  attrs: OpAttrs[P];
  /** False where finite differences are not meaningful (ties, where the derivative is a convention). */
  smooth?: boolean;
}

const positive = (shape: number[]) => (r: Random) => [randomTensor(r, shape, { low: 0.5, high: 2 })];
const normal =
  (...shapes: number[][]) =>
  (r: Random) =>
    shapes.map((s) => randomTensor(r, s));
const unaryCases = (inputs = normal([2, 3])): Case<never>[] => [
  { name: "[2, 3]", inputs, attrs: null as never },
];
const binaryCases = (make = normal): Case<never>[] => [
  { name: "same shapes", inputs: make([2, 3], [2, 3]), attrs: null as never },
  { name: "broadcast [2, 3] with [3]", inputs: make([2, 3], [3]), attrs: null as never },
  { name: "broadcast [2, 1] with [1, 3]", inputs: make([2, 1], [1, 3]), attrs: null as never },
];
const positiveBinary =
  (...shapes: number[][]) =>
  (r: Random) =>
    shapes.map((s) => randomTensor(r, s, { low: 0.5, high: 2 }));
/** Two tensors that tie in some entries (a = b there). */
const withTies = (r: Random) => {
  const a = randomTensor(r, [2, 3]);
  const b = randomTensor(r, [2, 3]);
  b.data[0] = a.data[0]!;
  b.data[4] = a.data[4]!;
  return [a, b];
};
/** A matrix with ties in its rows' extrema. */
const rowTies = (r: Random) => {
  const x = randomTensor(r, [2, 3]);
  x.data[1] = x.data[0] = 5;
  x.data[3] = x.data[5] = -5;
  return [x];
};
const reduceAttrs = (axes: number[], keepDims: boolean) => ({ axes, keepDims });
/** Well-conditioned square matrices (a batch of two): M + 3I. */
const wellConditioned = (r: Random) => {
  const m = randomTensor(r, [2, 3, 3]);
  for (let b = 0; b < 2; b++) for (let i = 0; i < 3; i++) m.data[b * 9 + i * 4]! += 3;
  return [m];
};

const CASES: { [P in OpName]: Case<P>[] } = {
  neg: unaryCases(),
  exp: unaryCases(),
  log: unaryCases(positive([2, 3])),
  sqrt: unaryCases(positive([2, 3])),
  abs: unaryCases(),
  sigmoid: unaryCases(),
  tanh: unaryCases(),
  relu: unaryCases(),
  sin: unaryCases(),
  cos: unaryCases(),
  square: unaryCases(),
  sign: unaryCases(),
  clamp: [
    { name: "[-0.5, 0.5]", inputs: normal([3, 4]), attrs: { min: -0.5, max: 0.5 } },
    { name: "[0, 10]", inputs: normal([5]), attrs: { min: 0, max: 10 } },
  ],
  astype: [
    { name: "float64 → float64 view of float32", inputs: normal([2, 3]), attrs: { dtype: "float32" } },
  ],
  add: binaryCases(),
  sub: binaryCases(),
  mul: binaryCases(),
  div: binaryCases(positiveBinary),
  pow: binaryCases(positiveBinary),
  maximum: [...binaryCases(), { name: "ties", inputs: withTies, attrs: null, smooth: false }],
  minimum: [...binaryCases(), { name: "ties", inputs: withTies, attrs: null, smooth: false }],
  greater: binaryCases(),
  greaterEqual: binaryCases(),
  less: binaryCases(),
  lessEqual: binaryCases(),
  equal: binaryCases(),
  sum: [
    { name: "axis 1", inputs: normal([2, 3]), attrs: reduceAttrs([1], false) },
    { name: "all axes, keepDims", inputs: normal([2, 3]), attrs: reduceAttrs([0, 1], true) },
  ],
  max: [
    { name: "axis 1", inputs: normal([2, 3]), attrs: reduceAttrs([1], false) },
    { name: "axes 0 and 2, keepDims", inputs: normal([2, 3, 2]), attrs: reduceAttrs([0, 2], true) },
    { name: "ties", inputs: rowTies, attrs: reduceAttrs([1], false), smooth: false },
  ],
  min: [
    { name: "axis 0", inputs: normal([2, 3]), attrs: reduceAttrs([0], false) },
    { name: "ties", inputs: rowTies, attrs: reduceAttrs([1], true), smooth: false },
  ],
  logSumExp: [
    { name: "axis 1", inputs: normal([2, 3]), attrs: reduceAttrs([1], false) },
    { name: "non-contiguous axes 0 and 2", inputs: normal([2, 3, 2]), attrs: reduceAttrs([0, 2], true) },
  ],
  reshape: [{ name: "[2, 3] → [3, 2]", inputs: normal([2, 3]), attrs: { shape: [3, 2] } }],
  broadcastTo: [{ name: "[3, 1] → [2, 3, 4]", inputs: normal([3, 1]), attrs: { shape: [2, 3, 4] } }],
  transpose: [{ name: "perm [1, 2, 0]", inputs: normal([2, 3, 4]), attrs: { perm: [1, 2, 0] } }],
  slice: [
    { name: "[3, 3] at [1, 0] size [2, 2]", inputs: normal([3, 3]), attrs: { begin: [1, 0], size: [2, 2] } },
  ],
  pad: [
    { name: "[2, 3] into [4, 5] at [1, 2]", inputs: normal([2, 3]), attrs: { begin: [1, 2], shape: [4, 5] } },
  ],
  concat: [
    { name: "three tensors on axis 1", inputs: normal([2, 1], [2, 3], [2, 2]), attrs: { axis: 1 } },
    { name: "two tensors on axis 0", inputs: normal([1, 3], [2, 3]), attrs: { axis: 0 } },
  ],
  gather: [
    {
      name: "repeated rows",
      inputs: normal([4, 3]),
      attrs: { axis: 0, indices: Int32Array.from([2, 0, 2]), sparse: false },
    },
    {
      name: "row-sparse gradient",
      inputs: normal([4, 3]),
      attrs: { axis: 0, indices: Int32Array.from([3, 3, 1]), sparse: true },
    },
    {
      name: "axis 1",
      inputs: normal([2, 4]),
      attrs: { axis: 1, indices: Int32Array.from([1, 3]), sparse: false },
    },
  ],
  scatterAdd: [
    {
      name: "repeated indices",
      inputs: normal([3, 2]),
      attrs: { axis: 0, indices: Int32Array.from([1, 1, 0]), shape: [4, 2] },
    },
  ],
  matmul: [
    { name: "A·B", inputs: normal([2, 3], [3, 4]), attrs: { transA: false, transB: false } },
    { name: "Aᵀ·B", inputs: normal([3, 2], [3, 4]), attrs: { transA: true, transB: false } },
    { name: "A·Bᵀ", inputs: normal([2, 3], [4, 3]), attrs: { transA: false, transB: true } },
    {
      name: "batched, broadcast batch",
      inputs: normal([2, 2, 3], [3, 4]),
      attrs: { transA: false, transB: false },
    },
  ],
  inv: [{ name: "batch of 3 × 3", inputs: wellConditioned, attrs: null }],
  det: [{ name: "batch of 3 × 3", inputs: wellConditioned, attrs: null }],
  logdet: [{ name: "batch of 3 × 3", inputs: wellConditioned, attrs: null }],
  softmax: [
    { name: "axis 1", inputs: normal([2, 3]), attrs: { axis: 1 } },
    { name: "axis 0", inputs: normal([3, 2]), attrs: { axis: 0 } },
  ],
  logSoftmax: [
    { name: "axis 1", inputs: normal([2, 3]), attrs: { axis: 1 } },
    { name: "axis 0 of 3-d", inputs: normal([3, 2, 2]), attrs: { axis: 0 } },
  ],
  crossEntropy: [
    {
      name: "mean",
      inputs: normal([3, 4]),
      attrs: { targets: Int32Array.from([0, 3, 1]), weight: null, ignoreIndex: -100, reduction: "mean" },
    },
    {
      name: "weighted sum with an ignored row",
      inputs: normal([3, 4]),
      attrs: {
        targets: Int32Array.from([2, -1, 1]),
        weight: Float64Array.from([0.5, 2, 1, 3]),
        ignoreIndex: -1,
        reduction: "sum",
      },
    },
    {
      name: "none",
      inputs: normal([3, 4]),
      attrs: { targets: Int32Array.from([1, 1, 0]), weight: null, ignoreIndex: -100, reduction: "none" },
    },
  ],
  binaryCrossEntropyWithLogits: [
    {
      name: "mean",
      inputs: (r) => [randomTensor(r, [2, 3]), randomTensor(r, [2, 3], { low: 0, high: 1 })],
      attrs: { reduction: "mean", posWeight: 1 },
    },
    {
      name: "none with posWeight 2",
      inputs: (r) => [randomTensor(r, [4]), randomTensor(r, [4], { low: 0, high: 1 })],
      attrs: { reduction: "none", posWeight: 2 },
    },
    {
      name: "sum",
      inputs: (r) => [randomTensor(r, [3]), randomTensor(r, [3], { low: 0, high: 1 })],
      attrs: { reduction: "sum", posWeight: 0.5 },
    },
  ],
};

const EPS = 1e-6;

/** f with input `k` free and the others fixed (they then carry no tangent). */
function only(f: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[], k: number) {
  return (x: Tensor) => f(...inputs.map((t, i) => (i === k ? x : t)));
}

function shifted(x: Tensor, v: Tensor, scale: number): Tensor {
  const out = randomTensor(new Random(0), x.shape);
  for (let i = 0; i < x.size; i++) out.data[i] = x.data[i]! + scale * v.data[i]!;
  return out;
}

function checkCase(op: OpName, c: Case<OpName>, seed: number): void {
  const random = new Random(seed);
  const inputs = c.inputs(random);
  const f = (...xs: Tensor[]) => apply(op, xs, c.attrs as never);
  const reference = noGrad(() => f(...inputs));
  const tangents = inputs.map((x) => randomTensor(random, x.shape));
  const w = randomTensor(random, reference.shape).astype(reference.dtype);
  const tolerance = reference.dtype === "float32" ? 1e-5 : 1e-9;

  // All inputs at once: ⟨J v, w⟩ = ⟨v, Jᵀ w⟩.
  const [value, tangentOut] = jvp(f, inputs, tangents);
  expectClose(value, reference, 0);
  expect(tangentOut.shape).toEqual(reference.shape);
  expect(tangentOut.dtype).toBe(reference.dtype);
  const [, pullback] = vjp(f, ...inputs);
  const cotangents = pullback(w);
  const forward = dot(tangentOut, w);
  const backward = inputs.reduce((total, _, i) => total + dot(tangents[i]!, cotangents[i]!), 0);
  expectClose(forward, backward, tolerance);

  inputs.forEach((x, k) => {
    const fk = only(f, inputs, k);
    // One input alone.
    const [, tangentK] = jvp(fk, [x], [tangents[k]!]);
    expectClose(dot(tangentK, w), dot(tangents[k]!, cotangents[k]!), tolerance);
    // Central finite differences of the op itself.
    if (c.smooth !== false && reference.dtype === "float64") {
      const plus = noGrad(() => fk(shifted(x, tangents[k]!, EPS)));
      const minus = noGrad(() => fk(shifted(x, tangents[k]!, -EPS)));
      const numeric = plus.data.map((p, i) => (p - minus.data[i]!) / (2 * EPS));
      expectClose(tangentK, Array.from(numeric), 1e-5);
    }
  });
}

describe("the jvp rule of every op in the table", () => {
  const ops = Object.keys(getOpTable()) as OpName[];

  it("has at least one case per op", () => {
    const missing = ops.filter((op) => !(op in CASES) || CASES[op].length === 0);
    expect(missing, "ops without a jvp test case").toEqual([]);
  });

  for (const op of ops) {
    const cases = (CASES[op] ?? []) as Case<OpName>[];
    describe(op, () => {
      it.each(cases.map((c, i) => [c.name, c, i] as const))("%s", (_name, c, i) => {
        checkCase(op, c, 1000 + i);
      });
    });
  }
});

describe("jvp rules of ops whose derivative is zero", () => {
  it("give a zero tangent for sign and the comparisons", () => {
    for (const op of ["sign", "greater", "greaterEqual", "less", "lessEqual", "equal"] as const) {
      const random = new Random(3);
      const inputs =
        op === "sign" ? [randomTensor(random, [4])] : [randomTensor(random, [4]), randomTensor(random, [4])];
      const [, tangent] = jvp(
        (...xs: Tensor[]) => apply(op, xs, null),
        inputs,
        inputs.map((x) => randomTensor(random, x.shape)),
      );
      expect(Array.from(tangent.data)).toEqual([0, 0, 0, 0]);
    }
  });
});
