import { describe, expect, it } from "vitest";
import { gradients, mul, sum, tanh } from "../../src/index.js";
import { expectClose, f64 } from "./helpers.js";

describe("gradients() with respect to an intermediate tensor", () => {
  it("stops at the requested tensors: the graph below is neither run, freed nor hooked", () => {
    const x = f64([0.5, -1], true);
    const h = tanh(x);
    let hookCalls = 0;
    x.registerHook(() => {
      hookCalls++;
    });
    // L = Σ 3h²: ∂L/∂h = 6h
    const [gh] = gradients([sum(mul(mul(h, h), 3))], [h]);
    expectClose(
      gh!,
      Array.from(h.data).map((v) => 6 * v),
    );
    expect(hookCalls).toBe(0);
    expect(x.grad).toBeNull();
    // The tanh below h was not freed: backward through it still works. ∂Σh/∂x = 1 − h²
    sum(h).backward();
    expectClose(
      x.grad!,
      Array.from(h.data).map((v) => 1 - v * v),
    );
    expect(hookCalls).toBe(1);
  });

  it("still follows paths that reach one requested tensor through another", () => {
    // L = Σ h·x with h = 2x: ∂L/∂h = x (holding x fixed); ∂L/∂x = h + 2x = 4x (all paths)
    const x = f64([1, 2], true);
    const h = mul(x, 2);
    const [gh, gx] = gradients([sum(mul(h, x))], [h, x]);
    expectClose(gh!, [1, 2]);
    expectClose(gx!, [4, 8]);
  });

  it("leaves no gradient waiting on the nodes it skipped", () => {
    const x = f64(2, true);
    const y = mul(x, 3);
    const z = mul(y, y);
    gradients([z], [y], { retainGraph: true });
    // A later full backward sees only its own gradient: ∂(9x²)/∂x = 18x = 36
    z.backward();
    expectClose(x.grad!, 36);
  });
});

describe("gradients() on top of a freed graph", () => {
  it("works when the requested tensor's own graph was freed, since it is not needed", () => {
    const x = f64(0.5, true);
    const h = tanh(x);
    sum(h).backward(); // frees the tanh
    // ∂(h²)/∂h = 2h
    const [gh] = gradients([mul(h, h)], [h]);
    expectClose(gh!, 2 * Math.tanh(0.5));
    // but going through the freed tanh is still an error
    expect(() => gradients([mul(h, h)], [x])).toThrow(/already been freed/);
  });
});
