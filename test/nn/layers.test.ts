import { describe, expect, it } from "vitest";
import {
  DTypeError,
  ShapeError,
  ValueError,
  Random,
  gradcheck,
  nn,
  seed,
  tensor,
  zeros,
} from "../../src/index.js";
import { expectValues } from "./helpers.js";

const { Linear, Embedding, Dropout, Tanh, Sigmoid, ReLU, HardTanh, Identity } = nn;

describe("Linear", () => {
  it("stores W as [out, in] and computes z = Wx + b for one example and for batches", () => {
    const layer = new Linear(3, 2);
    expect(layer.weight.shape).toEqual([2, 3]);
    expect(layer.bias!.shape).toEqual([2]);
    layer.weight.data.set([1, 2, 3, -1, 0, 1]);
    layer.bias!.data.set([0.5, -0.5]);
    // W = [[1, 2, 3], [−1, 0, 1]], b = [0.5, −0.5], x = [1, 1, 2]:
    // Wx + b = [1 + 2 + 6 + 0.5, −1 + 0 + 2 − 0.5] = [9.5, 0.5]
    const single = layer.forward(tensor([1, 1, 2]));
    expect(single.shape).toEqual([2]);
    expectValues(single, [9.5, 0.5]);
    // A batch [2, 3]: the second row x = [0, 1, 0] gives [2 + 0.5, 0 − 0.5] = [2.5, −0.5]
    const batch = layer.forward(
      tensor([
        [1, 1, 2],
        [0, 1, 0],
      ]),
    );
    expect(batch.shape).toEqual([2, 2]);
    expectValues(batch, [9.5, 0.5, 2.5, -0.5]);
    // Leading axes [2, 1, 3] are kept: [2, 1, 2]
    const deep = layer.forward(tensor([[[1, 1, 2]], [[0, 1, 0]]]));
    expect(deep.shape).toEqual([2, 1, 2]);
    expectValues(deep, [9.5, 0.5, 2.5, -0.5]);
  });

  it("has the lecture's gradients: ∂s/∂W = δᵀx, ∂s/∂b = δ, ∂s/∂x = δW", () => {
    const layer = new Linear(3, 2, { dtype: "float64" });
    layer.weight.data.set([1, 2, 3, -1, 0, 1]);
    const x = tensor([1, 1, 2], { dtype: "float64", requiresGrad: true });
    const z = layer.forward(x);
    // Upstream δ = [2, −3]
    z.backward(tensor([2, -3], { dtype: "float64" }));
    // ∂/∂W = δᵀ xᵀ (outer product, [out, in]) = [[2, 2, 4], [−3, −3, −6]]
    expectValues(layer.weight.grad!, [2, 2, 4, -3, -3, -6]);
    expectValues(layer.bias!.grad!, [2, -3]);
    // ∂/∂x = δ W = 2·[1, 2, 3] − 3·[−1, 0, 1] = [5, 4, 3]
    expectValues(x.grad!, [5, 4, 3]);
  });

  it("passes a finite-difference gradient check on a [2, 2, 3] input", () => {
    seed(5);
    const layer = new Linear(3, 4, { dtype: "float64" });
    const x = tensor(
      [
        [
          [0.1, -0.2, 0.3],
          [0.5, 0.4, -0.6],
        ],
        [
          [1.1, 0.2, -0.3],
          [-0.7, 0.9, 0.8],
        ],
      ],
      { dtype: "float64", requiresGrad: true },
    );
    expect(gradcheck((input) => layer.forward(input).tanh(), [x]).passed).toBe(true);
  });

  it("initialises W with Glorot uniform (|w| ≤ √(6 / (in + out))) and b with zeros, reproducibly", () => {
    seed(6);
    const a = new Linear(200, 100);
    const bound = Math.sqrt(6 / 300);
    const values = Array.from(a.weight.data);
    expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(bound);
    // U(−a, a) has variance a²/3 = 2 / (in + out) ≈ 0.00667
    const variance = values.reduce((s, v) => s + v * v, 0) / values.length;
    expect(variance).toBeGreaterThan(0.9 * (2 / 300));
    expect(variance).toBeLessThan(1.1 * (2 / 300));
    expect(Array.from(a.bias!.data).every((v) => v === 0)).toBe(true);
    seed(6);
    expect(Array.from(new Linear(200, 100).weight.data)).toEqual(values);
  });

  it("rejects bad sizes and inputs with messages naming the shapes", () => {
    expect(() => new Linear(0, 2)).toThrow(ValueError);
    expect(() => new Linear(2.5, 2)).toThrow(/positive integer/);
    const layer = new Linear(3, 2);
    expect(() => layer.forward(tensor([[1, 2]]))).toThrow(ShapeError);
    expect(() => layer.forward(tensor([[1, 2]]))).toThrow(/Linear\(3, 2\).*\[1, 2\]/);
    expect(() => layer.forward(tensor(1))).toThrow(ShapeError);
    expect(() => layer.forward(tensor([1, 2, 3], { dtype: "float64" }))).toThrow(DTypeError);
    expect(() => new Linear(2, 2, { weightInit: () => zeros([3]) })).toThrow(/initialiser must return/);
  });
});

