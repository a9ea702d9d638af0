import { describe, expect, it } from "vitest";
import {
  Tensor,
  abs,
  add,
  astype,
  binaryCrossEntropyWithLogits,
  broadcastTo,
  clamp,
  concat,
  cos,
  crossEntropy,
  det,
  div,
  exp,
  gather,
  getOpTable,
  gradcheck,
  inv,
  log,
  logSoftmax,
  logSumExp,
  logdet,
  matmul,
  max,
  maximum,
  mean,
  min,
  minimum,
  mseLoss,
  mul,
  neg,
  pad,
  pow,
  randn,
  relu,
  reshape,
  scatterAdd,
  seed,
  sigmoid,
  sin,
  slice,
  softmax,
  sqrt,
  square,
  stack,
  sub,
  sum,
  tanh,
  tensor,
  transpose,
  type OpName,
} from "../../src/index.js";

/** A float64 leaf that requires grad, with values from the seeded generator (optionally shifted away from 0). */
function leaf(shape: number[], offset = 0): Tensor {
  const t = randn(shape, { dtype: "float64" });
  const shifted = tensor(
    Array.from(t.data, (v) => v + Math.sign(v || 1) * offset),
    { dtype: "float64", shape },
  );
  shifted.requiresGrad = true;
  return shifted;
}

function positive(shape: number[]): Tensor {
  const t = randn(shape, { dtype: "float64" });
  return tensor(
    Array.from(t.data, (v) => Math.abs(v) + 0.5),
    { dtype: "float64", shape, requiresGrad: true },
  );
}

interface Case {
  name: string;
  /** Primitive ops this case exercises (for the coverage check). */
  ops: OpName[];
  fn: (...inputs: Tensor[]) => Tensor;
  inputs: () => Tensor[];
}

