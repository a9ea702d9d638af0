import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi, type MockInstance } from "vitest";
import {
  compile,
  crossEntropy,
  mseLoss,
  nn,
  noGrad,
  randn,
  seed,
  setThreads,
  tensor,
  wasmBackend,
  wasmThresholds,
  type Tensor,
} from "../../src/node.js";
import { threadPool, threadsAvailable } from "../../src/backend/wasm/threads.js";
import { MATMUL_NO_ACTIVATION, kernelsOf } from "../../src/backend/wasm/runtime.js";
import { UNARY_CODES } from "../../src/backend/wasm/elementwise.js";
import { restoreThreadSettingsAfterEach } from "../helpers.js";

// A compiled step whose products are large enough to split across threads keeps its buffers in a region of the
// thread pool's shared memory and runs those products split across the threads, in place. Each chunk of output
// rows is computed exactly as on one thread, so the results must be the eager step's to the bit, whatever the
// number of threads. threadFlops = threadFlopsInPlace = 0 makes every product of ≥ 10 rows, or of fewer rows and
// enough columns, split (the tests' sizes are small).

const root = fileURLToPath(new URL("../../", import.meta.url));
restoreThreadSettingsAfterEach();
afterEach(() => {
  vi.restoreAllMocks();
});

/** A model and its training step, built the same way for each run. */
interface Setup {
  parameters: Tensor[];
  step: (s: number) => number;
  /** The network's logits for some windows' ids (forward only, without recording). */
  forward?: (ids: Int32Array) => Tensor;
}

function losses(setup: Setup, steps: number, from = 0): number[] {
  const out: number[] = [];
  for (let s = from; s < from + steps; s++) out.push(setup.step(s));
  return out;
}

function parameterValues(setup: Setup): number[][] {
  return setup.parameters.map((p) => Array.from(p.data));
}

/** The lecture's window network (embedding, Linear, tanh, Linear, cross-entropy, SGD) at NER-like widths. */
function windowNetwork(compiled: boolean, batch = 40, zeroGradEvery = 1): Setup {
  seed(11);
  let calls = 0;
  const embedding = new nn.Embedding(500, 10, { sparse: true });
  const hidden = new nn.Linear(50, 60);
  const output = new nn.Linear(60, 9);
  const parameters = [...embedding.parameters(), ...hidden.parameters(), ...output.parameters()];
  const optimizer = new nn.SGD(parameters, { lr: 0.05 });
  const body = (ids: Int32Array, targets: Int32Array) => {
    const x = embedding.forward(ids).reshape([-1, 50]);
    const loss = crossEntropy(output.forward(hidden.forward(x).tanh()), targets);
    // Every `zeroGradEvery` calls; in between, the gradients add up.
    if (calls++ % zeroGradEvery === 0) optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
    return loss;
  };
  const run = compiled ? compile(body) : body;
  return {
    parameters,
    step: (s) => {
      const ids = Int32Array.from({ length: batch * 5 }, (_, i) => (i * 37 + s * 11) % 500);
      const targets = Int32Array.from({ length: batch }, (_, i) => (i * 5 + s) % 9);
      return run(ids, targets).item();
    },
    forward: (ids) => output.forward(hidden.forward(embedding.forward(ids).reshape([-1, 50])).tanh()),
  };
}

/** A float64 MLP (Linear, sigmoid, Linear, relu, Linear, mean squared error) with SGD and momentum. */
function mlp64(compiled: boolean): Setup {
  seed(12);
  const layers = [
    new nn.Linear(24, 40, { dtype: "float64" }),
    new nn.Linear(40, 32, { dtype: "float64" }),
    new nn.Linear(32, 6, { dtype: "float64" }),
  ];
  const parameters = layers.flatMap((layer) => layer.parameters());
  const optimizer = new nn.SGD(parameters, { lr: 0.1, momentum: 0.9 });
  const inputs = Array.from({ length: 4 }, () => randn([30, 24], { dtype: "float64" }));
  const targets = Array.from({ length: 4 }, () => randn([30, 6], { dtype: "float64" }));
  const body = (x: Tensor, y: Tensor) => {
    const h = layers[1]!.forward(layers[0]!.forward(x).sigmoid()).relu();
    const loss = mseLoss(layers[2]!.forward(h), y);
    optimizer.zeroGrad();
    loss.backward();
    optimizer.step();
    return loss;
  };
  const run = compiled ? compile(body) : body;
  return { parameters, step: (s) => run(inputs[s % 4]!, targets[s % 4]!).item() };
}

