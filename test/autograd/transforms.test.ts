import { describe, expect, it } from "vitest";
import {
  DTypeError,
  GraphError,
  Random,
  ShapeError,
  Tensor,
  ValueError,
  add,
  eye,
  gradcheck,
  grad,
  hessian,
  jacobian,
  jvp,
  logSumExp,
  matmul,
  mul,
  noGrad,
  relu,
  sigmoid,
  softmax,
  sum,
  tanh,
  tensor,
  valueAndGrad,
  vjp,
} from "../../src/index.js";
import { expectClose, f64, randomTensor } from "./helpers.js";

const random = () => new Random(7);

/** diag(values) as nested arrays. */
function diag(values: readonly number[]): number[][] {
  return values.map((v, i) => values.map((_, j) => (i === j ? v : 0)));
}

/** diag(p) − ppᵀ */
function softmaxJacobian(p: readonly number[]): number[][] {
  return p.map((pi, i) => p.map((pj, j) => (i === j ? pi : 0) - pi * pj));
}

function softmaxOf(values: readonly number[]): number[] {
  const m = Math.max(...values);
  const e = values.map((v) => Math.exp(v - m));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

describe("grad and valueAndGrad", () => {
  it("differentiates a scalar function with respect to the first argument by default", () => {
    // f(x) = Σ xᵢ³: ∂f/∂xᵢ = 3xᵢ²
    const f = (x: Tensor) => sum(mul(mul(x, x), x));
    expectClose(grad(f)([1, -2, 0.5]), [3, 12, 0.75]);
  });

  it("takes argnums as a number or a list", () => {
    // f(x, y) = Σ x·y²: ∂f/∂x = y², ∂f/∂y = 2xy
    const f = (x: Tensor, y: Tensor) => sum(mul(x, mul(y, y)));
    const x = f64([1, 2]);
    const y = f64([3, -1]);
    expectClose(grad(f, { argnums: 1 })(x, y), [6, -4]);
    const [gx, gy] = grad(f, { argnums: [0, 1] })(x, y);
    expectClose(gx!, [9, 1]);
    expectClose(gy!, [6, -4]);
    const [gy2, gx2] = grad(f, { argnums: [1, 0] })(x, y);
    expectClose(gy2!, [6, -4]);
    expectClose(gx2!, [9, 1]);
  });

  it("valueAndGrad returns f's value with the gradient", () => {
    // f(x) = Σ tanh(x) at x = [0, 1]: value tanh(1); gradient 1 − tanh²(x) = [1, 1 − tanh²(1)]
    const [value, g] = valueAndGrad((x: Tensor) => sum(tanh(x)))([0, 1]);
    expectClose(value, Math.tanh(1));
    expectClose(g, [1, 1 - Math.tanh(1) ** 2]);
    expect(value.requiresGrad).toBe(false);
    const [v2, grads] = valueAndGrad((x: Tensor, y: Tensor) => sum(mul(x, y)), { argnums: [0, 1] })([2], [5]);
    expectClose(v2, 10);
    expectClose(grads[0]!, [5]);
    expectClose(grads[1]!, [2]);
  });

  it("converts plain numbers and arrays to float64 and keeps a tensor's dtype", () => {
    const g64 = grad((x: Tensor) => sum(mul(x, x)))([[1, 2]]);
    expect(g64.dtype).toBe("float64");
    expect(g64.shape).toEqual([1, 2]);
    const g32 = grad((x: Tensor) => sum(mul(x, x)))(tensor([1, 2]));
    expect(g32.dtype).toBe("float32");
    expectClose(g32, [2, 4]);
    // a 0-d argument: d(x²)/dx = 2x
    expectClose(grad((x: Tensor) => mul(x, x))(3), 6);
  });

  it("gives zeros for an argument the output does not depend on", () => {
    const g = grad((_x: Tensor, y: Tensor) => sum(y), { argnums: 0 })([1, 2], [3]);
    expectClose(g, [0, 0]);
  });

  it("agrees with gradcheck's finite differences", () => {
    // The window network s = uᵀ tanh(Wx + b), differentiated with respect to each parameter.
    const r = random();
    const W = randomTensor(r, [3, 4]);
    const b = randomTensor(r, [3]);
    const u = randomTensor(r, [3]);
    const x = randomTensor(r, [4]);
    const s = (W: Tensor, b: Tensor, u: Tensor, x: Tensor) => matmul(u, tanh(add(matmul(W, x), b)));
    const grads = grad(s, { argnums: [0, 1, 2, 3] })(W, b, u, x);
    const inputs = [W, b, u, x].map((t) => f64(t.toArray(), true));
    gradcheck(s, inputs);
    // gradcheck ran backprop; now compare the transform with finite differences directly.
    const eps = 1e-6;
    [W, b, u, x].forEach((t, k) => {
      for (let j = 0; j < t.size; j++) {
        const saved = t.data[j]!;
        t.data[j] = saved + eps;
        const plus = noGrad(() => s(W, b, u, x)).item();
        t.data[j] = saved - eps;
        const minus = noGrad(() => s(W, b, u, x)).item();
        t.data[j] = saved;
        expect(Math.abs(grads[k]!.data[j]! - (plus - minus) / (2 * eps))).toBeLessThan(1e-7);
      }
    });
  });

  it("nests: grad(grad(tanh)) is −2 tanh(x)(1 − tanh²(x))", () => {
    // d/dx tanh = 1 − tanh²; d/dx (1 − tanh²) = −2 tanh · (1 − tanh²)
    const second = grad(grad((x: Tensor) => tanh(x)));
    for (const x of [-2, -0.3, 0, 0.7, 1.5]) {
      const t = Math.tanh(x);
      expectClose(second(x), -2 * t * (1 - t * t));
    }
  });

  it("nests three deep: d³/dx³ x⁴ = 24x", () => {
    const third = grad(grad(grad((x: Tensor) => mul(mul(x, x), mul(x, x)))));
    expectClose(third(2), 48);
    expectClose(third(-0.5), -12);
  });

  it("nests with a closed-over variable: d/dx [x · d/dy (x + y)] = 1 (no confusion between levels)", () => {
    // The inner derivative d/dy (x + y) = 1, so the outer function is x · 1 and its derivative 1. A
    // transform that mixed up the two levels would also count the inner x and answer 2.
    const outer = grad((x: Tensor) => mul(x, grad((y: Tensor) => add(x, y))(f64(1))));
    expectClose(outer(3), 1);
  });
});

describe("the lecture's useful Jacobians", () => {
  for (const mode of ["rev", "fwd"] as const) {
    describe(`mode ${mode}`, () => {
      it("an elementwise activation has the Jacobian diag(f'(z))", () => {
        const z = [-1.5, -0.2, 0.4, 2];
        // tanh' = 1 − tanh², σ' = σ(1 − σ), relu' = 1(z > 0)
        const t = z.map(Math.tanh);
        expectClose(jacobian(tanh, { mode })(z), diag(t.map((v) => 1 - v * v)));
        const s = z.map((v) => 1 / (1 + Math.exp(-v)));
        expectClose(jacobian(sigmoid, { mode })(z), diag(s.map((v) => v * (1 - v))));
        expectClose(jacobian(relu, { mode })(z), diag([0, 0, 1, 1]));
      });

      it("∂(Wx + b)/∂x = W and ∂(Wx + b)/∂b = I", () => {
        const W = f64([
          [1, 2, 3],
          [4, 5, 6],
        ]);
        const x = f64([0.5, -1, 2]);
        const b = f64([0.1, 0.2]);
        const affine = (W: Tensor, x: Tensor, b: Tensor) => add(matmul(W, x), b);
        const [dx, db] = jacobian(affine, { mode, argnums: [1, 2] })(W, x, b);
        expectClose(dx!, W);
        expectClose(db!, eye(2, 2, { dtype: "float64" }));
        // and with respect to W: ∂zᵢ/∂W_jk = δᵢⱼ x_k, shaped [2, 2, 3]
        const dW = jacobian(affine, { mode, argnums: 0 })(W, x, b);
        expect(dW.shape).toEqual([2, 2, 3]);
        expectClose(dW, [
          [
            [0.5, -1, 2],
            [0, 0, 0],
          ],
          [
            [0, 0, 0],
            [0.5, -1, 2],
          ],
        ]);
      });

      it("∂(uᵀh)/∂u = hᵀ (and ∂(uᵀh)/∂h = uᵀ)", () => {
        const u = f64([1, -2, 3]);
        const h = f64([0.5, 0.25, -1]);
        const [du, dh] = jacobian((u: Tensor, h: Tensor) => matmul(u, h), { mode, argnums: [0, 1] })(u, h);
        expectClose(du!, h);
        expectClose(dh!, u);
      });

      it("the Jacobian of softmax is diag(p) − ppᵀ", () => {
        const x = [0.3, -1.2, 2, 0.5];
        expectClose(jacobian((x: Tensor) => softmax(x), { mode })(x), softmaxJacobian(softmaxOf(x)));
      });

      it("is shaped [...outputShape, ...inputShape]", () => {
        // f(X) = X² elementwise on a [2, 3] matrix: ∂f_ij/∂X_kl = 2X_ij δ_ik δ_jl
        const X = f64([
          [1, 2, 3],
          [4, 5, 6],
        ]);
        const J = jacobian((x: Tensor) => mul(x, x), { mode })(X);
        expect(J.shape).toEqual([2, 3, 2, 3]);
        for (let i = 0; i < 2; i++)
          for (let j = 0; j < 3; j++)
            for (let k = 0; k < 2; k++)
              for (let l = 0; l < 3; l++) {
                const expected = i === k && j === l ? 2 * X.data[i * 3 + j]! : 0;
                expect(J.data[((i * 3 + j) * 2 + k) * 3 + l]).toBe(expected);
              }
        // a scalar output gives the input's shape; a scalar input gives the output's shape
        expect(jacobian((x: Tensor) => sum(x), { mode })(X).shape).toEqual([2, 3]);
        expect(jacobian((t: Tensor) => mul(X, t), { mode })(2).shape).toEqual([2, 3]);
      });
    });
  }

  it("forward and reverse Jacobians agree on random networks", () => {
    const r = new Random(11);
    for (let trial = 0; trial < 8; trial++) {
      const inputs = 1 + r.int(5);
      const hidden = 1 + r.int(6);
      const outputs = 1 + r.int(4);
      const W1 = randomTensor(r, [hidden, inputs]);
      const b1 = randomTensor(r, [hidden]);
      const W2 = randomTensor(r, [outputs, hidden]);
      const activation = [tanh, sigmoid, relu][trial % 3]!;
      const net = (x: Tensor, W: Tensor) => softmax(matmul(W2, activation(add(matmul(W, x), b1))));
      const x = randomTensor(r, [inputs]);
      const [revX, revW] = jacobian(net, { mode: "rev", argnums: [0, 1] })(x, W1);
      const [fwdX, fwdW] = jacobian(net, { mode: "fwd", argnums: [0, 1] })(x, W1);
      expect(revX!.shape).toEqual([outputs, inputs]);
      expect(revW!.shape).toEqual([outputs, hidden, inputs]);
      expectClose(fwdX!, revX!, 1e-12);
      expectClose(fwdW!, revW!, 1e-12);
    }
  });
});

describe("hessian", () => {
  it("of xᵀAx is A + Aᵀ", () => {
    const A = f64([
      [1, 2, 0],
      [-1, 3, 4],
      [0.5, 0, 2],
    ]);
    const H = hessian((x: Tensor) => matmul(x, matmul(A, x)))([0.3, -1, 2]);
    expectClose(H, [
      [2, 1, 0.5],
      [1, 6, 4],
      [0.5, 4, 4],
    ]);
  });

  it("of logSumExp is diag(p) − ppᵀ with p = softmax(x)", () => {
    const x = [1, -0.5, 2, 0];
    expectClose(hessian((x: Tensor) => logSumExp(x))(x), softmaxJacobian(softmaxOf(x)));
  });

  it("of tanh at a point is −2 tanh(x)(1 − tanh²(x))", () => {
    const t = Math.tanh(0.8);
    expectClose(hessian((x: Tensor) => tanh(x))(0.8), -2 * t * (1 - t * t));
  });

  it("is shaped [...inputShape, ...inputShape] and equals jacobian(grad(f)) in both modes", () => {
    const r = random();
    const X = randomTensor(r, [2, 2]);
    const f = (x: Tensor) => logSumExp(mul(tanh(x), x));
    const H = hessian(f)(X);
    expect(H.shape).toEqual([2, 2, 2, 2]);
    expectClose(jacobian(grad(f))(X), H, 1e-12);
    expectClose(jacobian(grad(f), { mode: "fwd" })(X), H, 1e-12);
    // symmetric: H[i, j, k, l] = H[k, l, i, j]
    for (let a = 0; a < 4; a++)
      for (let b = 0; b < 4; b++) expect(H.data[a * 4 + b]).toBeCloseTo(H.data[b * 4 + a]!, 12);
  });
});

describe("vjp and jvp", () => {
  it("vjp returns the output and a pullback that can be called repeatedly", () => {
    // f(x) = x² elementwise: vjp(w) = 2x ∘ w
    const [out, pullback] = vjp((x: Tensor) => mul(x, x), [1, 2, 3]);
    expectClose(out, [1, 4, 9]);
    expectClose(pullback([1, 0, 0])[0]!, [2, 0, 0]);
    expectClose(pullback([1, 1, 1])[0]!, [2, 4, 6]);
    // two primals: f(a, b) = a·b: vjp(w) = [w·b, w·a]
    const [, pb2] = vjp((a: Tensor, b: Tensor) => mul(a, b), [2], [5]);
    const [ga, gb] = pb2([3]);
    expectClose(ga!, [15]);
    expectClose(gb!, [6]);
  });

  it("jvp returns the output and the directional derivative", () => {
    // f(x) = sin-free polynomial x³: J v = 3x² ∘ v
    const [out, tangent] = jvp((x: Tensor) => mul(mul(x, x), x), [[1, 2]], [[1, -1]]);
    expectClose(out, [1, 8]);
    expectClose(tangent, [3, -12]);
  });

  it("a Hessian–vector product is a jvp of grad (forward over reverse) and a grad of a jvp (reverse over forward)", () => {
    // f(x) = xᵀAx: H = A + Aᵀ, so Hv = (A + Aᵀ)v
    const A = f64([
      [2, 1],
      [0, 3],
    ]);
    const f = (x: Tensor) => matmul(x, matmul(A, x));
    const x = f64([1, -1]);
    const v = f64([0.5, 2]);
    // (A + Aᵀ) = [[4, 1], [1, 6]]; Hv = [4·0.5 + 1·2, 1·0.5 + 6·2] = [4, 12.5]
    expectClose(jvp(grad(f), [x], [v])[1], [4, 12.5]);
    expectClose(grad((x: Tensor) => jvp(f, [x], [v])[1])(x), [4, 12.5]);
    expectClose(vjp(grad(f), x)[1](v)[0]!, [4, 12.5]);
  });
});

describe("transforms and gradcheck", () => {
  // Each transform's output, differentiated again by backprop, agrees with finite differences: this
  // checks that transforms record their results for an enclosing backward (createGraph) correctly.
  const r = random();
  const x = randomTensor(r, [3]);
  const v = randomTensor(r, [3]);
  const f = (x: Tensor) => sum(mul(tanh(x), sigmoid(mul(x, 2))));

  it("grad", () => {
    gradcheck((x: Tensor) => grad(f)(x), [f64(x.toArray(), true)]);
  });
  it("valueAndGrad", () => {
    gradcheck((x: Tensor) => add(valueAndGrad(f)(x)[1], valueAndGrad(f)(x)[0]), [f64(x.toArray(), true)]);
  });
  it("vjp", () => {
    gradcheck(
      (x: Tensor, w: Tensor) => vjp((y: Tensor) => tanh(mul(y, y)), x)[1](w)[0]!,
      [f64(x.toArray(), true), f64(v.toArray(), true)],
    );
  });
  it("jvp (with respect to the primal and the tangent)", () => {
    gradcheck(
      (x: Tensor, t: Tensor) => jvp((y: Tensor) => softmax(mul(y, y)), [x], [t])[1],
      [f64(x.toArray(), true), f64(v.toArray(), true)],
    );
  });
  it("jacobian, both modes", () => {
    gradcheck((x: Tensor) => jacobian((y: Tensor) => softmax(y))(x), [f64(x.toArray(), true)]);
    gradcheck(
      (x: Tensor) => jacobian((y: Tensor) => softmax(y), { mode: "fwd" })(x),
      [f64(x.toArray(), true)],
    );
  });
  it("hessian (third derivatives)", () => {
    gradcheck((x: Tensor) => hessian(f)(x), [f64(x.toArray(), true)]);
  });
});

describe("transforms leave no state behind", () => {
  it("never change .grad, requiresGrad or the caller's graph", () => {
    const W = f64(
      [
        [1, 2],
        [3, 4],
      ],
      true,
    );
    const x = f64([0.5, -0.5], true);
    const h = tanh(matmul(W, x)); // a caller's graph, not yet backpropagated
    x.grad = f64([10, 20]);
    const before = Array.from(x.grad.data);

    const f = (y: Tensor) => sum(mul(h, y));
    const g = grad(f)(x);
    jacobian(f)(x);
    jacobian(f, { mode: "fwd" })(x);
    hessian((y: Tensor) => sum(mul(tanh(y), h)))(x);
    jvp(f, [x], [[1, 1]]);
    vjp(f, x)[1](1);
    grad((y: Tensor) => sum(tanh(y)))(h); // with a non-leaf argument

    expectClose(g, h);
    expect(Array.from(x.grad.data)).toEqual(before);
    expect(W.grad).toBeNull();
    expect(x.requiresGrad).toBe(true);
    // The caller's graph is intact: backward through it still works and gives the usual values.
    x.grad = null;
    sum(h).backward();
    // ∂Σ tanh(Wx)/∂x = Wᵀ(1 − h²)
    const d = Array.from(h.data).map((v) => 1 - v * v);
    expectClose(x.grad!, [1 * d[0]! + 3 * d[1]!, 2 * d[0]! + 4 * d[1]!]);
  });

  it("return plain tensors when nothing outside requires grad", () => {
    const f = (x: Tensor) => sum(mul(x, x));
    expect(grad(f)([1, 2]).requiresGrad).toBe(false);
    expect(valueAndGrad(f)([1, 2])[0].requiresGrad).toBe(false);
    expect(jacobian(grad(f))([1, 2]).requiresGrad).toBe(false);
    expect(jvp(f, [[1, 2]], [[1, 1]])[1].requiresGrad).toBe(false);
  });

  it("record their results when a closed-over tensor requires grad (a gradient penalty)", () => {
    // penalty(W) = ‖∂/∂x Σ tanh(Wx)‖² = ‖Wᵀ(1 − tanh²(Wx))‖²; its gradient with respect to W by backprop
    // through the transform is checked against finite differences.
    const r = random();
    const W0 = randomTensor(r, [2, 3]);
    const x0 = randomTensor(r, [3]);
    const penalty = (W: Tensor) => {
      const g = grad((x: Tensor) => sum(tanh(matmul(W, x))))(x0);
      return sum(mul(g, g));
    };
    gradcheck(penalty, [f64(W0.toArray(), true)]);
    const W = f64(W0.toArray(), true);
    penalty(W).backward();
    expect(W.grad).not.toBeNull();
  });

  it("work inside noGrad", () => {
    const g = noGrad(() => grad((x: Tensor) => sum(mul(x, x)))(f64([1, 3], true)));
    expectClose(g, [2, 6]);
    expect(g.requiresGrad).toBe(false);
  });

  it("differentiate the same tensor passed twice as two separate arguments", () => {
    // f(a, b) = a·b² at a = b = 2: ∂f/∂a = b² = 4, ∂f/∂b = 2ab = 8
    const t = f64(2);
    const [ga, gb] = grad((a: Tensor, b: Tensor) => mul(a, mul(b, b)), { argnums: [0, 1] })(t, t);
    expectClose(ga!, 4);
    expectClose(gb!, 8);
  });
});

describe("transform errors", () => {
  it("grad of a non-scalar function", () => {
    const g = grad((x: Tensor) => mul(x, 2));
    expect(() => g([1, 2])).toThrow(GraphError);
    expect(() => g([1, 2])).toThrow(/grad: the function must return a scalar .* shape \[2\]/);
    expect(() => valueAndGrad((x: Tensor) => mul(x, 2))([1, 2])).toThrow(/valueAndGrad/);
  });

  it("argnums out of range, repeated or malformed", () => {
    const f = (x: Tensor, y: Tensor) => sum(mul(x, y));
    expect(() => grad(f, { argnums: 2 })([1], [2])).toThrow(ValueError);
    expect(() => grad(f, { argnums: 2 })([1], [2])).toThrow(/argnums 2 is out of range .* 2 arguments/);
    expect(() => grad(f, { argnums: -1 })([1], [2])).toThrow(/out of range/);
    expect(() => grad(f, { argnums: [0, 0] })([1], [2])).toThrow(/repeats 0/);
    expect(() => grad(f, { argnums: [] })([1], [2])).toThrow(/non-empty list/);
    expect(() => grad(f, { argnums: 1.5 })([1], [2])).toThrow(/out of range/);
    expect(() => grad((x: Tensor) => sum(x))()).toThrow(
      /out of range for a function called with 0 arguments/,
    );
    expect(() => jacobian(f, { argnums: 3 })([1], [2])).toThrow(/jacobian: argnums 3/);
  });

  it("hessian of a function of several tensors", () => {
    expect(() => hessian(((x: Tensor, y: Tensor) => sum(mul(x, y))) as (x: Tensor) => Tensor)).toThrow(
      ValueError,
    );
    expect(() => hessian(((x: Tensor, y: Tensor) => sum(mul(x, y))) as (x: Tensor) => Tensor)).toThrow(
      /hessian: f declares 2 parameters/,
    );
    const h = hessian((...xs: Tensor[]) => sum(mul(xs[0]!, xs[1]!))) as unknown as (
      ...a: number[][]
    ) => Tensor;
    expect(() => h([1], [2])).toThrow(/hessian: called with 2 arguments/);
    expect(() => hessian((x: Tensor) => mul(x, 2))([1, 2])).toThrow(/must return a scalar/);
  });

  it("bad arguments and results", () => {
    expect(() => grad((x: Tensor) => sum(x))(tensor([1, 2], { dtype: "int32" }))).toThrow(DTypeError);
    expect(() => grad((x: Tensor) => sum(x))(tensor([1, 2], { dtype: "int32" }))).toThrow(
      /argument 0 is int32/,
    );
    expect(() => grad((() => 3) as unknown as (x: Tensor) => Tensor)([1])).toThrow(
      /must return a Tensor, got number/,
    );
    expect(() => grad(42 as unknown as (x: Tensor) => Tensor)).toThrow(/expected a function/);
    expect(() => grad((x: Tensor) => sum(x))(null as unknown as number)).toThrow(/argument 0 is null/);
    expect(() => jacobian((x: Tensor) => x, { mode: "sideways" as "rev" })).toThrow(
      /mode must be "rev" or "fwd"/,
    );
  });

  it("vjp with a cotangent of the wrong shape or dtype", () => {
    const [, pullback] = vjp((x: Tensor) => mul(x, 2), [1, 2, 3]);
    expect(() => pullback([1, 2])).toThrow(ShapeError);
    expect(() => pullback([1, 2])).toThrow(/cotangent has shape \[2\] but the output has shape \[3\]/);
    expect(() => pullback(tensor([1, 2, 3]))).toThrow(/cotangent is float32 but the output is float64/);
  });
});

describe("transform results", () => {
  it("have their own storage even where the engine shares a gradient between inputs", () => {
    // f(a, b) = a + b: both gradients are 1, and + hands one tensor to both inputs
    const [ga, gb] = grad((a: Tensor, b: Tensor) => add(a, b), { argnums: [0, 1] })(1, 2);
    expect(ga).not.toBe(gb);
    ga!.data[0] = 100;
    expect(gb!.item()).toBe(1);
    const [va, vb] = vjp((a: Tensor, b: Tensor) => add(a, b), 1, 2)[1](1);
    expect(va).not.toBe(vb);
  });
});
