import { describe, expect, it, vi } from "vitest";
import { jsBackend } from "../../src/backend/js/index.js";
import {
  binaryCrossEntropyWithLogits,
  CompileError,
  compile,
  crossEntropy,
  exp,
  getBackend,
  mseLoss,
  nn,
  randn,
  seed,
  setBackend,
  sum,
  tensor,
  type Tensor,
} from "../../src/node.js";
import { kernelsOf } from "../../src/backend/wasm/runtime.js";
import { Arena } from "../../src/compile/arena.js";
import { Plan } from "../../src/compile/plan.js";

/** The largest |a − b| / (1 + |b|) over two lists of arrays. */
function maxRelativeDifference(a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[]): number {
  let worst = 0;
  a.forEach((x, t) => {
    const y = b[t]!;
    expect(x.length).toBe(y.length);
    for (let i = 0; i < x.length; i++)
      worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / (1 + Math.abs(y[i]!)));
  });
  return worst;
}

/** A model, its optimiser and a training step on one batch, built the same way for each run. */
interface Setup {
  parameters: Tensor[];
  step: (batch: number) => number;
}

/** Runs `steps` steps eagerly and compiled from identical seeds; returns both runs' losses and parameters. */
function eagerAndCompiled(build: (compiled: boolean) => Setup, steps: number) {
  const run = (compiled: boolean) => {
    const setup = build(compiled);
    const losses: number[] = [];
    for (let s = 0; s < steps; s++) losses.push(setup.step(s));
    return { losses, parameters: setup.parameters.map((p) => Float64Array.from(p.data)) };
  };
  return { eager: run(false), compiled: run(true) };
}

/** The lecture's window network: 5 ids → embeddings → Linear → tanh → Linear → cross-entropy, SGD. */
function windowNetwork(
  compiled: boolean,
  batchSize = 16,
): Setup & { fn: { fallbackReason: string | null; stats: { replays: number } } | null } {
  seed(3);
  const embedding = new nn.Embedding(40, 6, { sparse: true });
  const hidden = new nn.Linear(30, 12);
  const output = new nn.Linear(12, 5);
  const parameters = [...embedding.parameters(), ...hidden.parameters(), ...output.parameters()];
  const optimizer = new nn.SGD(parameters, { lr: 0.3 });
  const body = (ids: Int32Array, targets: Int32Array) => {
    const x = embedding.forward(ids).reshape([-1, 30]);
    const loss = crossEntropy(output.forward(hidden.forward(x).tanh()), targets);
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
    return loss;
  };
  const fn = compiled ? compile(body) : null;
  const run = fn ?? body;
  return {
    parameters,
    fn,
    step: (s) => {
      const ids = Int32Array.from({ length: batchSize * 5 }, (_, i) => (i * 7 + s * 13) % 40);
      const targets = Int32Array.from({ length: batchSize }, (_, i) => (i + s) % 5);
      return run(ids, targets).item();
    },
  };
}

/**
 * A wider window network (its products and tanh large enough for the WebAssembly kernels) trained on batches
 * of two sizes in turn, so that two plans share the parameters; SGD or Adam.
 */
function wideWindowNetwork(
  compiled: boolean,
  optimizerName: "sgd" | "momentum" | "adam" | "adagrad" = "sgd",
): Setup & { weights: Tensor[]; table: Tensor } {
  seed(4);
  const embedding = new nn.Embedding(300, 16, { sparse: true });
  const hidden = new nn.Linear(80, 64);
  const output = new nn.Linear(64, 7);
  const parameters = [...embedding.parameters(), ...hidden.parameters(), ...output.parameters()];
  const optimizer = {
    sgd: () => new nn.SGD(parameters, { lr: 0.2 }),
    momentum: () => new nn.SGD(parameters, { lr: 0.1, momentum: 0.9, weightDecay: 1e-3 }),
    adam: () => new nn.Adam(parameters, { lr: 0.01 }),
    adagrad: () => new nn.AdaGrad(parameters, { lr: 0.1 }),
  }[optimizerName]();
  const body = (ids: Int32Array, targets: Int32Array) => {
    const x = embedding.forward(ids).reshape([-1, 80]);
    const loss = crossEntropy(output.forward(hidden.forward(x).tanh()), targets);
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
    return loss;
  };
  const run = compiled ? compile(body) : body;
  return {
    parameters,
    weights: [hidden.weight, output.weight],
    table: embedding.weight,
    step: (s) => {
      const batch = s % 3 === 2 ? 13 : 24;
      const ids = Int32Array.from({ length: batch * 5 }, (_, i) => (i * 31 + s * 17) % 300);
      const targets = Int32Array.from({ length: batch }, (_, i) => (i * 3 + s) % 7);
      return run(ids, targets).item();
    },
  };
}