/**
 * A training step of another batch size over the same parameters, compiled (for `compiled`'s network) and eager
 * (for `eager`'s), through each network's parameters: returns a step function that runs both and tells whether
 * their losses agree to the bit.
 */
function windowNetworkStep(compiled: Setup, eager: Setup, batch: number): (s: number) => boolean {
  const make = (setup: Setup, compileIt: boolean) => {
    const optimizer = new nn.SGD(setup.parameters, { lr: 0.05 });
    const body = (ids: Int32Array, targets: Int32Array) => {
      const loss = crossEntropy(setup.forward!(ids), targets);
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
      return loss;
    };
    return compileIt ? compile(body) : body;
  };
  const a = make(compiled, true);
  const b = make(eager, false);
  return (s) => {
    const ids = Int32Array.from({ length: batch * 5 }, (_, i) => (i * 29 + s * 7) % 500);
    const targets = Int32Array.from({ length: batch }, (_, i) => (i * 3 + s) % 9);
    return a(ids, targets).item() === b(ids, targets).item();
  };
}

describe.skipIf(!threadsAvailable())("compiled steps whose products split across threads", () => {
  it("the window network: compiled with its products split in shared memory equals eager, to the bit", () => {
    wasmThresholds.threadFlops = wasmThresholds.threadFlopsInPlace = 0;
    setThreads(2);
    const eager = windowNetwork(false);
    const eagerLosses = losses(eager, 6);
    const compiled = windowNetwork(true);
    const traced = compiled.step(0); // the trace: eager ops
    const pool = threadPool()!;
    const rows = vi.spyOn(pool, "rows");
    const unary = vi.spyOn(pool, "unary");
    const derivative = vi.spyOn(pool, "derivative");
    wasmThresholds.threadUnaryValues = 0;
    wasmThresholds.threadDerivativeValues = 0;
    const copied = vi.spyOn(wasmBackend, "matmul");
    const compiledLosses = [traced, ...losses(compiled, 5, 1)];
    expect(compiledLosses).toEqual(eagerLosses);
    expect(parameterValues(compiled)).toEqual(parameterValues(eager));
    // The plan lives in the pool's memory (the weights moved in, where the optimiser updates them in place),
    const weight = compiled.parameters[1]!;
    expect(kernelsOf(weight.data)).toBe(pool.kernels);
    // all six of its products a step (two layers: forward, ∂W, ∂x; the output layer's ∂W, 9 rows of 60 columns,
    // cut by columns) ran split across the threads in the 5 replays, in place: none went to the backend (which
    // copies into the pool's memory and back).
    expect(rows.mock.calls.length).toBe(30);
    expect(copied).not.toHaveBeenCalled();
    // Its bias and tanh: applied by the first layer's product to each block of its output while in cache (once
    // a step), not in passes of their own.
    const finished = rows.mock.calls.filter(
      (call) => call[15] !== undefined && call[15] !== MATMUL_NO_ACTIVATION,
    );
    expect(finished.length).toBe(5);
    const bias = compiled.parameters[2]!.data; // the hidden layer's, in the pool's memory too
    expect(kernelsOf(bias)).toBe(pool.kernels);
    for (const call of finished) {
      expect(call[15]).toBe(UNARY_CODES.tanh);
      expect(call[14]).toBe(bias.byteOffset);
    }
    expect(unary).not.toHaveBeenCalled();
    // The backward's last product, the hidden layer's ∂W, was left running on the workers while the main thread
    // coalesced the embedding's row-sparse gradient (once a replay): its output is the weight's gradient.
    const deferred = rows.mock.calls.filter((call) => call[17] === true);
    expect(deferred.length).toBe(5);
    for (const call of deferred) expect(call[3]).toBe(weight.grad!.data.byteOffset);
    expect(pool.running).toBe(false);
    // Its tanh derivative, split across the threads too (once a replay).
    expect(derivative.mock.calls.map((call) => call[0])).toEqual(new Array(5).fill("tanh"));
  });

  it("gradients that add up across calls (zeroGrad every other call) with the last product left running: eager's bits", () => {
    wasmThresholds.threadFlops = wasmThresholds.threadFlopsInPlace = 0;
    setThreads(2);
    const eager = windowNetwork(false, 40, 2);
    const eagerLosses = losses(eager, 6);
    const compiled = windowNetwork(true, 40, 2);
    const deferrals = vi.spyOn(threadPool()!, "takeDeferral");
    expect(losses(compiled, 6)).toEqual(eagerLosses);
    expect(parameterValues(compiled)).toEqual(parameterValues(eager));
    expect(deferrals.mock.results.filter((r) => r.value === true).length).toBe(6);
  });

  it("products between the in-place and the eager thresholds split in a plan, not eagerly; same bits", () => {
    // Nothing is copied into the pool's memory for a plan's product, so it splits from a smaller size.
    wasmThresholds.threadFlops = Infinity;
    wasmThresholds.threadFlopsInPlace = 0;
    setThreads(2);
    const pool = threadPool()!;
    const rows = vi.spyOn(pool, "rows");
    const eager = windowNetwork(false);
    const eagerLosses = losses(eager, 4);
    expect(rows).not.toHaveBeenCalled();
    const compiled = windowNetwork(true);
    expect(losses(compiled, 4)).toEqual(eagerLosses);
    expect(parameterValues(compiled)).toEqual(parameterValues(eager));
    expect(kernelsOf(compiled.parameters[1]!.data)).toBe(pool.kernels);
    // 4 calls × 6 split products: the first call traces its ops eagerly (none split at these thresholds), then
    // runs them and the backward on the plan.
    expect(rows.mock.calls.length).toBe(24);
    // The other way round, the plan stays private and its products run on one thread, in place.
    wasmThresholds.threadFlops = 0;
    wasmThresholds.threadFlopsInPlace = Infinity;
    rows.mockClear();
    const private_ = windowNetwork(true);
    losses(private_, 4);
    expect(kernelsOf(private_.parameters[1]!.data)).not.toBe(pool.kernels);
  });

  it("a float64 MLP (momentum SGD): compiled with split products equals eager, to the bit", () => {
    wasmThresholds.threadFlops = wasmThresholds.threadFlopsInPlace = 0;
    setThreads(2);
    const eager = mlp64(false);
    const eagerLosses = losses(eager, 7);
    const compiled = mlp64(true);
    const rows = vi.spyOn(threadPool()!, "rows");
    expect(losses(compiled, 7)).toEqual(eagerLosses);
    expect(parameterValues(compiled)).toEqual(parameterValues(eager));
    expect(rows.mock.calls.length).toBeGreaterThan(0);
    expect(rows.mock.calls.every((call) => call[0] === false)).toBe(true); // float64 tasks
  });

  it("setThreads(1) after the plan was built runs its products on one thread, same memory, same bits", () => {
    wasmThresholds.threadFlops = wasmThresholds.threadFlopsInPlace = 0;
    setThreads(2);
    const eager = windowNetwork(false, 30);
    const eagerLosses = losses(eager, 8);
    setThreads(2);
    const compiled = windowNetwork(true, 30);
    const first = losses(compiled, 3);
    const pool = threadPool()!;
    expect(kernelsOf(compiled.parameters[1]!.data)).toBe(pool.kernels);
    setThreads(1);
    const rows = vi.spyOn(pool, "rows");
    const rest = losses(compiled, 3, 3);
    expect(rows).not.toHaveBeenCalled();
    setThreads(3);
    const more = losses(compiled, 2, 6);
    expect(rows).toHaveBeenCalled();
    expect([...first, ...rest, ...more]).toEqual(eagerLosses);
    expect(parameterValues(compiled)).toEqual(parameterValues(eager));
  });

  it("a plan without a product large enough to split stays in a memory of its own", () => {
    setThreads(2);
    const compiled = windowNetwork(true, 8);
    losses(compiled, 3);
    expect(kernelsOf(compiled.parameters[1]!.data)).not.toBe(threadPool()?.kernels ?? null);
    expect(compiled.parameters[1]!.data.buffer).not.toBeInstanceOf(SharedArrayBuffer);
  });

  it("plans in shared memory and eager products interleave without overwriting each other", () => {
    wasmThresholds.threadFlops = wasmThresholds.threadFlopsInPlace = 0;
    setThreads(2);
    const eager = windowNetwork(false, 24);
    const compiled = windowNetwork(true, 24);
    // Between compiled steps, large eager products lay their copies out in the pool's per-call area, above
    // every region: the plan's buffers (its weights among them) must come through untouched.
    const a = tensor(
      Float32Array.from({ length: 200 * 300 }, (_, i) => (i % 13) - 6),
      { shape: [200, 300] },
    );
    for (let s = 0; s < 5; s++) {
      expect(compiled.step(s)).toBe(eager.step(s));
      a.matmul(a.transpose()).sum().item();
      windowNetwork(true, 10 + s).step(0); // other plans come and go
    }
    // The shared memory grows (its buffer object changes): the plan's views, of the older buffer, stay valid,
    // and its products still run in place on them.
    const pool = threadPool()!;
    const bytes = pool.memory.buffer.byteLength;
    const big = pool.allocateRegion(32 << 20);
    pool.releaseRegion(big, 32 << 20);
    expect(pool.memory.buffer.byteLength).toBeGreaterThan(bytes);
    expect(compiled.parameters[1]!.data.buffer).not.toBe(pool.memory.buffer);
    const rows = vi.spyOn(pool, "rows");
    const copied = vi.spyOn(wasmBackend, "matmul");
    for (let s = 5; s < 8; s++) expect(compiled.step(s)).toBe(eager.step(s));
    expect(rows).toHaveBeenCalled();
    expect(copied.mock.calls.length).toBe(3 * 6); // the eager run's products only
    expect(parameterValues(compiled)).toEqual(parameterValues(eager));
  });

  it("plans of other signatures read the parameters where the first keeps them: no move, no copy; same bits", () => {
    wasmThresholds.threadFlops = wasmThresholds.threadFlopsInPlace = 0;
    setThreads(2);
    const eager = windowNetwork(false, 40);
    const compiled = windowNetwork(true, 40);
    const pool = threadPool()!;
    for (let s = 0; s < 3; s++) expect(compiled.step(s)).toBe(eager.step(s));
    const homes = compiled.parameters.map((p) => p.data);
    expect(homes.every((data) => kernelsOf(data) === pool.kernels)).toBe(true);
    // A forward-only plan (an evaluation's) and a training plan of another batch size, interleaved with the
    // first plan's steps: each reads the parameters in place, where the first plan moved them.
    const predict = compile((ids: Int32Array) => noGrad(() => compiled.forward!(ids)));
    const other = windowNetworkStep(compiled, eager, 24);
    const ids = Int32Array.from({ length: 64 * 5 }, (_, i) => (i * 13) % 500);
    let copies: MockInstance | null = null;
    for (let s = 3; s < 9; s++) {
      // After the first calls (the other signatures' traces, eager ops that copy into WebAssembly memory):
      if (s === 4) copies = vi.spyOn(Float32Array.prototype, "set");
      expect(compiled.step(s)).toBe(eager.step(s));
      expect(Array.from(predict(ids).data)).toEqual(Array.from(noGrad(() => eager.forward!(ids)).data));
      expect(other(s)).toBe(true);
      expect(compiled.parameters.map((p) => p.data)).toEqual(homes);
      expect(compiled.parameters.every((p, i) => p.data === homes[i])).toBe(true);
    }
    expect(predict.stats).toEqual({ traces: 1, replays: 5, eager: 0 });
    // Binding a parameter copied nothing: no `set` from a parameter's array (into another plan's memory).
    expect(copies!.mock.calls.length).toBeGreaterThan(0);
    expect(copies!.mock.calls.filter(([source]) => homes.includes(source as Float32Array))).toEqual([]);
    expect(parameterValues(compiled)).toEqual(parameterValues(eager));
  });

  // Last: a failed pool stays failed for the rest of this file's process.
  it("after the pool fails, the plan runs its products on the main thread, same memory, same bits", () => {
    wasmThresholds.threadFlops = wasmThresholds.threadFlopsInPlace = 0;
    setThreads(2);
    const eager = windowNetwork(false, 20);
    const eagerLosses = losses(eager, 6);
    const compiled = windowNetwork(true, 20);
    const first = losses(compiled, 3);
    const pool = threadPool()!;
    pool.fail();
    const rows = vi.spyOn(pool, "rows");
    const rest = losses(compiled, 3, 3);
    expect(rows).not.toHaveBeenCalled();
    expect([...first, ...rest]).toEqual(eagerLosses);
    expect(parameterValues(compiled)).toEqual(parameterValues(eager));
  });
});

