import { describe, expect, it } from "vitest";
import {
  ValueError,
  binaryCrossEntropyWithLogits,
  crossEntropy,
  mseLoss,
  nn,
  tensor,
} from "../../src/index.js";
import { expectValues } from "./helpers.js";

const { CrossEntropyLoss, BinaryCrossEntropyWithLogitsLoss, MSELoss } = nn;

describe("losses", () => {
  it("the function forms are the core's fused losses", () => {
    expect(nn.crossEntropy).toBe(crossEntropy);
    expect(nn.binaryCrossEntropyWithLogits).toBe(binaryCrossEntropyWithLogits);
    expect(nn.mseLoss).toBe(mseLoss);
  });

  it("CrossEntropyLoss: mean, sum and none, class weights and an ignore index", () => {
    // Row 0: logits [0, 0] → −log ½ = log 2 whatever the target.
    // Row 1: logits [ln 3, 0], target 0 → −log(3/4) = log(4/3).
    const logits = tensor([
      [0, 0],
      [Math.log(3), 0],
    ]);
    const targets = [1, 0];
    const l2 = Math.log(2);
    const l43 = Math.log(4 / 3);
    expectValues(new CrossEntropyLoss().forward(logits, targets), [(l2 + l43) / 2]);
    expectValues(new CrossEntropyLoss({ reduction: "sum" }).forward(logits, targets), [l2 + l43]);
    expectValues(new CrossEntropyLoss({ reduction: "none" }).forward(logits, targets), [l2, l43]);
    // Weights w = [3, 1]: row 0 (target 1) weighs 1, row 1 (target 0) weighs 3; mean divides by Σw = 4.
    expectValues(new CrossEntropyLoss({ weight: [3, 1] }).forward(logits, targets), [(l2 + 3 * l43) / 4]);
    // Ignoring class 1 leaves row 1 alone.
    expectValues(new CrossEntropyLoss({ ignoreIndex: 1 }).forward(logits, targets), [l43]);
    // The module gives the same value and gradient as the function.
    const x = tensor([[0.3, -1.2, 2]], { requiresGrad: true });
    const y = tensor([[0.3, -1.2, 2]], { requiresGrad: true });
    new CrossEntropyLoss().forward(x, [2]).backward();
    crossEntropy(y, [2]).backward();
    expect(Array.from(x.grad!.data)).toEqual(Array.from(y.grad!.data));
  });

  it("BinaryCrossEntropyWithLogitsLoss: the log loss of J = σ(s)", () => {
    // s = 0 → σ = ½: −log ½ = log 2 for either target. s = ln 3, t = 1 → σ = ¾: −log ¾.
    const s = tensor([0, Math.log(3)], { requiresGrad: true });
    const loss = new BinaryCrossEntropyWithLogitsLoss().forward(s, [0, 1]);
    expectValues(loss, [(Math.log(2) - Math.log(0.75)) / 2]);
    loss.backward();
    // ∂J/∂s = (σ(s) − t) / N = [(½ − 0)/2, (¾ − 1)/2]
    expectValues(s.grad!, [0.25, -0.125]);
    expectValues(new BinaryCrossEntropyWithLogitsLoss({ reduction: "none" }).forward(s, [0, 1]), [
      Math.log(2),
      -Math.log(0.75),
    ]);
    // posWeight 2 doubles the positive term: (log 2 − 2 log ¾) / 2
    expectValues(new BinaryCrossEntropyWithLogitsLoss({ posWeight: 2 }).forward(s, [0, 1]), [
      (Math.log(2) - 2 * Math.log(0.75)) / 2,
    ]);
  });

  it("MSELoss: mean, sum, none", () => {
    // differences [1, −2, 3] → squares [1, 4, 9]
    const a = tensor([2, 0, 3]);
    const b = [1, 2, 0];
    expectValues(new MSELoss().forward(a, b), [14 / 3]);
    expectValues(new MSELoss({ reduction: "sum" }).forward(a, b), [14]);
    expectValues(new MSELoss({ reduction: "none" }).forward(a, b), [1, 4, 9]);
  });

  it("checks the reduction when the module is made", () => {
    expect(() => new CrossEntropyLoss({ reduction: "avg" as never })).toThrow(ValueError);
    expect(() => new MSELoss({ reduction: "avg" as never })).toThrow(/reduction must be/);
    expect(new MSELoss({ reduction: "sum" }).toString()).toBe("MSELoss(reduction: sum)");
  });
});
