import { describe, expect, it } from "vitest";
import {
  AnomalyError,
  ChainruleError,
  Tensor,
  detectAnomaly,
  div,
  grad,
  log,
  matmul,
  mul,
  sqrt,
  sub,
  sum,
  tensor,
} from "../../src/index.js";
import { autogradState } from "../../src/autograd/mode.js";
import { f64 } from "./helpers.js";

/** The error `fn` throws (failing the test if it throws none). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an error");
}

describe("detectAnomaly", () => {
  it("returns fn's result and restores the previous mode, also after an error", () => {
    expect(detectAnomaly(() => 42)).toBe(42);
    expect(autogradState.anomaly).toBe(false);
    expect(() => detectAnomaly(() => log(f64([-1])))).toThrow(AnomalyError);
    expect(autogradState.anomaly).toBe(false);
    detectAnomaly(() => {
      detectAnomaly(() => undefined);
      expect(autogradState.anomaly).toBe(true);
    });
  });

  it("names the op, its input shapes and where it was created, when a forward output is not finite", () => {
    const x = f64([[1, -1, 2]]);
    const error = thrown(() => detectAnomaly(() => log(x)));
    expect(error).toBeInstanceOf(AnomalyError);
    expect(error).toBeInstanceOf(ChainruleError);
    // log(−1) = NaN at flat index 1
    expect(error.message).toMatch(/detectAnomaly: log produced NaN at flat index 1/);
    expect(error.message).toMatch(/inputs \[1, 3\]/);
    expect(error.message).toMatch(/anomaly\.test\.ts/); // the creating stack reaches this file
  });

  it("names both operands of a binary op (a division by zero gives Infinity)", () => {
    const a = f64([
      [1, 2],
      [3, 4],
    ]);
    const error = thrown(() => detectAnomaly(() => div(a, f64(0))));
    expect(error.message).toMatch(/div produced Infinity/);
    expect(error.message).toMatch(/inputs \[2, 2\], \[\]/);
  });

  it("blames the first op that produced the non-finite value, not the ones that carry it on", () => {
    // log(−1) makes the NaN; the matmul that follows only passes it on.
    const error = thrown(() => detectAnomaly(() => matmul(log(f64([[-1, 1]])), f64([[1], [1]]))));
    expect(error.message).toMatch(/log produced NaN/);
    // A NaN that comes from outside is not an op's fault.
    expect(() => detectAnomaly(() => mul(f64([NaN, 1]), 2))).not.toThrow();
  });

  it("names the op whose backward gradient is not finite, with its inputs and creating stack", () => {
    // √x at x = 0 is 0 (finite), but d√x/dx = 1/(2√x) = ∞ there.
    const x = f64([4, 0], true);
    const error = thrown(() =>
      detectAnomaly(() => {
        const y = sum(sqrt(x));
        y.backward();
      }),
    );
    expect(error).toBeInstanceOf(AnomalyError);
    // √0 = 0, and the rule's 1/(2·0) is where the Infinity appears
    expect(error.message).toMatch(
      /the backward of sqrt \(inputs \[2\]\) produced Infinity in a div of its rule/,
    );
    expect(error.message).toMatch(/The sqrt was created at:\n[\s\S]*anomaly\.test\.ts/);
    // Nothing was accumulated.
    expect(x.grad).toBeNull();
  });

  it("catches a non-finite gradient inside a transform", () => {
    const error = thrown(() => detectAnomaly(() => grad((x: Tensor) => sum(sqrt(x)))([0, 1])));
    expect(error.message).toMatch(/backward of sqrt/);
  });

  it("lets NaN and Infinity through silently outside detectAnomaly", () => {
    expect(log(tensor([-1])).data[0]).toBeNaN();
    const x = f64([0], true);
    sum(sqrt(x)).backward();
    expect(x.grad!.data[0]).toBe(Infinity);
  });
});

describe("detectAnomaly on a gradient that overflows", () => {
  it("blames the op whose backward overflowed, though its forward was finite", () => {
    // y = a·b = 1e30 is finite in float32, but d(a·b)/da = seed·b = 1e30·1e30 = 1e60 overflows to Infinity.
    const a = tensor([1], { requiresGrad: true });
    const b = tensor([1e30]);
    const y = mul(a, b);
    const error = thrown(() => detectAnomaly(() => y.backward(tensor([1e30]))));
    expect(error.message).toMatch(/the backward of mul \(inputs \[1\], \[1\]\) produced Infinity/);
  });
});

describe("detectAnomaly on a NaN loss whose gradients are finite", () => {
  it("names the non-finite input when backward starts from a NaN loss made from it", () => {
    // loss = Σ (x − x) with x = [Inf, 1]: Inf − Inf = NaN, yet the gradients (1 − 1 = 0) are all finite.
    const x = f64([Infinity, 1], true);
    const lossOutside = sum(sub(x, x));
    expect(lossOutside.item()).toBeNaN();
    lossOutside.backward(); // outside anomaly mode nothing is said
    expect(Array.from(x.grad!.data)).toEqual([0, 0]);
    x.grad = null;
    const error = thrown(() =>
      detectAnomaly(() => {
        const loss = sum(sub(x, x));
        loss.backward();
      }),
    );
    expect(error).toBeInstanceOf(AnomalyError);
    expect(error.message).toMatch(
      /backward was called on an output holding NaN \(flat index 0 of a \[\] tensor\)/,
    );
    expect(error.message).toMatch(
      /input 0 of sub \(inputs \[2\], \[2\]\), a leaf tensor which holds Infinity at flat index 0/,
    );
    expect(error.message).toMatch(/The sub was created at:\n[\s\S]*anomaly\.test\.ts/);
    expect(x.grad).toBeNull();
  });

  it("names a non-finite constant mixed into the graph, and a non-finite leaf differentiated directly", () => {
    const w = f64([1, 2], true);
    const data = f64([NaN, 3]);
    const error = thrown(() => detectAnomaly(() => sum(mul(w, data)).backward()));
    expect(error.message).toMatch(
      /input 1 of mul \(inputs \[2\], \[2\]\), a tensor that does not require grad which holds NaN at flat index 0/,
    );
    const leaf = f64(Infinity, true);
    expect(thrown(() => detectAnomaly(() => leaf.backward())).message).toMatch(
      /holding Infinity \(flat index 0 of a \[\] tensor\): the output is itself a leaf tensor/,
    );
  });

  it("checks the output inside transforms too, and says nothing for a finite loss", () => {
    const error = thrown(() =>
      detectAnomaly(() => grad((x: Tensor) => sum(mul(x, f64([Infinity, 0]))))([1, 1])),
    );
    expect(error.message).toMatch(/output holding Infinity/);
    const x = f64([1, 2], true);
    detectAnomaly(() => sum(mul(x, x)).backward());
    expect(Array.from(x.grad!.data)).toEqual([2, 4]);
  });
});