/** Runs an ES module snippet in a fresh Node process with tsx (so it can import src/*.ts). */
function runNode(code: string, flags: string[] = []) {
  return spawnSync(process.execPath, [...flags, "--import", "tsx", "--input-type=module", "-e", code], {
    cwd: root,
    encoding: "utf8",
    timeout: 120_000,
  });
}

/** A script's start: the window network built and compiled with every product split, as above. */
const WINDOW_SCRIPT = `
  import { compile, crossEntropy, nn, seed, setThreads, wasmThresholds } from "./src/node.ts";
  import { threadPool } from "./src/backend/wasm/threads.ts";
  setThreads(2);
  wasmThresholds.threadFlops = wasmThresholds.threadFlopsInPlace = 0;
  function train(batch, steps) {
    seed(1);
    const embedding = new nn.Embedding(200, 10, { sparse: true });
    const hidden = new nn.Linear(50, 40);
    const output = new nn.Linear(40, 9);
    const parameters = [...embedding.parameters(), ...hidden.parameters(), ...output.parameters()];
    const optimizer = new nn.SGD(parameters, { lr: 0.05 });
    const step = compile((ids, targets) => {
      const loss = crossEntropy(output.forward(hidden.forward(embedding.forward(ids).reshape([-1, 50])).tanh()), targets);
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
      return loss;
    });
    for (let s = 0; s < steps; s++) {
      const ids = Int32Array.from({ length: batch * 5 }, (_, i) => (i * 7 + s) % 200);
      const targets = Int32Array.from({ length: batch }, (_, i) => (i + s) % 9);
      step(ids, targets).item();
    }
    return parameters;
  }
`;

