import { describe, expect, it } from "vitest";
import { maximum, tensor } from "../../src/index.js";

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
