import { describe, expect, it } from "vitest";
import { Tensor, gradcheck, matmul, maximum, randn, seed, sigmoid, tanh, tensor } from "../../src/index.js";

describe("the lecture's worked example", () => {
  it("f(x, y, z) = (x + y) · max(y, z) at (1, 2, 0)", () => {
    const x = tensor(1, { requiresGrad: true });
    const y = tensor(2, { requiresGrad: true });
    const z = tensor(0, { requiresGrad: true });
    // a = x + y = 3, b = max(y, z) = 2, f = a·b = 6
    const f = x.add(y).mul(maximum(y, z));
    f.backward();
    expect(f.item()).toBe(6);
    // ∂f/∂x = b = 2; ∂f/∂y = b + a = 2 + 3 = 5 (fan-out sums); ∂f/∂z = 0 (max routes to y)
    expect(x.grad!.item()).toBe(2);
    expect(y.grad!.item()).toBe(5);
    expect(z.grad!.item()).toBe(0);
  });
});

/**
 * The window network s = uᵀ f(Wx + b) with z = Wx + b, h = f(z). By hand (the lecture's chain rule):
 *   δ = ∂s/∂z = ∂s/∂h · ∂h/∂z = uᵀ diag(f'(z)) = u ∘ f'(z)
 *   ∂s/∂b = δ (∂z/∂b = I),  ∂s/∂W = δ xᵀ (outer product, n × m),  ∂s/∂u = h,  ∂s/∂x = Wᵀ δ.
 */
describe.each([
  { name: "tanh", f: tanh, derivative: (z: number) => 1 - Math.tanh(z) ** 2 },
  {
    name: "sigmoid",
    f: sigmoid,
    derivative: (z: number) => {
      const s = 1 / (1 + Math.exp(-z));
      return s * (1 - s);
    },
  },
])("the window network s = uᵀ f(Wx + b) with f = $name", ({ f, derivative }) => {
  it("backprop gives ∂s/∂b = u ∘ f'(z) and ∂s/∂W = δ xᵀ", () => {
    seed(3);
    const n = 4;
    const m = 5;
    const W = randn([n, m], { dtype: "float64", requiresGrad: true });
    const x = randn([m], { dtype: "float64", requiresGrad: true });
    const b = randn([n], { dtype: "float64", requiresGrad: true });
    const u = randn([n], { dtype: "float64", requiresGrad: true });
    const s = matmul(u, f(matmul(W, x).add(b)));
    expect(s.shape).toEqual([]);
    s.backward();

    // The same by hand, with plain numbers.
    const Wv = W.toArray() as number[][];
    const xv = Array.from(x.data);
    const bv = Array.from(b.data);
    const uv = Array.from(u.data);
    const z = Wv.map((row, i) => row.reduce((acc, w, j) => acc + w * xv[j]!, bv[i]!));
    const delta = z.map((zi, i) => uv[i]! * derivative(zi));
    const dW = delta.map((d) => xv.map((xj) => d * xj));
    const dx = xv.map((_, j) => delta.reduce((acc, d, i) => acc + Wv[i]![j]! * d, 0));
    const h = z.map((zi) => f(tensor(zi, { dtype: "float64" })).item());

    const close = (actual: Tensor, expected: number[] | number[][]) => {
      const flat = expected.flat();
      Array.from(actual.data).forEach((v, i) => expect(v).toBeCloseTo(flat[i]!, 12));
    };
    close(b.grad!, delta); // ∂s/∂b = δ = u ∘ f'(z)
    close(W.grad!, dW); // ∂s/∂W = δ xᵀ
    close(u.grad!, h); // ∂s/∂u = h
    close(x.grad!, dx); // ∂s/∂x = Wᵀ δ
    expect(W.grad!.shape).toEqual([n, m]);
  });

  it("passes gradcheck", () => {
    seed(4);
    const inputs = [[3, 6], [6], [3], [3]].map((shape) =>
      randn(shape, { dtype: "float64", requiresGrad: true }),
    );
    gradcheck((W, x, b, u) => matmul(u!, f(matmul(W!, x!).add(b!))), inputs);
  });
});

describe("the binary logistic window classifier J = σ(uᵀ f(Wx + b))", () => {
  it("passes gradcheck through sigmoid on top of tanh", () => {
    seed(5);
    const inputs = [[3, 10], [10], [3], [3]].map((shape) =>
      randn(shape, { dtype: "float64", requiresGrad: true }),
    );
    gradcheck((W, x, b, u) => sigmoid(matmul(u!, tanh(matmul(W!, x!).add(b!)))), inputs);
  });
});