describe.skipIf(!threadsAvailable())("shared memory of compiled steps, in a process of its own", () => {
  it("a script that ran a compiled step on threads exits by itself (the workers do not keep it alive)", () => {
    const result = runNode(
      `${WINDOW_SCRIPT}
       const parameters = train(32, 4);
       const pool = threadPool();
       console.log("workers", pool.workerCount, pool.failed, parameters[1].data.buffer instanceof SharedArrayBuffer);`,
    );
    expect(result.signal).toBeNull();
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("workers 1 false true");
    expect(result.status).toBe(0);
  });

  it("regions of plans that were collected go back to the pool (hundreds of plans do not grow memory)", () => {
    const result = runNode(
      `${WINDOW_SCRIPT}
       const settle = async () => {
         for (let i = 0; i < 4; i++) { globalThis.gc(); await new Promise((resolve) => setTimeout(resolve, 5)); }
       };
       const pool = threadPool() ?? (train(16, 2), threadPool());
       let top = 0;
       for (let i = 0; i < 300; i++) {
         train(12 + (i % 9), 2); // a new model and plan each time, dropped at once
         top = Math.max(top, pool.regionUsage().top);
         if (i % 25 === 24) await settle();
       }
       await settle();
       const afterAll = pool.regionUsage().used;
       // A parameter that moved into a plan's region keeps the region after the plan is gone.
       let kept = train(20, 2);
       await settle();
       const whileKept = pool.regionUsage().used;
       const sum = kept[1].data.reduce((a, b) => a + b, 0);
       kept = null;
       await settle();
       console.log(JSON.stringify({ failed: pool.failed, afterAll, whileKept, finite: Number.isFinite(sum), after: pool.regionUsage().used, top, memory: pool.memory.buffer.byteLength }));`,
      ["--expose-gc"],
    );
    expect(result.stderr).toBe("");
    const report = JSON.parse(result.stdout.trim()) as Record<string, number | boolean>;
    expect(report.failed).toBe(false);
    expect(report.afterAll).toBe(0);
    expect(report.whileKept).toBeGreaterThan(0);
    expect(report.finite).toBe(true);
    expect(report.after).toBe(0);
    // Regions are given back between collections: the region space never held more than the plans made since
    // the last one (25, plus a few not yet collected), far from the 300 plans made.
    expect(report.top as number).toBeLessThan(60 * (report.whileKept as number));
  });
});
