import { describe, expect, it } from "vitest";
import {
  crossEntropy,
  grad,
  gradcheck,
  hessian,
  jacobian,
  matmul,
  maximum,
  nn,
  randn,
  seed,
  tanh,
  tensor,
  type Tensor,
} from "../src/index.js";

// The README's tour, run as written (so that it stays true).
describe("the README's tour", () => {
  it("the lecture's example", () => {
    const x = tensor(1, { requiresGrad: true });
    const y = tensor(2, { requiresGrad: true });
    const z = tensor(0, { requiresGrad: true });
    const f = x.add(y).mul(maximum(y, z));
    f.backward();
    expect([f.item(), x.grad!.item(), y.grad!.item(), z.grad!.item()]).toEqual([6, 2, 5, 0]);
  });

  it("tensors, gradients and checks", () => {
    seed(0);
    const W = randn([4, 5], { dtype: "float64", requiresGrad: true });
    const x = randn([5], { dtype: "float64" });
    const b = randn([4], { dtype: "float64", requiresGrad: true });
    const u = randn([4], { dtype: "float64", requiresGrad: true });
    const s = matmul(u, tanh(matmul(W, x).add(b)));
    s.backward();
    // δ = u ∘ (1 − tanh²(z)), ∂s/∂W = δ xᵀ, ∂s/∂b = δ
    const z = matmul(W, x).add(b);
    const delta = u.mul(tanh(z).square().neg().add(1));
    expect(b.grad!.sub(delta).abs().max().item()).toBeLessThan(1e-12);
    const outer = matmul(delta.reshape([4, 1]), x.reshape([1, 5]));
    expect(W.grad!.sub(outer).abs().max().item()).toBeLessThan(1e-12);
    expect(W.grad!.shape).toEqual([4, 5]);

    expect(gradcheck((W, b, u) => matmul(u!, tanh(matmul(W!, x).add(b!))), [W, b, u]).passed).toBe(true);

    const f = (v: Tensor) => v.mul(v).sum();
    expect((grad(f)(x) as Tensor).sub(x.mul(2)).abs().max().item()).toBe(0);
    const J = jacobian((v: Tensor) => tanh(v))(x) as Tensor;
    expect(J.shape).toEqual([5, 5]);
    expect(J.data[1]).toBe(0);
    expect(J.data[0]).toBeCloseTo(1 - Math.tanh(x.data[0]!) ** 2, 12);
    const H = hessian(f)(x) as Tensor;
    expect(H.toArray()).toEqual([0, 1, 2, 3, 4].map((i) => [0, 1, 2, 3, 4].map((j) => (i === j ? 2 : 0))));
  });

  it("training a small network", () => {
    seed(0);
    const inputs = tensor([
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]);
    const targets = [0, 1, 1, 0];
    const model = new nn.Sequential(new nn.Linear(2, 16), new nn.Tanh(), new nn.Linear(16, 2));
    const optimizer = new nn.SGD(model, { lr: 0.1 });
    let first = 0;
    let last = 0;
    for (let step = 0; step < 500; step++) {
      const loss = crossEntropy(model.forward(inputs), targets);
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
      if (step === 0) first = loss.item();
      last = loss.item();
    }
    expect(last).toBeLessThan(first / 4);
  });
});
