import { describe, expect, it, vi } from "vitest";
import {
  ChainruleError,
  GradientError,
  GraphError,
  ShapeError,
  Tensor,
  ValueError,
  add,
  getOpTable,
  gradients,
  noGrad,
  enableGrad,
  isGradEnabled,
  ones,
  tanh,
  tensor,
  topologicalSort,
  zeroGrad,
} from "../../src/index.js";

describe("backward()", () => {
  it("seeds a scalar output with 1", () => {
    const x = tensor(3, { requiresGrad: true });
    x.mul(x).backward();
    // d(x²)/dx = 2x = 6
    expect(x.grad!.item()).toBe(6);
  });

  it("needs a seed of the output's shape for a non-scalar output", () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const y = x.mul(2);
    expect(() => y.backward()).toThrow(GraphError);
    expect(() => y.backward()).toThrow(/shape \[3\]/);
    expect(() => y.backward(tensor([1, 1]))).toThrow(ShapeError);
    y.backward(tensor([1, 0, 2]));
    // ∂(Σ seedᵢ·2xᵢ)/∂x = 2·seed
    expect(Array.from(x.grad!.data)).toEqual([2, 0, 4]);
  });

  it("accepts a nested-array seed and rejects non-finite seeds", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    x.mul(3).backward([1, 1], { retainGraph: true });
    expect(Array.from(x.grad!.data)).toEqual([3, 3]);
    expect(() => x.mul(3).backward([NaN, 1])).toThrow(ValueError);
    expect(() => x.mul(3).backward([Infinity, 1])).toThrow(/non-finite/);
  });

  it("throws when the output does not require grad", () => {
    expect(() => tensor(1).backward()).toThrow(/does not require grad/);
  });

  it("a leaf's own backward seeds its grad", () => {
    const x = tensor(2, { requiresGrad: true });
    x.backward();
    expect(x.grad!.item()).toBe(1);
  });

  it("sums gradients that fan out: x·x + x", () => {
    const x = tensor(3, { requiresGrad: true });
    const y = x.mul(x).add(x);
    y.backward();
    // d(x² + x)/dx = 2x + 1 = 7: three paths from y to x (two through mul, one through add)
    expect(x.grad!.item()).toBe(7);
  });

  it("sums broadcast gradients back to the input's shape", () => {
    const w = tensor([[1, 2, 3]], { requiresGrad: true }); // [1, 3]
    const x = tensor([[1], [2]], { requiresGrad: true }); // [2, 1]
    const y = w.mul(x); // [2, 3]
    y.sum().backward();
    // ∂Σ(wⱼxᵢ)/∂wⱼ = Σᵢ xᵢ = 3; ∂/∂xᵢ = Σⱼ wⱼ = 6
    expect(w.grad!.toArray()).toEqual([[3, 3, 3]]);
    expect(x.grad!.toArray()).toEqual([[6], [6]]);
  });

  it("accumulates into .grad across calls until reset", () => {
    const x = tensor(2, { requiresGrad: true });
    x.mul(5).backward();
    x.mul(5).backward();
    expect(x.grad!.item()).toBe(10);
    x.grad = null;
    x.mul(5).backward();
    expect(x.grad!.item()).toBe(5);
    zeroGrad([x]);
    expect(x.grad).toBeNull();
  });

  it("gives each leaf its own gradient tensor (no aliasing between leaves)", () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3, 4], { requiresGrad: true });
    add(a, b).backward(tensor([1, 1]));
    expect(a.grad).not.toBe(b.grad);
    expect(a.grad!.data).not.toBe(b.grad!.data);
  });

  it("a leaf takes a gradient computed for it alone as it is, and copies one anything else may hold", () => {
    const buffers = (t: Tensor | null) => t!._data.buffer;
    // W's gradient xᵀ·g is computed for W alone: taken without a copy.
    const x = tensor([[1, 2, 3]]);
    const w = tensor([[1], [2], [3]], { requiresGrad: true });
    const copies = vi.spyOn(Float32Array.prototype, "slice");
    x.matmul(w).sum().backward();
    expect(copies).not.toHaveBeenCalled();
    copies.mockRestore();
    expect(Array.from(w.grad!.data)).toEqual([1, 2, 3]);
    expect(buffers(w.grad)).not.toBe(x._data.buffer);
    // add hands its upstream gradient (here the caller's seed) to both inputs: each leaf gets its own copy.
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3, 4], { requiresGrad: true });
    const seed = tensor([5, 6]);
    add(a, b).backward(seed);
    const held = [buffers(seed), buffers(a.grad)];
    expect(held).not.toContain(buffers(b.grad));
    expect(buffers(a.grad)).not.toBe(buffers(seed));
    a.grad!.data[0] = 100;
    expect(Array.from(b.grad!.data)).toEqual([5, 6]);
    expect(Array.from(seed.data)).toEqual([5, 6]);
    // A reshape hands on a view of its upstream gradient: still a copy of the caller's seed.
    const c = tensor([1, 2, 3, 4], { requiresGrad: true });
    const seed2 = tensor([
      [1, 2],
      [3, 4],
    ]);
    c.reshape([2, 2]).backward(seed2);
    expect(buffers(c.grad)).not.toBe(buffers(seed2));
    // What a hook saw or returned stays the hook's.
    const d = tensor([1, 2], { requiresGrad: true });
    const seen: Tensor[] = [];
    const e = d.mul(3);
    e.registerHook((g) => {
      seen.push(g);
    });
    e.mul(tensor([2, 2]))
      .sum()
      .backward();
    expect(buffers(d.grad)).not.toBe(buffers(seen[0]!));
    expect(Array.from(d.grad!.data)).toEqual([6, 6]);
    const f = tensor([1, 2], { requiresGrad: true });
    const replacement = tensor([7, 8]);
    f.registerHook(() => replacement);
    f.mul(2).sum().backward();
    expect(Array.from(f.grad!.data)).toEqual([7, 8]);
    expect(buffers(f.grad)).not.toBe(buffers(replacement));
  });

  it("frees the graph after backward unless retainGraph", () => {
    const x = tensor(2, { requiresGrad: true });
    const y = x.mul(x);
    y.backward();
    expect(() => y.backward()).toThrow(GraphError);
    expect(() => y.backward()).toThrow(/already been freed.*retainGraph/);

    const z = tensor(2, { requiresGrad: true });
    const w = z.mul(z);
    w.backward(undefined, { retainGraph: true });
    w.backward();
    expect(z.grad!.item()).toBe(8);
  });

  it("createGraph makes gradients differentiable (grad of grad)", () => {
    const x = tensor(0.5, { requiresGrad: true, dtype: "float64" });
    const y = tanh(x);
    y.backward(undefined, { createGraph: true });
    const dy = x.grad!;
    // dy/dx = 1 − tanh²(x); it is part of a graph
    expect(dy.requiresGrad).toBe(true);
    expect(dy.item()).toBeCloseTo(1 - Math.tanh(0.5) ** 2, 12);
    x.grad = null;
    dy.backward();
    // d²/dx² tanh(x) = −2 tanh(x)(1 − tanh²(x))
    expect(x.grad!.item()).toBeCloseTo(-2 * Math.tanh(0.5) * (1 - Math.tanh(0.5) ** 2), 12);
  });

  it("noGrad records nothing; enableGrad switches recording back on", () => {
    const x = tensor(1, { requiresGrad: true });
    const y = noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      const inner = enableGrad(() => x.mul(2));
      expect(inner.requiresGrad).toBe(true);
      return x.mul(2);
    });
    expect(y.requiresGrad).toBe(false);
    expect(isGradEnabled()).toBe(true);
    expect(() =>
      noGrad(() => {
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(isGradEnabled()).toBe(true);
  });

  it("detach() stops the gradient", () => {
    const x = tensor(3, { requiresGrad: true });
    const y = x.mul(x.detach());
    y.backward();
    // only the first factor is a path: ∂(x·c)/∂x = c = 3
    expect(x.grad!.item()).toBe(3);
  });

  it("checks every gradient a rule returns against its input's shape and dtype", () => {
    const table = getOpTable();
    const original = table.neg.backward;
    try {
      table.neg.backward = () => [ones([7])];
      const x = tensor([1, 2], { requiresGrad: true });
      expect(() => x.neg().sum().backward()).toThrow(GradientError);
      expect(() => x.neg().sum().backward()).toThrow(
        /neg: a gradient of shape \[7\] does not fit its input of shape \[2\]/,
      );
      table.neg.backward = () => [ones([2], { dtype: "float64" })];
      expect(() => x.neg().sum().backward()).toThrow(
        /neg: the gradient for input 0 has dtype float64 but the input is float32/,
      );
    } finally {
      table.neg.backward = original;
    }
  });

  it("gradients() computes without touching .grad", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = tensor(3, { requiresGrad: true });
    const out = x.mul(y).sum();
    const [gx, gy] = gradients([out], [x, y]);
    // ∂Σ(xᵢ y)/∂x = y; ∂/∂y = Σ xᵢ = 3
    expect(Array.from(gx!.data)).toEqual([3, 3]);
    expect(gy!.item()).toBe(3);
    expect(x.grad).toBeNull();
    expect(y.grad).toBeNull();
    const unused = tensor(1, { requiresGrad: true });
    expect(gradients([x.sum()], [unused])[0]!.item()).toBe(0);
  });

  it("all errors are ChainruleErrors", () => {
    try {
      tensor([1, 2], { requiresGrad: true }).mul(2).backward();
    } catch (error) {
      expect(error).toBeInstanceOf(ChainruleError);
    }
  });
});

