import { describe, expect, it } from "vitest";
import {
  argmax,
  binaryCrossEntropyWithLogits,
  concat,
  crossEntropy,
  det,
  exp,
  gather,
  inv,
  logSoftmax,
  logSumExp,
  logdet,
  matmul,
  max,
  mean,
  mseLoss,
  randn,
  reshape,
  scatterAdd,
  seed,
  sigmoid,
  slice,
  softmax,
  squeeze,
  stack,
  sum,
  tensor,
  transpose,
  unsqueeze,
  zeros,
} from "../../src/index.js";
import { expectClose } from "../helpers.js";

describe("matmul follows NumPy semantics", () => {
  const A = tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  it("matrix · matrix, matrix · vector, vector · matrix, vector · vector", () => {
    const B = tensor([
      [1, 0],
      [0, 1],
      [1, 1],
    ]);
    expect(matmul(A, B).toArray()).toEqual([
      [4, 5],
      [10, 11],
    ]);
    expect(matmul(A, tensor([1, 1, 1])).toArray()).toEqual([6, 15]);
    expect(matmul(tensor([1, 1]), A).toArray()).toEqual([5, 7, 9]);
    const dot = matmul(tensor([1, 2, 3]), tensor([4, 5, 6]));
    expect(dot.shape).toEqual([]);
    expect(dot.item()).toBe(32);
  });

  it("broadcasts batch dimensions", () => {
    seed(1);
    const a = randn([2, 1, 3, 4], { dtype: "float64" });
    const b = randn([5, 4, 2], { dtype: "float64" });
    const c = matmul(a, b);
    expect(c.shape).toEqual([2, 5, 3, 2]);
    // check one batch entry against a 2-D product
    const a1 = slice(a, [1, 0, 0, 0], [1, 1, 3, 4]).reshape([3, 4]);
    const b3 = slice(b, [3, 0, 0], [1, 4, 2]).reshape([4, 2]);
    expectClose(slice(c, [1, 3, 0, 0], [1, 1, 3, 2]).reshape([3, 2]), matmul(a1, b3), 1e-12);
    expect(matmul(tensor([1, 2]), randn([3, 2, 4])).shape).toEqual([3, 4]);
  });

  it("transpose flags equal explicit transposes", () => {
    seed(2);
    const a = randn([4, 3], { dtype: "float64" });
    const b = randn([5, 4], { dtype: "float64" });
    expectClose(
      matmul(a, b, { transposeA: true, transposeB: true }),
      matmul(transpose(a), transpose(b)),
      1e-12,
    );
  });

  it("agrees with a naive product on sizes that exercise the packed kernel's edges", () => {
    seed(3);
    for (const [m, k, n] of [
      [1, 300, 1],
      [33, 17, 65],
      [70, 300, 9],
      [130, 257, 515],
    ] as const) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const a = randn(transA ? [k, m] : [m, k], { dtype: "float64" });
          const b = randn(transB ? [n, k] : [k, n], { dtype: "float64" });
          const c = matmul(a, b, { transposeA: transA, transposeB: transB });
          const ad = a.data;
          const bd = b.data;
          let worst = 0;
          for (let i = 0; i < m; i += 7) {
            for (let j = 0; j < n; j += 5) {
              let acc = 0;
              for (let p = 0; p < k; p++)
                acc += ad[transA ? p * m + i : i * k + p]! * bd[transB ? j * k + p : p * n + j]!;
              worst = Math.max(worst, Math.abs(acc - c.data[i * n + j]!));
            }
          }
          expect(worst).toBeLessThan(1e-9);
        }
      }
    }
  });

  it("float32 products stay accurate", () => {
    seed(4);
    const a = randn([64, 300]);
    const b = randn([300, 64]);
    const c32 = matmul(a, b);
    const c64 = matmul(a.astype("float64"), b.astype("float64"));
    let worst = 0;
    for (let i = 0; i < c32.size; i++) worst = Math.max(worst, Math.abs(c32.data[i]! - c64.data[i]!));
    expect(worst).toBeLessThan(1e-3);
  });
});

