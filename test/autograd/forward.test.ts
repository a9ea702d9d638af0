import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DTypeError,
  Random,
  ShapeError,
  Tensor,
  ValueError,
  add,
  exp,
  grad,
  hessian,
  jacobian,
  jvp,
  matmul,
  mul,
  noGrad,
  sin,
  softmax,
  sum,
  tanh,
  tensor,
} from "../../src/index.js";
import { autogradState } from "../../src/autograd/mode.js";
import { tangentOf } from "../../src/autograd/forward.js";
import { expectClose, f64, randomTensor } from "./helpers.js";

describe("jvp (forward mode)", () => {
  it("computes the directional derivative by hand", () => {
    // f(x, y) = x·y + sin(x): J·(u, v) = (y + cos x)·u + x·v
    const f = (x: Tensor, y: Tensor) => add(mul(x, y), sin(x));
    const [out, tangent] = jvp(f, [f64([0, 1]), f64([2, 3])], [f64([1, 0]), f64([0, 1])]);
    expectClose(out, [0, 3 + Math.sin(1)]);
    // element 0: (2 + cos 0)·1 + 0·0 = 3; element 1: (3 + cos 1)·0 + 1·1 = 1
    expectClose(tangent, [3, 1]);
  });

  it("accepts plain numbers and arrays, converting tangents to their primal's dtype", () => {
    const [out, tangent] = jvp((x: Tensor) => mul(x, x), [3], [1]);
    expect(out.dtype).toBe("float64");
    expectClose(tangent, 6);
    const [, t32] = jvp((x: Tensor) => mul(x, x), [tensor([1, 2])], [[1, 1]]);
    expect(t32.dtype).toBe("float32");
    expectClose(t32, [2, 4]);
  });

  it("gives a zero tangent for an output that does not depend on the primals", () => {
    const c = f64([1, 2]);
    const [out, tangent] = jvp(() => mul(c, 2), [f64(1)], [f64(1)]);
    expectClose(out, [2, 4]);
    expectClose(tangent, [0, 0]);
  });

  it("does not leave tangents on the caller's tensors or the outputs it returns", () => {
    const x = f64([1, 2]);
    const v = f64([1, 1]);
    const [out, tangent] = jvp((y: Tensor) => exp(y), [x], [v]);
    expect(x._tangents).toBeNull();
    expect(v._tangents).toBeNull();
    expect(out._tangents).toBeNull();
    expect(tangent._tangents).toBeNull();
    expect(autogradState.forwardDepth).toBe(0);
  });

  it("closes its level when the function throws", () => {
    expect(() =>
      jvp(
        () => {
          throw new Error("boom");
        },
        [f64(1)],
        [f64(1)],
      ),
    ).toThrow("boom");
    expect(autogradState.forwardDepth).toBe(0);
  });

  it("ignores tangents left on a tensor by an earlier jvp", () => {
    // An intermediate kept from one jvp must not bring its (stale) tangent into the next one.
    let kept: Tensor | null = null;
    jvp(
      (x: Tensor) => {
        kept = mul(x, 10);
        return add(kept, 1);
      },
      [f64(1)],
      [f64(1)],
    );
    expect(kept!._tangents).not.toBeNull();
    // g(y) = y · kept: the tangent is kept · 1 = 10, not 10 + y · (stale tangent 10)
    const [, tangent] = jvp((y: Tensor) => mul(y, kept!), [f64(2)], [f64(1)]);
    expectClose(tangent, 10);
  });

  it("propagates tangents inside noGrad (forward mode does not depend on grad mode)", () => {
    const [, tangent] = noGrad(() => jvp((x: Tensor) => tanh(x), [f64(0)], [f64(2)]));
    // tanh'(0) = 1, so the tangent is 2
    expectClose(tangent, 2);
  });

  it("nests: a jvp of a jvp is a second directional derivative", () => {
    // d²/dt² sin(x + t) = −sin(x)
    const first = (x: Tensor) => jvp(sin, [x], [f64(1)])[1];
    for (const x of [0.3, 1, -2]) expectClose(jvp(first, [f64(x)], [f64(1)])[1], -Math.sin(x));
  });

  it("nests without perturbation confusion: d/dx [x · d/dy (x + y)] = 1", () => {
    // The inner derivative is 1, so the outer function is x and its derivative 1; mixing the levels up
    // would give 2.
    const inner = (x: Tensor) => jvp((y: Tensor) => add(x, y), [f64(1)], [f64(1)])[1];
    const [, outer] = jvp((x: Tensor) => mul(x, inner(x)), [f64(3)], [f64(1)]);
    expectClose(outer, 1);
  });

  it("composes with reverse mode in every order", () => {
    // f(x) = Σ exp(x)·x: ∂f/∂xᵢ = exp(xᵢ)(1 + xᵢ), ∂²f/∂xᵢ² = exp(xᵢ)(2 + xᵢ) (diagonal Hessian)
    const f = (x: Tensor) => sum(mul(exp(x), x));
    const x = f64([0, 1, -1]);
    const v = f64([1, 2, 3]);
    const hv = x.toArray() as number[];
    const expected = hv.map((xi, i) => Math.exp(xi) * (2 + xi) * (i + 1));
    expectClose(jvp(grad(f), [x], [v])[1], expected, 1e-12); // forward over reverse
    expectClose(grad((y: Tensor) => jvp(f, [y], [v])[1])(x), expected, 1e-12); // reverse over forward
    expectClose(
      jvp((y: Tensor) => jvp(f, [y], [v])[1], [x], [f64([1, 0, 0])])[1],
      Math.exp(0) * 2 * 1,
      1e-12,
    ); // forward over forward: vᵀ H e₀ = H₀₀ v₀
  });

  it("agrees with the Hessian on random quadratic-plus-tanh functions (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 1000 }), (n, seed) => {
        const r = new Random(seed);
        const A = randomTensor(r, [n, n]);
        const x = randomTensor(r, [n]);
        const v = randomTensor(r, [n]);
        const f = (y: Tensor) => add(matmul(y, matmul(A, y)), sum(tanh(y)));
        const H = hessian(f)(x);
        const hvp = jvp(grad(f), [x], [v])[1];
        const expected = noGrad(() => matmul(H, v));
        expectClose(hvp, expected, 1e-10);
      }),
      { numRuns: 30 },
    );
  });

  it("forward and reverse Jacobians agree on random two-layer networks (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 1000 }),
        (n, hidden, m, seed) => {
          const r = new Random(seed);
          const W1 = randomTensor(r, [hidden, n]);
          const W2 = randomTensor(r, [m, hidden]);
          const net = (x: Tensor) => softmax(matmul(W2, tanh(matmul(W1, x))));
          const x = randomTensor(r, [n]);
          expectClose(jacobian(net, { mode: "fwd" })(x), jacobian(net, { mode: "rev" })(x), 1e-12);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("exposes the tangent of the current level only inside the function", () => {
    let seen: Tensor | null = null;
    jvp(
      (x: Tensor) => {
        const y = mul(x, 3);
        // Read the tangent of y at the only open level: the level ids are internal, so find it on y.
        seen = y._tangents?.value ?? null;
        expect(tangentOf(y, y._tangents!.level)).toBe(seen);
        return y;
      },
      [f64(1)],
      [f64(2)],
    );
    expectClose(seen!, 6);
  });
});

describe("jvp errors", () => {
  it("needs one tangent per primal, of the primal's shape and dtype", () => {
    const f = (x: Tensor) => mul(x, 2);
    expect(() => jvp(f, [f64([1, 2])], [])).toThrow(ValueError);
    expect(() => jvp(f, [f64([1, 2])], [])).toThrow(/1 primals but 0 tangents/);
    expect(() => jvp(f, [f64([1, 2])], [f64([1, 2, 3])])).toThrow(ShapeError);
    expect(() => jvp(f, [f64([1, 2])], [f64([1, 2, 3])])).toThrow(
      /tangent 0 has shape \[3\] but its primal has shape \[2\]/,
    );
    expect(() => jvp(f, [f64([1, 2])], [tensor([1, 2])])).toThrow(DTypeError);
    expect(() => jvp(f, [tensor([1, 2], { dtype: "int32" })], [[1, 1]])).toThrow(/primal 0 is int32/);
    expect(() => jvp(f, f64(1) as unknown as Tensor[], [])).toThrow(/must be arrays/);
    expect(() => jvp((() => "x") as unknown as (x: Tensor) => Tensor, [1], [1])).toThrow(
      /must return a Tensor/,
    );
  });
});