const cases: Case[] = [
  // unary
  { name: "neg", ops: ["neg"], fn: (x) => neg(x!), inputs: () => [leaf([3, 4])] },
  { name: "exp", ops: ["exp"], fn: (x) => exp(x!), inputs: () => [leaf([3, 4])] },
  { name: "log", ops: ["log"], fn: (x) => log(x!), inputs: () => [positive([3, 4])] },
  { name: "sqrt", ops: ["sqrt"], fn: (x) => sqrt(x!), inputs: () => [positive([5])] },
  { name: "abs (away from 0)", ops: ["abs"], fn: (x) => abs(x!), inputs: () => [leaf([6], 0.1)] },
  { name: "sigmoid", ops: ["sigmoid"], fn: (x) => sigmoid(x!), inputs: () => [leaf([2, 3])] },
  { name: "tanh", ops: ["tanh"], fn: (x) => tanh(x!), inputs: () => [leaf([2, 3])] },
  { name: "relu (away from 0)", ops: ["relu"], fn: (x) => relu(x!), inputs: () => [leaf([7], 0.1)] },
  { name: "sin", ops: ["sin"], fn: (x) => sin(x!), inputs: () => [leaf([4])] },
  { name: "cos", ops: ["cos"], fn: (x) => cos(x!), inputs: () => [leaf([4])] },
  { name: "square", ops: ["square"], fn: (x) => square(x!), inputs: () => [leaf([4])] },
  {
    name: "clamp (away from the bounds)",
    ops: ["clamp"],
    fn: (x) => clamp(x!, -0.5, 0.5),
    inputs: () => [tensor([-1, -0.3, 0.2, 0.9], { dtype: "float64", requiresGrad: true })],
  },
  {
    name: "astype float64 → float32 → float64",
    ops: ["astype"],
    fn: (x) => astype(astype(x!, "float32"), "float64").mul(astype(x!, "float32").astype("float64")),
    inputs: () => [tensor([0.5, 1.5], { dtype: "float64", requiresGrad: true })],
  },
  // binary, same shapes and broadcast
  { name: "add", ops: ["add"], fn: (a, b) => add(a!, b!), inputs: () => [leaf([2, 3]), leaf([2, 3])] },
  {
    name: "add broadcast [2,3] + [3]",
    ops: ["add"],
    fn: (a, b) => add(a!, b!),
    inputs: () => [leaf([2, 3]), leaf([3])],
  },
  {
    name: "add broadcast [2,1] + [1,3]",
    ops: ["add"],
    fn: (a, b) => add(a!, b!),
    inputs: () => [leaf([2, 1]), leaf([1, 3])],
  },
  { name: "add a number", ops: ["add"], fn: (a) => add(2, a!), inputs: () => [leaf([3])] },
  {
    name: "sub broadcast",
    ops: ["sub"],
    fn: (a, b) => sub(a!, b!),
    inputs: () => [leaf([4, 1, 2]), leaf([3, 1])],
  },
  { name: "sub from a number", ops: ["sub"], fn: (a) => sub(1, a!), inputs: () => [leaf([3])] },
  {
    name: "mul broadcast",
    ops: ["mul"],
    fn: (a, b) => mul(a!, b!),
    inputs: () => [leaf([2, 3, 4]), leaf([3, 1])],
  },
  {
    name: "mul by a 0-d tensor",
    ops: ["mul"],
    fn: (a, b) => mul(a!, b!),
    inputs: () => [leaf([2, 2]), leaf([])],
  },
  {
    name: "div broadcast",
    ops: ["div"],
    fn: (a, b) => div(a!, b!),
    inputs: () => [leaf([2, 3]), positive([2, 1])],
  },
  { name: "div a number by a tensor", ops: ["div"], fn: (a) => div(1, a!), inputs: () => [positive([3])] },
  {
    name: "pow tensor^tensor",
    ops: ["pow"],
    fn: (a, b) => pow(a!, b!),
    inputs: () => [positive([3]), leaf([3])],
  },
  { name: "pow tensor^number", ops: ["pow"], fn: (a) => pow(a!, 3), inputs: () => [leaf([4])] },
  { name: "pow number^tensor", ops: ["pow"], fn: (a) => pow(2, a!), inputs: () => [leaf([4])] },
  {
    name: "maximum (no ties) with broadcast",
    ops: ["maximum"],
    fn: (a, b) => maximum(a!, b!),
    inputs: () => [
      tensor(
        [
          [1, -2, 3],
          [0.5, 4, -1],
        ],
        { dtype: "float64", requiresGrad: true },
      ),
      tensor([0.2, 0.1, 0.3], { dtype: "float64", requiresGrad: true }),
    ],
  },
  {
    name: "minimum (no ties)",
    ops: ["minimum"],
    fn: (a, b) => minimum(a!, b!),
    inputs: () => [leaf([5]), leaf([5])],
  },
  // reductions
  { name: "sum all", ops: ["sum"], fn: (x) => sum(x!), inputs: () => [leaf([2, 3])] },
  {
    name: "sum axis -1 keepDims",
    ops: ["sum"],
    fn: (x) => sum(x!, -1, true),
    inputs: () => [leaf([2, 3, 4])],
  },
  { name: "sum axes [0, 2]", ops: ["sum"], fn: (x) => sum(x!, [0, 2]), inputs: () => [leaf([2, 3, 4])] },
  { name: "mean axis 1", ops: ["sum", "div"], fn: (x) => mean(x!, 1), inputs: () => [leaf([2, 3, 4])] },
  { name: "max all (distinct values)", ops: ["max"], fn: (x) => max(x!), inputs: () => [leaf([3, 4])] },
  {
    name: "max axis -2 keepDims",
    ops: ["max"],
    fn: (x) => max(x!, -2, true),
    inputs: () => [leaf([2, 3, 4])],
  },
  { name: "min axes [0, 1]", ops: ["min"], fn: (x) => min(x!, [0, 1]), inputs: () => [leaf([2, 3, 4])] },
  {
    name: "logSumExp axis -1",
    ops: ["logSumExp"],
    fn: (x) => logSumExp(x!, -1),
    inputs: () => [leaf([3, 5])],
  },
  {
    name: "logSumExp axes [0, 2] (non-contiguous)",
    ops: ["logSumExp"],
    fn: (x) => logSumExp(x!, [0, 2], true),
    inputs: () => [leaf([2, 3, 4])],
  },
  { name: "logSumExp all", ops: ["logSumExp"], fn: (x) => logSumExp(x!), inputs: () => [leaf([2, 3])] },
  // linear algebra
  {
    name: "matmul matrix·matrix",
    ops: ["matmul"],
    fn: (a, b) => matmul(a!, b!),
    inputs: () => [leaf([3, 4]), leaf([4, 2])],
  },
  {
    name: "matmul matrix·vector",
    ops: ["matmul"],
    fn: (a, b) => matmul(a!, b!),
    inputs: () => [leaf([3, 4]), leaf([4])],
  },
  {
    name: "matmul vector·matrix",
    ops: ["matmul"],
    fn: (a, b) => matmul(a!, b!),
    inputs: () => [leaf([3]), leaf([3, 2])],
  },
  {
    name: "matmul vector·vector",
    ops: ["matmul"],
    fn: (a, b) => matmul(a!, b!),
    inputs: () => [leaf([5]), leaf([5])],
  },
  {
    name: "matmul batched with broadcast",
    ops: ["matmul"],
    fn: (a, b) => matmul(a!, b!),
    inputs: () => [leaf([2, 1, 3, 4]), leaf([3, 4, 2])],
  },
  {
    name: "matmul with transpose flags",
    ops: ["matmul"],
    fn: (a, b, c) => matmul(matmul(a!, b!, { transposeA: true }), c!, { transposeB: true }),
    inputs: () => [leaf([4, 3]), leaf([4, 2]), leaf([5, 2])],
  },
  {
    name: "matmul both transposed, batched",
    ops: ["matmul"],
    fn: (a, b) => matmul(a!, b!, { transposeA: true, transposeB: true }),
    inputs: () => [leaf([2, 4, 3]), leaf([1, 5, 4])],
  },
  {
    name: "inv",
    ops: ["inv"],
    fn: (x) => inv(x!),
    inputs: () => [
      tensor(
        [
          [4, 1, 0],
          [1, 3, 1],
          [0, 1, 2],
        ],
        { dtype: "float64", requiresGrad: true },
      ),
    ],
  },
  { name: "det", ops: ["det"], fn: (x) => det(x!), inputs: () => [leaf([3, 3])] },
  { name: "det batched", ops: ["det"], fn: (x) => det(x!), inputs: () => [leaf([2, 2, 2])] },
  {
    name: "logdet",
    ops: ["logdet"],
    fn: (x) => logdet(x!),
    inputs: () => [
      tensor(
        [
          [4, 1, 0],
          [1, 3, 1],
          [0, 1, -2],
        ],
        { dtype: "float64", requiresGrad: true },
      ),
    ],
  },
  // shape
  {
    name: "reshape with -1",
    ops: ["reshape"],
    fn: (x) => reshape(x!, [-1, 2]).mul(tensor([1, 2], { dtype: "float64" })),
    inputs: () => [leaf([2, 3])],
  },
  {
    name: "broadcastTo",
    ops: ["broadcastTo"],
    fn: (x) => broadcastTo(x!, [2, 3, 4]),
    inputs: () => [leaf([3, 1])],
  },
  { name: "transpose default", ops: ["transpose"], fn: (x) => transpose(x!), inputs: () => [leaf([2, 3])] },
  {
    name: "transpose axes",
    ops: ["transpose"],
    fn: (x) => transpose(x!, [1, 2, 0]),
    inputs: () => [leaf([2, 3, 4])],
  },
  { name: "slice", ops: ["slice"], fn: (x) => slice(x!, [1, 0], [1, -1]), inputs: () => [leaf([3, 4])] },
  {
    name: "slice negative begin",
    ops: ["slice"],
    fn: (x) => slice(x!, [-2], [2]),
    inputs: () => [leaf([5])],
  },
  { name: "pad", ops: ["pad"], fn: (x) => pad(x!, [1, 2], [4, 5]), inputs: () => [leaf([2, 3])] },
  {
    name: "concat axis 1",
    ops: ["concat"],
    fn: (a, b) => concat([a!, b!], 1),
    inputs: () => [leaf([2, 3]), leaf([2, 2])],
  },
  {
    name: "concat axis -1 of three",
    ops: ["concat"],
    fn: (a, b, c) => concat([a!, b!, c!], -1),
    inputs: () => [leaf([2]), leaf([3]), leaf([1])],
  },
  {
    name: "stack axis 1",
    ops: ["concat", "reshape"],
    fn: (a, b) => stack([a!, b!], 1),
    inputs: () => [leaf([2, 3]), leaf([2, 3])],
  },
  {
    name: "gather repeated indices",
    ops: ["gather"],
    fn: (x) => gather(x!, [0, 2, 2, 1, 0]),
    inputs: () => [leaf([3, 4])],
  },
  {
    name: "gather axis 1",
    ops: ["gather"],
    fn: (x) => gather(x!, [3, 0, 3], 1),
    inputs: () => [leaf([2, 4, 2])],
  },
  {
    name: "gather with 2-D int32 indices",
    ops: ["gather", "reshape"],
    fn: (x) =>
      gather(
        x!,
        tensor(
          [
            [0, 1],
            [1, 1],
          ],
          { dtype: "int32" },
        ),
      ),
    inputs: () => [leaf([3, 2])],
  },
  {
    name: "gather with sparse gradient (dense under createGraph-free backward is checked separately)",
    ops: ["gather"],
    fn: (x) => gather(x!, [1, 1, 0], 0, { sparseGrad: true }),
    inputs: () => [leaf([3, 2])],
  },
  {
    name: "scatterAdd repeated indices",
    ops: ["scatterAdd"],
    fn: (v) => scatterAdd(v!, [2, 0, 2], 0, [4, 3]),
    inputs: () => [leaf([3, 3])],
  },
  // neural-net functions
  { name: "softmax axis -1", ops: ["softmax"], fn: (x) => softmax(x!), inputs: () => [leaf([3, 4])] },
  { name: "softmax axis 0", ops: ["softmax"], fn: (x) => softmax(x!, 0), inputs: () => [leaf([3, 4])] },
  {
    name: "logSoftmax axis 1 of 3-D",
    ops: ["logSoftmax"],
    fn: (x) => logSoftmax(x!, 1),
    inputs: () => [leaf([2, 3, 2])],
  },
  {
    name: "crossEntropy",
    ops: ["crossEntropy"],
    fn: (x) => crossEntropy(x!, [0, 3, 1]),
    inputs: () => [leaf([3, 4])],
  },
  {
    name: "crossEntropy weighted, ignoreIndex, sum",
    ops: ["crossEntropy"],
    fn: (x) => crossEntropy(x!, [2, -1, 0, 1], { weight: [0.5, 2, 1], ignoreIndex: -1, reduction: "sum" }),
    inputs: () => [leaf([4, 3])],
  },
  {
    name: "crossEntropy reduction none",
    ops: ["crossEntropy"],
    fn: (x) => crossEntropy(x!, [1, 0], { reduction: "none" }),
    inputs: () => [leaf([2, 3])],
  },
  {
    name: "binaryCrossEntropyWithLogits (both inputs)",
    ops: ["binaryCrossEntropyWithLogits"],
    fn: (x, t) => binaryCrossEntropyWithLogits(x!, t!),
    inputs: () => [leaf([5]), tensor([0, 1, 0.3, 1, 0], { dtype: "float64", requiresGrad: true })],
  },
  {
    name: "binaryCrossEntropyWithLogits posWeight, none",
    ops: ["binaryCrossEntropyWithLogits"],
    fn: (x) =>
      binaryCrossEntropyWithLogits(
        x!,
        tensor(
          [
            [1, 0],
            [0, 1],
          ],
          { dtype: "float64" },
        ),
        { posWeight: 3, reduction: "none" },
      ),
    inputs: () => [leaf([2, 2])],
  },
  {
    name: "mseLoss",
    ops: ["sub", "square", "sum", "div"],
    fn: (a, b) => mseLoss(a!, b!),
    inputs: () => [leaf([2, 3]), leaf([2, 3])],
  },
];