describe("graphs at scale: no recursion, no quadratic slowdown", () => {
  it("backpropagates through a chain of 10⁵ nodes", () => {
    const x = tensor(1, { requiresGrad: true, dtype: "float64" });
    let y: Tensor = x;
    for (let i = 0; i < 100_000; i++) y = y.add(1e-5);
    y.backward();
    expect(x.grad!.item()).toBe(1);
    expect(y.item()).toBeCloseTo(2, 6);
  });

  it("topologically sorts a deep chain iteratively", () => {
    const x = tensor(1, { requiresGrad: true });
    let y: Tensor = x;
    for (let i = 0; i < 200_000; i++) y = y.mul(1);
    const order = topologicalSort([y._node!]);
    expect(order.length).toBe(200_001); // 200 000 op nodes + the leaf
    expect(order[order.length - 1]).toBe(y._node);
  });

  it("handles a wide graph: one input used 10⁵ times", () => {
    const x = tensor(2, { requiresGrad: true, dtype: "float64" });
    const terms: Tensor[] = [];
    for (let i = 0; i < 100_000; i++) terms.push(x.mul(i % 3));
    let total = terms[0]!;
    for (let i = 1; i < terms.length; i++) total = total.add(terms[i]!);
    total.backward();
    // Σᵢ (i mod 3) over i < 10⁵: 33 333 ones, 33 333 twos (and 33 334 zeros) = 99 999
    expect(x.grad!.item()).toBe(99_999);
  });
});
