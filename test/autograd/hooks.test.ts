import { describe, expect, it } from "vitest";
import {
  GradientError,
  GraphError,
  Tensor,
  add,
  gather,
  grad,
  gradients,
  mul,
  sum,
  tanh,
  tensor,
  traceBackward,
} from "../../src/index.js";
import { expectClose, f64 } from "./helpers.js";

describe("registerHook", () => {
  it("sees the gradient flowing into a leaf and may replace it", () => {
    const x = f64([1, 2], true);
    const seen: number[][] = [];
    x.registerHook((g) => {
      seen.push(Array.from(g.data));
      return mul(g, 10);
    });
    // L = Σ 3x: ∂L/∂x = [3, 3]; the hook multiplies it by 10 before it is accumulated
    sum(mul(x, 3)).backward();
    expect(seen).toEqual([[3, 3]]);
    expectClose(x.grad!, [30, 30]);
  });

  it("sees the summed fan-out gradient of an intermediate once, and its replacement flows on", () => {
    const x = f64(2, true);
    const y = mul(x, x); // y = x² = 4
    const calls: number[] = [];
    y.registerHook((g) => {
      calls.push(g.item());
      return mul(g, 0.5);
    });
    // L = y·3 + y·5: ∂L/∂y = 3 + 5 = 8 (one call with the sum); halved to 4; ∂L/∂x = 4 · 2x = 16
    add(mul(y, 3), mul(y, 5)).backward();
    expect(calls).toEqual([8]);
    expectClose(x.grad!, 16);
  });

  it("returns a handle that removes the hook", () => {
    const x = f64(1, true);
    let calls = 0;
    const handle = x.registerHook(() => {
      calls++;
    });
    mul(x, 2).backward();
    handle.remove();
    handle.remove(); // removing twice is harmless
    mul(x, 2).backward();
    expect(calls).toBe(1);
    // 2 + 2 accumulated over the two backward passes; the hook returned nothing, so nothing was replaced
    expectClose(x.grad!, 4);
  });

  it("runs several hooks in the order they were registered, each on the previous one's result", () => {
    const x = f64(1, true);
    const order: string[] = [];
    x.registerHook((g) => {
      order.push(`first ${g.item()}`);
      return add(g, 1);
    });
    x.registerHook((g) => {
      order.push(`second ${g.item()}`);
      return mul(g, 2);
    });
    mul(x, 3).backward();
    // 3 → 3 + 1 = 4 → 4·2 = 8
    expect(order).toEqual(["first 3", "second 4"]);
    expectClose(x.grad!, 8);
  });

  it("fires in functional gradients and traces, where the replacement is what flows", () => {
    const x = f64([1, -1], true);
    const h = tanh(x);
    h.registerHook((g) => mul(g, 0));
    const [gx] = gradients([sum(mul(h, 2))], [x], { retainGraph: true });
    expectClose(gx!, [0, 0]);
    const trace = traceBackward(sum(mul(h, 2)));
    const tanhStep = trace.steps.find((s) => s.op === "tanh")!;
    expect(tanhStep.upstream).toEqual([0, 0]);
    // and on intermediates created inside a transform's function
    const seen: number[] = [];
    const g = grad((y: Tensor) => {
      const z = mul(y, y);
      z.registerHook((u) => {
        seen.push(u.item());
      });
      return mul(z, 4);
    })(3);
    // ∂(4y²)/∂y = 8y = 24; the hook on z sees ∂L/∂z = 4
    expect(seen).toEqual([4]);
    expectClose(g, 24);
  });

  it("works on a leaf whose gradient is row-sparse (an embedding)", () => {
    const table = f64(
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
      true,
    );
    let seenShape: readonly number[] = [];
    table.registerHook((g) => {
      seenShape = g.shape;
      return mul(g, 2);
    });
    sum(gather(table, [2, 2], 0, { sparseGrad: true })).backward();
    // row 2 is picked twice: gradient 2 per entry of row 2, doubled by the hook to 4
    expect(seenShape).toEqual([3, 2]);
    expectClose(table.grad!, [
      [0, 0],
      [0, 0],
      [4, 4],
    ]);
  });

  it("replacements are recorded under createGraph (grad of grad through a hook)", () => {
    const x = f64(3, true);
    const y = mul(x, x);
    y.registerHook((g) => mul(g, x)); // ∂L/∂y becomes g·x
    // L = y: ∂L/∂y = 1 → x after the hook; ∂L/∂x = x · 2x = 2x² = 18
    const [gx] = gradients([y], [x], { createGraph: true });
    expectClose(gx!, 18);
    // d(2x²)/dx = 4x = 12
    const [ggx] = gradients([gx!], [x]);
    expectClose(ggx!, 12);
  });
});

describe("registerHook errors", () => {
  it("a hook that returns a gradient of the wrong shape", () => {
    const x = f64([1, 2], true);
    x.registerHook(() => f64([1]));
    expect(() => sum(x).backward()).toThrow(GradientError);
    expect(() => sum(x).backward()).toThrow(
      /registerHook: the hook returned a gradient of shape \[1\] \(float64\) for a tensor of shape \[2\] \(float64\)/,
    );
  });

  it("a hook that returns the wrong dtype or something that is not a tensor", () => {
    const x = f64(1, true);
    const handle = x.registerHook(() => tensor(1));
    expect(() => mul(x, 2).backward()).toThrow(
      /shape \[\] \(float32\) for a tensor of shape \[\] \(float64\)/,
    );
    handle.remove();
    x.registerHook(() => 5 as unknown as Tensor);
    expect(() => mul(x, 2).backward()).toThrow(/a hook must return a Tensor or nothing/);
  });

  it("a tensor that does not require grad", () => {
    expect(() => f64(1).registerHook(() => undefined)).toThrow(GraphError);
  });

  it("after a hook fails, no half-finished gradient leaks into the next backward", () => {
    const x = f64(1, true);
    const a = mul(x, 2);
    const b = mul(x, 3);
    // Backward visits b before a, so x has already received b's contribution (3) when a's hook fails.
    a.registerHook(() => f64([1, 2]));
    expect(() => add(a, b).backward()).toThrow(GradientError);
    expect(x.grad).toBeNull();
    // A fresh graph through the same leaf: ∂(5x)/∂x = 5, with nothing left over from the failed pass.
    mul(x, 5).backward();
    expectClose(x.grad!, 5);
  });
});