describe("Embedding", () => {
  it("looks up rows, keeps the ids' shape and gives a row-sparse gradient", () => {
    const table = new Embedding(5, 2);
    table.weight.data.set([0, 1, 10, 11, 20, 21, 30, 31, 40, 41]);
    const ids = tensor(
      [
        [1, 3],
        [3, 0],
      ],
      { dtype: "int32" },
    );
    const out = table.forward(ids);
    expect(out.shape).toEqual([2, 2, 2]);
    expectValues(out, [10, 11, 30, 31, 30, 31, 0, 1]);
    out.backward(tensor([1, 2, 3, 4, 5, 6, 7, 8], { shape: [2, 2, 2] }));
    const sparse = table.weight.sparseGrad!;
    expect(sparse).not.toBeNull();
    expect(Array.from(sparse.indices)).toEqual([1, 3, 3, 0]);
    // Row 3 was used twice, so its gradient is the sum [3 + 5, 4 + 6] = [8, 10].
    const coalesced = sparse.coalesce();
    expect(Array.from(coalesced.indices)).toEqual([0, 1, 3]);
    expectValues(coalesced.values, [7, 8, 1, 2, 8, 10]);
    // Reading .grad densifies it.
    expectValues(table.weight.grad!, [7, 8, 1, 2, 0, 0, 8, 10, 0, 0]);
    expect(table.weight.sparseGrad).toBeNull();
  });

  it("gives a dense gradient with sparse: false, equal to the densified sparse one", () => {
    seed(7);
    const dense = new Embedding(6, 3, { sparse: false });
    const sparse = Embedding.fromPretrained(dense.weight);
    expect(sparse.weight).not.toBe(dense.weight);
    expect(Array.from(sparse.weight.data)).toEqual(Array.from(dense.weight.data));
    const ids = [4, 0, 4, 2];
    dense.forward(ids).tanh().sum().backward();
    sparse.forward(ids).tanh().sum().backward();
    expect(dense.weight.sparseGrad).toBeNull();
    expect(Array.from(sparse.weight.grad!.data)).toEqual(Array.from(dense.weight.grad!.data));
  });

  it("initialises from N(0, 1) by default and checks its arguments", () => {
    seed(8);
    const table = new Embedding(1000, 10);
    const values = Array.from(table.weight.data);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
    expect(() => table.forward([1000])).toThrow(/out of range/);
    expect(() => new Embedding(10, 0)).toThrow(ValueError);
    expect(() => Embedding.fromPretrained(zeros([3]))).toThrow(ShapeError);
    expect(table.toString()).toBe("Embedding(1000, 10)");
  });
});

describe("Dropout", () => {
  it("zeroes about p of the values and scales the rest by 1/(1 − p) (inverted dropout)", () => {
    seed(9);
    const drop = new Dropout(0.25);
    const x = tensor(new Float32Array(10000).fill(2));
    const y = drop.forward(x);
    const values = Array.from(y.data);
    const kept = values.filter((v) => v !== 0);
    // Every survivor is 2 / 0.75
    expect(kept.every((v) => v === Math.fround(Math.fround(2) * Math.fround(1 / 0.75)))).toBe(true);
    expect(kept.length / values.length).toBeGreaterThan(0.73);
    expect(kept.length / values.length).toBeLessThan(0.77);
    // So the mean is preserved (about 2)
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    expect(Math.abs(mean - 2)).toBeLessThan(0.05);
  });

  it("is reproducible with a seed, passes gradients only through kept values, and is the identity in eval mode", () => {
    const x = tensor(new Float32Array(50).fill(1), { requiresGrad: true });
    seed(10);
    const a = new Dropout(0.5).forward(x);
    seed(10);
    const b = new Dropout(0.5).forward(x);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    a.sum().backward();
    // ∂(mask ∘ x)/∂x = mask
    expect(Array.from(x.grad!.data)).toEqual(Array.from(a.data));
    const drop = new Dropout(0.5).eval();
    expect(drop.forward(x)).toBe(x);
    expect(new Dropout(0).forward(x)).toBe(x);
    expect(Array.from(new Dropout(1).forward(x).data).every((v) => v === 0)).toBe(true);
    const own = new Dropout(0.5, { random: new Random(3) }).forward(x);
    expect(Array.from(own.data)).toEqual(
      Array.from(new Dropout(0.5, { random: new Random(3) }).forward(x).data),
    );
    expect(() => new Dropout(1.5)).toThrow(ValueError);
    expect(() => new Dropout(Number.NaN)).toThrow(ValueError);
  });
});

describe("activations", () => {
  it("Tanh, Sigmoid, ReLU, HardTanh and Identity apply their functions", () => {
    const x = tensor([-2, -0.5, 0, 0.5, 2]);
    expectValues(new Tanh().forward(x), [-2, -0.5, 0, 0.5, 2].map(Math.tanh));
    expectValues(
      new Sigmoid().forward(x),
      [-2, -0.5, 0, 0.5, 2].map((v) => 1 / (1 + Math.exp(-v))),
    );
    expectValues(new ReLU().forward(x), [0, 0, 0, 0.5, 2]);
    expectValues(new HardTanh().forward(x), [-1, -0.5, 0, 0.5, 1]);
    expectValues(new HardTanh(-0.25, 1.5).forward(x), [-0.25, -0.25, 0, 0.5, 1.5]);
    expect(new Identity().forward(x)).toBe(x);
    expect(() => new HardTanh(1, -1)).toThrow(ValueError);
    expect(() => new Tanh().forward([1] as never)).toThrow(/must be a Tensor/);
  });

  it("HardTanh passes the gradient inside [min, max] only", () => {
    const x = tensor([-2, -0.5, 0.5, 2], { requiresGrad: true });
    new HardTanh().forward(x).sum().backward();
    expectValues(x.grad!, [0, 1, 1, 0]);
  });
});
