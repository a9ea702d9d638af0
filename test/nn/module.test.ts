import { describe, expect, it } from "vitest";
import {
  DTypeError,
  ShapeError,
  Tensor,
  ValueError,
  nn,
  seed,
  tensor,
  tanh,
  zeros,
} from "../../src/index.js";
import * as nnEntry from "../../src/nn/index.js";

const { Module, Linear, Sequential, Embedding, Dropout, Tanh } = nn;

/** The lecture's window classifier shape: embeddings → hidden layer → scores. */
class Window extends Module<[Int32Array], Tensor> {
  readonly embedding = this.registerModule("embedding", new Embedding(10, 3));
  readonly hidden = this.registerModule("hidden", new Linear(15, 4));
  readonly output = this.registerModule("output", new Sequential(new Dropout(0.5), new Linear(4, 2)));
  readonly scale = this.registerParameter("scale", tensor([1]));

  forward(ids: Int32Array): Tensor {
    const x = this.embedding.forward(ids).reshape([-1, 15]);
    return this.output.forward(tanh(this.hidden.forward(x))).mul(this.scale);
  }
}

describe("Module", () => {
  it("the nn namespace of the main entry is chainrule/nn", () => {
    expect(nn.Linear).toBe(nnEntry.Linear);
    expect(nn.init.glorotUniform).toBe(nnEntry.init.glorotUniform);
  });

  it("names parameters with dots, own parameters first, then children in registration order", () => {
    seed(0);
    const model = new Window();
    expect(model.namedParameters().map(([name, p]) => [name, p.shape])).toEqual([
      ["scale", [1]],
      ["embedding.weight", [10, 3]],
      ["hidden.weight", [4, 15]],
      ["hidden.bias", [4]],
      ["output.1.weight", [2, 4]],
      ["output.1.bias", [2]],
    ]);
    expect(model.parameters()).toEqual(model.namedParameters().map(([, p]) => p));
    expect(model.parameters().every((p) => p.requiresGrad && p.isLeaf)).toBe(true);
    expect(model.parameterCount()).toBe(1 + 30 + 60 + 4 + 8 + 2);
    expect(model.namedModules().map(([name]) => name)).toEqual([
      "",
      "embedding",
      "hidden",
      "output",
      "output.0",
      "output.1",
    ]);
    // The order is stable: a second model built the same way lists the same names.
    expect(new Window().namedParameters().map(([n]) => n)).toEqual(model.namedParameters().map(([n]) => n));
  });

  it("lists a shared parameter once, under its first name, but saves it under every name", () => {
    class Tied extends Module<[Tensor], Tensor> {
      readonly a = this.registerModule("a", new Linear(2, 2));
      readonly b = this.registerModule("b", new Linear(2, 2));
      constructor() {
        super();
        this.registerModule("again", this.a);
      }
      forward(x: Tensor): Tensor {
        return this.b.forward(this.a.forward(x));
      }
    }
    const m = new Tied();
    expect(m.namedParameters().map(([n]) => n)).toEqual(["a.weight", "a.bias", "b.weight", "b.bias"]);
    expect(Object.keys(m.stateDict())).toEqual(["a.weight", "a.bias", "b.weight", "b.bias"]);
  });

  it("train() and eval() switch every descendant", () => {
    const model = new Window();
    expect(model.modules().every((m) => m.training)).toBe(true);
    model.eval();
    expect(model.modules().every((m) => !m.training)).toBe(true);
    expect(model.train()).toBe(model);
    expect(model.modules().every((m) => m.training)).toBe(true);
  });

  it("zeroGrad clears dense and row-sparse gradients", () => {
    const model = new Window();
    model
      .forward(Int32Array.from([1, 2, 3, 4, 5, 5, 6, 7, 8, 9]))
      .sum()
      .backward();
    expect(model.embedding.weight.sparseGrad).not.toBeNull();
    expect(model.hidden.weight.grad).not.toBeNull();
    model.zeroGrad();
    for (const p of model.parameters()) {
      expect(p.sparseGrad).toBeNull();
      expect(p.grad).toBeNull();
    }
  });

  it("stateDict copies the values; loadStateDict writes them back in place", () => {
    seed(1);
    const a = new Window();
    seed(2);
    const b = new Window();
    const state = a.stateDict();
    expect(Object.keys(state)).toEqual(a.namedParameters().map(([n]) => n));
    expect(state["hidden.weight"]!.requiresGrad).toBe(false);
    expect(state["hidden.weight"]!.data).not.toBe(a.hidden.weight.data);
    const weightBefore = b.hidden.weight;
    b.loadStateDict(state);
    expect(b.hidden.weight).toBe(weightBefore); // same tensor: optimisers keep working
    for (const [name, p] of b.namedParameters())
      expect(Array.from(p.data)).toEqual(Array.from(state[name]!.data));
    // The snapshot does not follow later changes.
    a.hidden.weight.data[0] = 123;
    expect(state["hidden.weight"]!.data[0]).not.toBe(123);
  });

  it("loadStateDict names the first missing, unexpected or wrongly shaped entry and changes nothing", () => {
    seed(3);
    const model = new Window();
    const before = model.stateDict();
    const good = model.stateDict();
    for (const t of Object.values(good)) t.data.fill(7);

    const missing = { ...good };
    delete missing["hidden.bias"];
    expect(() => model.loadStateDict(missing)).toThrow(ValueError);
    expect(() => model.loadStateDict(missing)).toThrow(
      /missing entry "hidden\.bias" \(a parameter of shape \[4\]\)/,
    );

    expect(() => model.loadStateDict({ ...good, "hidden.gamma": zeros([4]) })).toThrow(
      /unexpected entry "hidden\.gamma"/,
    );
    expect(() => model.loadStateDict({ ...good, "output.1.weight": zeros([4, 2]) })).toThrow(ShapeError);
    expect(() => model.loadStateDict({ ...good, "output.1.weight": zeros([4, 2]) })).toThrow(
      /entry "output\.1\.weight" has shape \[4, 2\], but the parameter has shape \[2, 4\]/,
    );
    expect(() => model.loadStateDict({ ...good, scale: tensor([1], { dtype: "int32" }) })).toThrow(
      DTypeError,
    );
    // Nothing was written by the failed loads.
    for (const [name, p] of model.namedParameters())
      expect(Array.from(p.data)).toEqual(Array.from(before[name]!.data));

    // Non-strict loading skips missing and unexpected names; a Map works too; float64 is converted.
    const partial = new Map<string, Tensor>([
      ["scale", tensor([2.5], { dtype: "float64" })],
      ["other", zeros([1])],
    ]);
    model.loadStateDict(partial, { strict: false });
    expect(model.scale.data[0]).toBe(2.5);
    expect(model.scale.dtype).toBe("float32");
  });

  it("refuses bad registrations", () => {
    class Bad extends Module<[Tensor], Tensor> {
      forward(x: Tensor): Tensor {
        return x;
      }
      add(name: string, t: Tensor): void {
        this.registerParameter(name, t);
      }
    }
    const bad = new Bad();
    expect(() => bad.add("a.b", zeros([1]))).toThrow(/without dots/);
    expect(() => bad.add("", zeros([1]))).toThrow(ValueError);
    expect(() => bad.add("ids", tensor([1], { dtype: "int32" }))).toThrow(DTypeError);
    const x = tensor([1], { requiresGrad: true });
    expect(() => bad.add("y", x.mul(2))).toThrow(/must be a leaf/);
  });

  it("Sequential chains its layers, names them 0, 1, … and prints itself", () => {
    seed(4);
    const net = new Sequential(new Linear(3, 5), new Tanh(), new Linear(5, 2, { bias: false }));
    expect(net.length).toBe(3);
    expect(net.at(-1)).toBeInstanceOf(Linear);
    expect(() => net.at(7)).toThrow(ValueError);
    const x = tensor([[1, 2, 3]]);
    const first = net.at(0) as InstanceType<typeof Linear>;
    const last = net.at(2) as InstanceType<typeof Linear>;
    const expected = last.forward(tanh(first.forward(x)));
    expect(Array.from(net.forward(x).data)).toEqual(Array.from(expected.data));
    expect(net.toString()).toBe(
      "Sequential()\n  (0): Linear(3, 5)\n  (1): Tanh()\n  (2): Linear(5, 2, bias: false)",
    );
    expect(() => new Sequential({} as never)).toThrow(/not a Module/);
  });
});