describe("compile", () => {
  it("trains a wider network on two batch shapes (two plans sharing its parameters) as eager does, to the bit", () => {
    for (const optimizer of ["sgd", "momentum", "adam", "adagrad"] as const) {
      const { eager, compiled } = eagerAndCompiled((c) => wideWindowNetwork(c, optimizer), 8);
      expect(compiled.losses).toEqual(eager.losses);
      compiled.parameters.forEach((p, i) => expect(p).toEqual(eager.parameters[i]));
    }
  });

  it("coalesces an embedding's row-sparse gradient in the plan and updates the table's rows in place", () => {
    const setup = wideWindowNetwork(true);
    for (let s = 0; s < 3; s++) setup.step(s); // traces the two batch shapes
    // Replays look rows up and sum their gradients with the WebAssembly row kernels, in the plan's memory.
    const gatherLoop = vi.spyOn(jsBackend, "gather");
    const scatterLoop = vi.spyOn(jsBackend, "scatterAdd");
    setup.step(3);
    const inWasm = getBackend().name === "wasm";
    expect(gatherLoop.mock.calls.length === 0).toBe(inWasm);
    expect(scatterLoop.mock.calls.length === 0).toBe(inWasm);
    vi.restoreAllMocks();
    const { table } = setup;
    const sparse = table.sparseGrad!;
    expect(sparse.coalesced).toBe(true);
    // distinct ascending rows: the batch's ids (i·31 + 3·17) mod 300 for 24 windows of 5
    const ids = Int32Array.from({ length: 120 }, (_, i) => (i * 31 + 3 * 17) % 300);
    expect(Array.from(sparse.indices)).toEqual([...new Set(ids)].sort((a, b) => a - b));
    expect(sparse.coalesce()).toBe(sparse);
    const wasm = getBackend().name === "wasm";
    expect(kernelsOf(table.data) !== null).toBe(wasm);
    expect(kernelsOf(sparse.indices) !== null && kernelsOf(sparse.indices) === kernelsOf(table.data)).toBe(
      wasm,
    );
  });

  it("keeps an embedding's row-sparse gradients across calls without zeroGrad, as backward does", () => {
    const run = (compiled: boolean) => {
      seed(2);
      const embedding = new nn.Embedding(100, 64, { sparse: true });
      const body = (ids: Int32Array) => {
        const loss = sum(embedding.forward(ids).tanh());
        loss.backward();
        return loss;
      };
      const f = compiled ? compile(body) : body;
      for (let s = 0; s < 3; s++) f(Int32Array.from({ length: 40 }, (_, i) => (i * 7 + s) % 100));
      return embedding.weight.sparseGrad!.coalesce().toDense().data;
    };
    expect(Array.from(run(true))).toEqual(Array.from(run(false)));
  });

  it("keeps the weight matrices and their gradients in WebAssembly memory on the wasm backend", () => {
    const setup = wideWindowNetwork(true);
    for (let s = 0; s < 4; s++) setup.step(s);
    for (const weight of setup.weights) {
      expect(kernelsOf(weight.data) !== null).toBe(getBackend().name === "wasm");
      expect(weight.grad).not.toBeNull();
      expect(kernelsOf(weight.grad!.data) !== null).toBe(getBackend().name === "wasm");
    }
  });

  it("trains the lecture's binary classifier (σ(uᵀh), binary cross-entropy) as eager does, to the bit", () => {
    const build = (compiled: boolean): Setup & { fn: { fallbackReason: string | null } | null } => {
      seed(6);
      const embedding = new nn.Embedding(200, 8, { sparse: true });
      const hidden = new nn.Linear(40, 24);
      const output = new nn.Linear(24, 1);
      const parameters = [...embedding.parameters(), ...hidden.parameters(), ...output.parameters()];
      const optimizer = new nn.SGD(parameters, { lr: 0.5 });
      const body = (ids: Int32Array, targets: Tensor) => {
        const s = output.forward(hidden.forward(embedding.forward(ids).reshape([-1, 40])).tanh()).squeeze(1);
        const loss = binaryCrossEntropyWithLogits(s, targets, { posWeight: 3 });
        optimizer.zeroGrad();
        loss.backward();
        optimizer.step();
        return loss;
      };
      const fn = compiled ? compile(body) : null;
      const run = fn ?? body;
      return {
        parameters,
        fn,
        step: (step) => {
          // 300 windows (σ on the WebAssembly kernel) and 20 (on the JavaScript one), in turn
          const batch = step % 2 === 0 ? 300 : 20;
          const ids = Int32Array.from({ length: batch * 5 }, (_, i) => (i * 13 + step * 7) % 200);
          const targets = Float32Array.from({ length: batch }, (_, i) => ((i * 7 + step) % 5 === 0 ? 1 : 0));
          return run(ids, tensor(targets)).item();
        },
      };
    };
    const { eager, compiled } = eagerAndCompiled(build, 6);
    expect(compiled.losses).toEqual(eager.losses);
    compiled.parameters.forEach((p, i) => expect(p).toEqual(eager.parameters[i]));
    const setup = build(true);
    for (let s = 0; s < 3; s++) setup.step(s);
    expect(setup.fn!.fallbackReason).toBeNull();
  });

  it("computes the binary cross-entropy's gradient as finite differences do (float64, mean and sum)", () => {
    for (const reduction of ["mean", "sum"] as const) {
      const x = tensor([0.3, -1.2, 2.5, -0.1, 4], { dtype: "float64", requiresGrad: true });
      const t = tensor([1, 0, 1, 1, 0], { dtype: "float64" });
      const options = { reduction, posWeight: 1.5 };
      const f = compile(() => {
        const loss = binaryCrossEntropyWithLogits(x.mul(2), t, options);
        loss.backward();
        return loss;
      });
      f();
      x.grad = null;
      f(); // the replayed plan's gradient
      expect(f.stats.replays).toBe(1);
      const analytic = Float64Array.from(x.grad!.data);
      const h = 1e-6;
      const lossAt = (values: number[]) =>
        binaryCrossEntropyWithLogits(tensor(values, { dtype: "float64" }).mul(2), t, options).item();
      const base = Array.from(x.data);
      base.forEach((value, i) => {
        const plus = base.slice();
        const minus = base.slice();
        plus[i] = value + h;
        minus[i] = value - h;
        const numeric = (lossAt(plus) - lossAt(minus)) / (2 * h);
        expect(Math.abs(analytic[i]! - numeric)).toBeLessThan(1e-7);
      });
    }
  });

  it("compiles on the JavaScript backend as eager does, to the bit", () => {
    const previous = getBackend().name;
    setBackend("js");
    try {
      const { eager, compiled } = eagerAndCompiled((c) => wideWindowNetwork(c), 5);
      expect(compiled.losses).toEqual(eager.losses);
      compiled.parameters.forEach((p, i) => expect(p).toEqual(eager.parameters[i]));
    } finally {
      setBackend(previous);
    }
  });

  it("trains the window NER network (Embedding, Linear, tanh, Linear, crossEntropy, SGD) as eager does, to the bit", () => {
    const { eager, compiled } = eagerAndCompiled(windowNetwork, 6);
    expect(compiled.losses).toEqual(eager.losses);
    expect(compiled.parameters).toEqual(eager.parameters);
    // the losses went down, so the comparison is of a model that learns
    expect(eager.losses[5]!).toBeLessThan(eager.losses[0]!);
  });

  it("replays a plan after the first call", () => {
    const setup = windowNetwork(true);
    for (let s = 0; s < 3; s++) setup.step(s);
    expect(setup.fn!.fallbackReason).toBeNull();
    expect(setup.fn!.stats).toEqual({ traces: 1, replays: 2, eager: 0 });
  });

  it("traces again for a new shape and keeps both plans", () => {
    const w = tensor(
      [
        [1, -2],
        [0.5, 3],
      ],
      { requiresGrad: true, dtype: "float64" },
    );
    const f = compile((x: Tensor) => {
      const loss = sum(x.matmul(w).tanh());
      loss.backward();
      return loss;
    });
    const small = tensor([[0.1, 0.2]], { dtype: "float64" });
    const large = tensor(
      [
        [0.1, 0.2],
        [0.3, -0.4],
        [1, 1],
      ],
      { dtype: "float64" },
    );
    const values = [f(small), f(small), f(large), f(large), f(small)].map((t) => t.item());
    expect(f.stats).toEqual({ traces: 2, replays: 3, eager: 0 });
    const expected = (x: Tensor) => sum(x.matmul(w.detach()).tanh()).item();
    expect(values).toEqual([small, small, large, large, small].map(expected));
  });

  it("trains an MLP with relu, sigmoid and a mean squared error as eager does (float64)", () => {
    const build = (compiled: boolean): Setup => {
      seed(5);
      const model = new nn.Sequential(
        new nn.Linear(4, 8, { dtype: "float64" }),
        new nn.ReLU(),
        new nn.Linear(8, 8, { dtype: "float64" }),
        new nn.Sigmoid(),
        new nn.Linear(8, 2, { dtype: "float64" }),
      );
      const optimizer = new nn.SGD(model.parameters(), { lr: 0.5, momentum: 0.9 });
      const x = randn([10, 4], { dtype: "float64" });
      const y = randn([10, 2], { dtype: "float64" });
      const body = (input: Tensor, target: Tensor) => {
        optimizer.zeroGrad();
        const loss = mseLoss(model.forward(input) as Tensor, target);
        loss.backward();
        optimizer.step();
        return loss;
      };
      const fn = compiled ? compile(body) : body;
      return { parameters: [...model.parameters()], step: () => fn(x, y).item() };
    };
    const { eager, compiled } = eagerAndCompiled(build, 5);
    expect(maxRelativeDifference([compiled.losses], [eager.losses])).toBeLessThan(1e-12);
    expect(maxRelativeDifference(compiled.parameters, eager.parameters)).toBeLessThan(1e-12);
  });

  it("trains a float32 MLP (relu, σ, a layer without activation) as eager does, to the bit, at two batch sizes", () => {
    // Its products finish their layers (bias, activation) in the matmul kernel where the plan's buffers are in
    // WebAssembly memory; the batch of 3 has too few values for the σ kernel, so its σ runs as the eager op's.
    const build = (compiled: boolean): Setup => {
      seed(8);
      const model = new nn.Sequential(
        new nn.Linear(37, 45),
        new nn.ReLU(),
        new nn.Linear(45, 30),
        new nn.Sigmoid(),
        new nn.Linear(30, 7),
      );
      const optimizer = new nn.SGD(model.parameters(), { lr: 0.3 });
      const inputs = [randn([24, 37]), randn([3, 37])];
      const targets = [randn([24, 7]), randn([3, 7])];
      const body = (input: Tensor, target: Tensor) => {
        optimizer.zeroGrad();
        const loss = mseLoss(model.forward(input) as Tensor, target);
        loss.backward();
        optimizer.step();
        return loss;
      };
      const fn = compiled ? compile(body) : body;
      return { parameters: [...model.parameters()], step: (s) => fn(inputs[s % 2]!, targets[s % 2]!).item() };
    };
    const { eager, compiled } = eagerAndCompiled(build, 8);
    expect(compiled.losses).toEqual(eager.losses);
    expect(compiled.parameters).toEqual(eager.parameters);
  });

  it("sums the gradients of fan-out and undoes broadcasting as eager does", () => {
    const build = (compiled: boolean): Setup => {
      seed(9);
      const w = randn([3, 4], { dtype: "float64", requiresGrad: true });
      const b = randn([4], { dtype: "float64", requiresGrad: true });
      const s = randn([1, 4], { dtype: "float64", requiresGrad: true });
      const optimizer = new nn.SGD([w, b, s], { lr: 0.05 });
      const body = (x: Tensor) => {
        const h = x.matmul(w).add(b); // b broadcast over rows
        const u = h.mul(s).sub(h.tanh()); // h used twice, s broadcast
        const loss = sum(exp(u.mul(0.1)).add(h.square().div(s.square().add(1))));
        optimizer.zeroGrad();
        loss.backward();
        optimizer.step();
        return loss;
      };
      const fn = compiled ? compile(body) : body;
      const x = randn([5, 3], { dtype: "float64" });
      return { parameters: [w, b, s], step: () => fn(x).item() };
    };
    const { eager, compiled } = eagerAndCompiled(build, 4);
    expect(maxRelativeDifference([compiled.losses], [eager.losses])).toBeLessThan(1e-12);
    expect(maxRelativeDifference(compiled.parameters, eager.parameters)).toBeLessThan(1e-12);
  });

  it("gives identity gradients (reshapes, unbroadcast sums and differences) their upstream's buffer, as eager computes them", () => {
    // p reaches the loss through two reshapes (its gradient buffer receives the product's share directly);
    // the product of p and a receives its sum with c's gradient unchanged, and so does c; t is the first
    // operand of a difference (unchanged) and also goes through tanh (two shares: a buffer of its own), d and
    // e second operands (negated); the bias is broadcast (summed down from the upstream directly). Run with
    // and without zeroGrad, so that gradients held across calls are kept as backward keeps them.
    for (const zeroGrad of [true, false]) {
      const build = (compiled: boolean): Setup => {
        seed(12);
        const p = randn([2, 6], { dtype: "float64", requiresGrad: true });
        const a = randn([3, 4], { dtype: "float64", requiresGrad: true });
        const c = randn([3, 4], { dtype: "float64", requiresGrad: true });
        const d = randn([5, 4], { dtype: "float64", requiresGrad: true });
        const e = randn([5, 4], { dtype: "float64", requiresGrad: true });
        const bias = randn([4], { dtype: "float64", requiresGrad: true });
        const parameters = [p, a, c, d, e, bias];
        const optimizer = new nn.SGD(parameters, { lr: 0.05 });
        const body = (x: Tensor) => {
          const w = p.reshape([12]).reshape([3, 4]).mul(a).add(c);
          const t = x.matmul(w);
          const g = t.tanh();
          const h = t.sub(d).add(bias);
          const loss = sum(h.tanh().mul(g).sub(e).square());
          if (zeroGrad) optimizer.zeroGrad();
          loss.backward();
          if (zeroGrad) optimizer.step();
          return loss;
        };
        const fn = compiled ? compile(body) : body;
        const x = randn([5, 3], { dtype: "float64" });
        return {
          // without an optimiser, what is compared is the gradients accumulated across the calls
          get parameters() {
            return zeroGrad ? parameters : parameters.map((q) => q.grad!);
          },
          step: () => fn(x).item(),
        };
      };
      const { eager, compiled } = eagerAndCompiled(build, 4);
      expect(compiled.losses).toEqual(eager.losses);
      expect(compiled.parameters).toEqual(eager.parameters);
    }
    // Two tanh terms of a sum: both receive the sum's gradient in its buffer, so neither derivative may be
    // written over it while the other is still to be read; a chain of tanh may (each written in place).
    const siblings = (compiled: boolean): Setup => {
      seed(13);
      const p1 = randn([3, 4], { dtype: "float64", requiresGrad: true });
      const p2 = randn([3, 4], { dtype: "float64", requiresGrad: true });
      const optimizer = new nn.SGD([p1, p2], { lr: 0.1 });
      const body = () => {
        const loss = sum(p1.tanh().add(p2.tanh()).square().add(p1.tanh().tanh().tanh()));
        optimizer.zeroGrad();
        loss.backward();
        optimizer.step();
        return loss;
      };
      const fn = compiled ? compile(body) : body;
      return { parameters: [p1, p2], step: () => fn().item() };
    };
    const pair = eagerAndCompiled(siblings, 4);
    expect(pair.compiled.losses).toEqual(pair.eager.losses);
    expect(pair.compiled.parameters).toEqual(pair.eager.parameters);
    // A loss that is a parameter reshaped: the seed and the parameter's gradient are both kept, so each keeps
    // a buffer of its own and the share is copied.
    const q = tensor([0.5], { dtype: "float64", requiresGrad: true });
    const f = compile(() => {
      const loss = q.reshape([]);
      loss.backward();
      return loss;
    });
    for (let call = 1; call <= 3; call++) {
      f();
      expect(Array.from(q.grad!.data)).toEqual([call]);
    }
    expect(f.stats.replays).toBe(2);
  });

  it("keeps the hidden layer's output gradient, the tanh derivative and the product's upstream in one buffer", () => {
    // Arrays of batch × hidden (24 × 64) float32 values the plan takes in its memory: the layer's output and
    // one gradient (∂h, written over by the tanh derivative, which the sum with the bias passes on unchanged).
    const sizes: number[] = [];
    const allocate = Arena.prototype.allocate;
    const spy = vi.spyOn(Arena.prototype, "allocate").mockImplementation(function (this: Arena, dtype, size) {
      if (!(this as unknown as { counts: boolean }).counts) sizes.push(size);
      return allocate.call(this, dtype, size);
    });
    try {
      wideWindowNetwork(true).step(0);
    } finally {
      spy.mockRestore();
    }
    expect(sizes.filter((n) => n === 24 * 64)).toHaveLength(2);
  });

  it("replays the window network's backward without copying a gradient through its reshapes", () => {
    const setup = windowNetwork(true);
    setup.step(0);
    // Arrays of the batch's 16 × 30 embedding values copied during a replay: none (the matmul's ∂x is written
    // into the embedding's row gradient, which the two reshapes share).
    const copies: number[] = [];
    const original = Float32Array.prototype.set;
    Float32Array.prototype.set = function (this: Float32Array, source: ArrayLike<number>, offset?: number) {
      copies.push(source.length);
      original.call(this, source, offset);
    };
    try {
      setup.step(1);
    } finally {
      Float32Array.prototype.set = original;
    }
    expect(setup.fn!.stats.replays).toBe(1);
    expect(copies.filter((n) => n === 16 * 30)).toEqual([]);
  });

  it("leaves gradients as backward does when no optimiser runs (accumulating across calls)", () => {
    seed(1);
    const w = randn([3, 2], { requiresGrad: true, dtype: "float64" });
    const body = (x: Tensor) => {
      const loss = sum(x.matmul(w).tanh());
      loss.backward();
      return loss;
    };
    const x = randn([4, 3], { dtype: "float64" });
    const f = compile(body);
    f(x);
    f(x);
    f(x);
    const compiledGrad = Float64Array.from(w.grad!.data);
    w.grad = null;
    body(x);
    body(x);
    body(x);
    expect(maxRelativeDifference([compiledGrad], [w.grad!.data])).toBeLessThan(1e-12);
    expect(f.stats.replays).toBe(2);
  });

  it("runs the first call's backward on the plan it has just traced, with eager's results to the bit", () => {
    // The ops before backward are the whole trace: the plan is built there, and the call's ops and backward run
    // on it, so that the eager pass allocates no gradients (about half of its memory at a large batch).
    const planBackward = vi.spyOn(Plan.prototype, "backward");
    const eager = windowNetwork(false);
    const compiled = windowNetwork(true);
    expect(compiled.step(0)).toBe(eager.step(0));
    expect(planBackward).toHaveBeenCalledTimes(1);
    expect(compiled.parameters.map((p) => Array.from(p.data))).toEqual(
      eager.parameters.map((p) => Array.from(p.data)),
    );
    expect(compiled.step(1)).toBe(eager.step(1));
    expect(planBackward).toHaveBeenCalledTimes(2);
    expect(compiled.fn!.stats.replays).toBe(1);
    planBackward.mockRestore();
  });

  it("frees the first call's graph after its backward as eager does, and keeps it with retainGraph", () => {
    seed(2);
    const w = randn([3, 2], { requiresGrad: true, dtype: "float64" });
    const x = randn([4, 3], { dtype: "float64" });
    for (const retainGraph of [false, true]) {
      let kept: Tensor | null = null;
      const body = (input: Tensor) => {
        const loss = sum(input.matmul(w).tanh());
        loss.backward(undefined, { retainGraph });
        kept = loss;
        return loss;
      };
      const outcome = (run: (input: Tensor) => Tensor) => {
        w.grad = null;
        run(x);
        const first = Array.from(w.grad!.data);
        let error: unknown = null;
        try {
          kept!.backward();
        } catch (e) {
          error = e;
        }
        return { first, again: error === null ? Array.from(w.grad!.data) : String(error) };
      };
      const eager = outcome(body);
      const compiled = outcome(compile(body));
      expect(compiled).toEqual(eager);
      if (retainGraph) expect(typeof compiled.again).not.toBe("string");
      else expect(compiled.again).toMatch(/already been freed/);
    }
  });

  it("leaves a backward without a seed on a tensor of many values to the eager engine's error", () => {
    const w = tensor([1, 2], { requiresGrad: true });
    const body = (x: Tensor) => {
      const y = x.mul(w);
      y.backward();
      return y;
    };
    let eagerError = "";
    try {
      body(tensor([1, 1]));
    } catch (e) {
      eagerError = String(e);
    }
    expect(eagerError).not.toBe("");
    expect(() => compile(body)(tensor([1, 1]))).toThrow(eagerError.replace(/^\w+: /, ""));
  });

  it("falls back to eager with a reason for an op it cannot compile", () => {
    const reasons: string[] = [];
    const w = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { requiresGrad: true },
    );
    const f = compile((x: Tensor) => x.matmul(w).max(), { onFallback: (r) => reasons.push(r) });
    expect(f(tensor([[1, 0]])).item()).toBe(2);
    expect(f(tensor([[0, 1]])).item()).toBe(4);
    expect(f.fallbackReason).toMatch(/max/);
    expect(reasons).toHaveLength(1);
    expect(f.stats).toEqual({ traces: 1, replays: 0, eager: 1 });
  });

  it("throws a CompileError when a call runs other ops than its trace, then runs eagerly", () => {
    let branch = false;
    const w = tensor([1, 2], { requiresGrad: true });
    const f = compile((x: Tensor) => (branch ? x.mul(w).tanh() : x.mul(w)).sum());
    f(tensor([1, 1]));
    branch = true;
    expect(() => f(tensor([1, 1]))).toThrow(CompileError);
    expect(f.fallbackReason).toMatch(/tanh/);
    expect(f(tensor([1, 1])).item()).toBeCloseTo(Math.tanh(1) + Math.tanh(2), 6);
  });

  it("hands out returned tensors as copies the next call does not overwrite", () => {
    const w = tensor([1, 2]);
    const f = compile((x: Tensor) => x.mul(w));
    f(tensor([1, 1]));
    const second = f(tensor([2, 2]));
    f(tensor([3, 3]));
    expect(Array.from(second.data)).toEqual([2, 4]);
  });
});