describe("shape ops", () => {
  const x = tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  it("reshape shares storage, squeeze/unsqueeze", () => {
    const r = reshape(x, [3, -1]);
    expect(r.shape).toEqual([3, 2]);
    expect(r.data).toBe(x.data);
    expect(unsqueeze(x, -1).shape).toEqual([2, 3, 1]);
    expect(squeeze(zeros([1, 3, 1])).shape).toEqual([3]);
    expect(squeeze(zeros([1, 3, 1]), 0).shape).toEqual([3, 1]);
  });

  it("transpose, slice, concat, stack", () => {
    expect(transpose(x).toArray()).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    expect(x.T.shape).toEqual([3, 2]);
    expect(transpose(tensor([[[1, 2]], [[3, 4]]]), [2, 0, 1]).toArray()).toEqual([
      [[1], [3]],
      [[2], [4]],
    ]);
    expect(slice(x, [0, 1], [2, 2]).toArray()).toEqual([
      [2, 3],
      [5, 6],
    ]);
    expect(slice(x, [1]).toArray()).toEqual([[4, 5, 6]]);
    expect(concat([x, x], 0).shape).toEqual([4, 3]);
    expect(concat([x, tensor([[7], [8]])], -1).toArray()).toEqual([
      [1, 2, 3, 7],
      [4, 5, 6, 8],
    ]);
    expect(stack([tensor([1, 2]), tensor([3, 4])], 1).toArray()).toEqual([
      [1, 3],
      [2, 4],
    ]);
  });

  it("gather along axes and with nested indices; scatterAdd accumulates", () => {
    expect(gather(x, [1, 1, 0]).toArray()).toEqual([
      [4, 5, 6],
      [4, 5, 6],
      [1, 2, 3],
    ]);
    expect(gather(x, [2, 0], 1).toArray()).toEqual([
      [3, 1],
      [6, 4],
    ]);
    expect(
      gather(
        tensor([10, 20, 30]),
        tensor(
          [
            [0, 2],
            [1, 1],
          ],
          { dtype: "int32" },
        ),
      ).toArray(),
    ).toEqual([
      [10, 30],
      [20, 20],
    ]);
    expect(scatterAdd(tensor([1, 2, 3]), [0, 2, 0], 0, [3]).toArray()).toEqual([4, 0, 2]);
  });

  it("repeated gather indices accumulate gradient", () => {
    const t = tensor([1, 2, 3], { requiresGrad: true });
    gather(t, [2, 2, 0, 2]).sum().backward();
    expect(Array.from(t.grad!.data)).toEqual([1, 0, 3]);
  });

  it("a sparse gather leaves a row-sparse gradient that densifies on reading .grad", () => {
    const table = tensor(
      [
        [1, 1],
        [2, 2],
        [3, 3],
        [4, 4],
      ],
      { requiresGrad: true },
    );
    gather(table, [3, 1, 3], 0, { sparseGrad: true })
      .mul(tensor([[1, 2]]))
      .sum()
      .backward();
    const sparse = table.sparseGrad!;
    expect(sparse).not.toBeNull();
    expect(Array.from(sparse.indices)).toEqual([3, 1, 3]);
    const coalesced = sparse.coalesce();
    expect(Array.from(coalesced.indices)).toEqual([1, 3]);
    expect(coalesced.values.toArray()).toEqual([
      [1, 2],
      [2, 4],
    ]);
    expect(table.grad!.toArray()).toEqual([
      [0, 0],
      [1, 2],
      [0, 0],
      [2, 4],
    ]);
    expect(table.sparseGrad).toBeNull();
  });
});

describe("reductions", () => {
  const x = tensor([
    [1, 5, 3],
    [4, 2, 6],
  ]);
  it("sum, mean, max with axes, negative axes and keepDims", () => {
    expect(sum(x).item()).toBe(21);
    expect(sum(x, 0).toArray()).toEqual([5, 7, 9]);
    expect(sum(x, -1, true).toArray()).toEqual([[9], [12]]);
    expect(sum(x, [0, 1]).item()).toBe(21);
    expect(mean(x, 1).toArray()).toEqual([3, 4]);
    expect(max(x, 0).toArray()).toEqual([4, 5, 6]);
    expect(max(x).item()).toBe(6);
    expect(argmax(x, 1).toArray()).toEqual([1, 2]);
    expect(argmax(x).item()).toBe(5);
    expect(
      sum(
        tensor([
          [
            [1, 2],
            [3, 4],
          ],
          [
            [5, 6],
            [7, 8],
          ],
        ]),
        [0, 2],
      ).toArray(),
    ).toEqual([14, 22]);
  });

  it("logSumExp and softmax are stable for large inputs", () => {
    const big = tensor([1000, 1000, -1000], { dtype: "float64", requiresGrad: true });
    expect(logSumExp(big).item()).toBeCloseTo(1000 + Math.log(2), 10);
    expectClose(softmax(big), [0.5, 0.5, 0], 1e-12);
    expectClose(logSoftmax(big), [-Math.log(2), -Math.log(2), -2000 - Math.log(2)], 1e-12);
    logSumExp(big).backward();
    expectClose(big.grad!, [0.5, 0.5, 0], 1e-12);
  });
});