describe("gradcheck of every op (float64 central differences)", () => {
  for (const c of cases) {
    it(c.name, () => {
      seed(cases.indexOf(c) + 1);
      // A float32 round trip loses the tiny default step, so astype is checked with a larger one.
      const options = c.ops.includes("astype") ? { eps: 1e-3, atol: 1e-3, rtol: 1e-3 } : {};
      const report = gradcheck(c.fn, c.inputs(), options);
      expect(report.passed).toBe(true);
    });
  }

  it("covers every primitive in the op table", () => {
    const covered = new Set(cases.flatMap((c) => c.ops));
    // Comparisons and sign are piecewise constant (gradient zero), tested in conventions.test.ts.
    const constant = new Set(["sign", "greater", "greaterEqual", "less", "lessEqual", "equal"]);
    const missing = Object.keys(getOpTable()).filter((op) => !covered.has(op as OpName) && !constant.has(op));
    expect(missing).toEqual([]);
  });
});

describe("second derivatives through the rules (grad of grad), gradchecked", () => {
  const secondOrder: Case[] = cases.filter((c) =>
    [
      "tanh",
      "sigmoid",
      "exp",
      "log",
      "softmax axis -1",
      "logSoftmax axis 1 of 3-D",
      "crossEntropy",
      "matmul matrix·matrix",
      "div broadcast",
      "pow tensor^tensor",
      "logSumExp axes [0, 2] (non-contiguous)",
      "inv",
      "det",
      "binaryCrossEntropyWithLogits (both inputs)",
      "gather repeated indices",
      "max axis -2 keepDims",
    ].includes(c.name),
  );
  for (const c of secondOrder) {
    it(c.name, async () => {
      const { gradients } = await import("../../src/index.js");
      seed(100 + secondOrder.indexOf(c));
      // g(x) = Σ r ∘ ∂(Σ w ∘ f(x))/∂x: its gradient needs the backward rules to be differentiable.
      const inputs = c.inputs();
      const first = c.fn(...inputs);
      const w = randn(first.shape as number[], { dtype: "float64" });
      const rs = inputs.map((t) => randn(t.shape as number[], { dtype: "float64" }));
      const g = (...xs: Tensor[]): Tensor => {
        const out = c
          .fn(...xs)
          .mul(w)
          .sum();
        const grads = gradients(
          [out],
          xs.filter((x) => x.requiresGrad),
          { createGraph: true },
        );
        let total: Tensor = tensor(0, { dtype: "float64" });
        let k = 0;
        xs.forEach((x, i) => {
          if (x.requiresGrad) total = total.add(grads[k++]!.mul(rs[i]!).sum());
        });
        return total;
      };
      expect(gradcheck(g, inputs, { atol: 1e-4, rtol: 1e-3 }).passed).toBe(true);
    });
  }
});