describe("neural-net functions", () => {
  it("softmax rows sum to 1 and match exp(x)/Σexp(x)", () => {
    const x = tensor([[1, 2, 3]], { dtype: "float64" });
    const e = [1, 2, 3].map(Math.exp);
    const total = e[0]! + e[1]! + e[2]!;
    expectClose(softmax(x), [e.map((v) => v / total)], 1e-12);
    expectClose(exp(logSoftmax(x)), softmax(x), 1e-12);
  });

  it("crossEntropy: −log softmax at the target, averaged; gradient softmax − onehot", () => {
    const logits = tensor(
      [
        [2, 1, 0],
        [0, 0, 0],
      ],
      { dtype: "float64", requiresGrad: true },
    );
    const loss = crossEntropy(logits, [0, 2]);
    const lse0 = Math.log(Math.exp(2) + Math.exp(1) + 1);
    // row 0: lse − 2; row 1: log 3 − 0
    expect(loss.item()).toBeCloseTo((lse0 - 2 + Math.log(3)) / 2, 12);
    loss.backward();
    const p0 = [2, 1, 0].map((v) => Math.exp(v - lse0));
    expectClose(
      logits.grad!,
      [
        [(p0[0]! - 1) / 2, p0[1]! / 2, p0[2]! / 2],
        [1 / 6, 1 / 6, (1 / 3 - 1) / 2],
      ],
      1e-12,
    );
  });

  it("crossEntropy with class weights, ignoreIndex and reductions matches PyTorch's definitions", () => {
    const logits = tensor(
      [
        [0, 1],
        [1, 0],
        [3, 3],
      ],
      { dtype: "float64" },
    );
    const l0 = Math.log(1 + Math.E) - 0; // target 0 of [0, 1]
    const l1 = Math.log(1 + Math.E) - 0; // target 1 of [1, 0]
    const weighted = crossEntropy(logits, [0, 1, -100], { weight: [2, 3] });
    // weighted mean: (2·l0 + 3·l1) / (2 + 3); the ignored row counts nowhere
    expect(weighted.item()).toBeCloseTo((2 * l0 + 3 * l1) / 5, 12);
    expect(crossEntropy(logits, [0, 1, 1], { reduction: "sum" }).item()).toBeCloseTo(
      l0 + l1 + Math.log(2),
      12,
    );
    expectClose(crossEntropy(logits, [0, 1, 1], { reduction: "none" }), [l0, l1, Math.log(2)], 1e-12);
  });

  it("losses stay finite with huge logits", () => {
    const logits = tensor([[1e4, -1e4, 0]], { requiresGrad: true });
    const loss = crossEntropy(logits, [1]);
    expect(loss.item()).toBeCloseTo(2e4, 0);
    loss.backward();
    for (const v of logits.grad!.data) expect(Number.isFinite(v)).toBe(true);
    const z = tensor([1e4, -1e4, 50, -50], { requiresGrad: true });
    const bce = binaryCrossEntropyWithLogits(z, [0, 1, 1, 0]);
    expect(Number.isFinite(bce.item())).toBe(true);
    expect(bce.item()).toBeCloseTo((1e4 + 1e4) / 4, 0);
    bce.backward();
    for (const v of z.grad!.data) expect(Number.isFinite(v)).toBe(true);
    expect(Array.from(sigmoid(tensor([-1e4, 1e4])).data)).toEqual([0, 1]);
  });

  it("binaryCrossEntropyWithLogits equals −[t log σ(x) + (1 − t) log(1 − σ(x))]", () => {
    const x = tensor([0.3, -1.2], { dtype: "float64" });
    const s = [0.3, -1.2].map((v) => 1 / (1 + Math.exp(-v)));
    const expected = (-Math.log(s[0]!) - Math.log(1 - s[1]!)) / 2;
    expect(binaryCrossEntropyWithLogits(x, [1, 0]).item()).toBeCloseTo(expected, 12);
  });

  it("mseLoss", () => {
    expect(mseLoss(tensor([1, 2, 3]), tensor([1, 0, 0])).item()).toBeCloseTo((0 + 4 + 9) / 3, 6);
    expect(mseLoss(tensor([1, 2]), [0, 0], { reduction: "sum" }).item()).toBe(5);
  });
});

describe("linear algebra", () => {
  it("inv, det and logdet of a 2 × 2 matrix by hand", () => {
    const a = tensor(
      [
        [4, 7],
        [2, 6],
      ],
      { dtype: "float64" },
    );
    // det = 4·6 − 7·2 = 10; inverse = [[6, −7], [−2, 4]] / 10
    expect(det(a).item()).toBeCloseTo(10, 12);
    expect(logdet(a).item()).toBeCloseTo(Math.log(10), 12);
    expectClose(
      inv(a),
      [
        [0.6, -0.7],
        [-0.2, 0.4],
      ],
      1e-12,
    );
    expect(
      det(
        tensor([
          [1, 2],
          [2, 4],
        ]),
      ).item(),
    ).toBe(0);
  });
});
