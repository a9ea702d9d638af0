import { afterEach, describe, expect, it } from "vitest";
import { RowSparse, Tensor, getBackend, nn, setBackend, tensor } from "../../src/index.js";
import { wasmThresholds } from "../../src/backend/wasm/thresholds.js";
import { kernelsOf, requireKernels } from "../../src/backend/wasm/runtime.js";
import {
  optimizerKernels,
  wasmAdaGrad,
  wasmAdam,
  wasmSgd,
  type OptimizerArray,
} from "../../src/backend/wasm/optim.js";
import { bits } from "./helpers.js";

// The optimisers' WebAssembly kernels (assembly/optim.ts) against the JavaScript loops of src/nn/optim.ts: several
// steps on random parameters, dense and row-sparse, float32 and float64, each optimiser and option; the kernels
// compute in float64 in the loops' order, so the parameters and states must agree bit for bit.

const { SGD, Adam, AdamW, AdaGrad } = nn;
type Dtype = "float32" | "float64";

/** A reproducible pseudo-random number in [−1, 1) (a small LCG: the tests must not depend on the global seed). */
function generator(seedValue: number): () => number {
  let state = seedValue >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  };
}

const OPTIMIZERS: [string, (ps: Tensor[]) => nn.Optimizer][] = [
  ["SGD", (ps) => new SGD(ps, { lr: 0.1 })],
  ["SGD, weight decay", (ps) => new SGD(ps, { lr: 0.1, weightDecay: 0.01 })],
  ["SGD, momentum", (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9 })],
  [
    "SGD, momentum, dampening, weight decay",
    (ps) => new SGD(ps, { lr: 0.05, momentum: 0.8, dampening: 0.3, weightDecay: 0.02 }),
  ],
  ["SGD, Nesterov", (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.001 })],
  ["Adam", (ps) => new Adam(ps, { lr: 0.01 })],
  ["Adam, L2", (ps) => new Adam(ps, { lr: 0.01, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 })],
  ["AdamW", (ps) => new AdamW(ps, { lr: 0.01 })],
  ["AdaGrad", (ps) => new AdaGrad(ps, { lr: 0.1 })],
  [
    "AdaGrad, decay, initial accumulator",
    (ps) => new AdaGrad(ps, { lr: 0.1, lrDecay: 0.1, weightDecay: 0.01, initialAccumulatorValue: 0.1 }),
  ],
];

/** Parameters of awkward sizes (odd, so the kernels' last single lane runs) and their gradients per step. */
function problem(dtype: Dtype, sparse: boolean, steps: number) {
  const random = generator(sparse ? 7 : 3);
  const shapes = sparse ? [[40, 7]] : [[13, 9], [31], [2, 2]];
  const initial = shapes.map((shape) => Array.from({ length: shape.reduce((a, b) => a * b, 1) }, random));
  const gradients = Array.from({ length: steps }, (_, step) =>
    shapes.map((shape) => {
      if (!sparse) return { values: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, random) };
      // Rows repeat within a step (coalesce sums them) and change from step to step (lazy state).
      const rows = [step % 5, 11, (step * 7) % 40, 39, step % 5, 0];
      return { rows, values: Array.from({ length: rows.length * shape[1]! }, random) };
    }),
  );
  return { shapes, initial, gradients, dtype };
}

/**
 * A table of 3,000 rows whose row-sparse gradients hold more rows than one block the updates touch ahead at a
 * time (128): 150 rows far apart (touched first) and a run of 200 neighbours (not touched), in shuffled order
 * with repeats, so that some blocks are touched and some are not.
 */
function manyRowsProblem(dtype: Dtype, steps: number) {
  const random = generator(5);
  const shape = [3000, 3];
  const initial = [Array.from({ length: 9000 }, random)];
  const gradients = Array.from({ length: steps }, (_, step) => {
    const rows: number[] = [];
    for (let k = 0; k < 150; k++) rows.push((k * 37 + step * 11) % 3000);
    for (let k = 0; k < 200; k++) rows.push(1000 + step + k);
    for (let k = 0; k < 40; k++) rows.push(rows[(k * 13) % rows.length]!);
    for (let k = rows.length - 1; k > 0; k--) {
      const j = Math.floor(((random() + 1) / 2) * (k + 1));
      [rows[k], rows[j]] = [rows[j]!, rows[k]!];
    }
    return [{ rows, values: Array.from({ length: rows.length * 3 }, random) }];
  });
  return { shapes: [shape], initial, gradients, dtype };
}

/**
 * Runs `make`'s optimiser through the problem's steps on `backend` and returns the parameters and the state.
 * With `resident`, the parameters, their gradients' values and rows and (from the second step, once the
 * optimiser made it) the state live in the kernels' WebAssembly memory, as a compiled step's do, so that the
 * updates run there in place (the test checks that every array is there before each such step).
 */
function run(
  backend: string,
  make: (ps: Tensor[]) => nn.Optimizer,
  p: ReturnType<typeof problem>,
  resident = false,
) {
  const previous = getBackend();
  setBackend(backend);
  const kernels = requireKernels();
  // Above the area where calls lay out their copies (from `base`), which a dense update outside would overwrite.
  let at = kernels.base + 2 ** 20;
  /** A copy of `array` in the kernels' memory (laid out one after another; memory grown up front). */
  const place = <T extends OptimizerArray | Int32Array>(array: T): T => {
    at = Math.ceil(at / 8) * 8;
    const copy = new (array.constructor as new (buffer: ArrayBufferLike, at: number, length: number) => T)(
      kernels.memory.buffer,
      at,
      array.length,
    );
    copy.set(array as never);
    at += array.byteLength;
    return copy;
  };
  if (resident) expect(kernels.reserve(kernels.base + 2 ** 21)).toBe(true);
  try {
    const params = p.shapes.map((shape, i) =>
      tensor(p.initial[i]!, { shape, dtype: p.dtype, requiresGrad: true }),
    );
    if (resident) for (const param of params) param._data = place(param._data as OptimizerArray);
    const optimizer = make(params);
    p.gradients.forEach((step, s) => {
      step.forEach((g, i) => {
        const param = params[i]!;
        if (g.rows === undefined) {
          param.grad = tensor(g.values, { shape: param.shape, dtype: p.dtype });
          if (resident) param.grad._data = place(param.grad._data as OptimizerArray);
        } else {
          const values = tensor(g.values, { shape: [g.rows.length, param.shape[1]!], dtype: p.dtype });
          param.sparseGrad = new RowSparse(param.shape, Int32Array.from(g.rows), values);
          if (resident) {
            // Coalesced into WebAssembly memory, as a compiled step coalesces it into its own buffers.
            const { indices, values: sums } = param.sparseGrad.coalesce();
            sums._data = place(sums._data as OptimizerArray);
            param.sparseGrad = new RowSparse(param.shape, place(indices), sums, true);
          }
        }
        if (resident && s > 0) {
          const buffers = [...(optimizer.stateOf(i)?.buffers.values() ?? [])];
          if (s === 1) for (const b of buffers) b._data = place(b._data as OptimizerArray);
          const sparse = param.sparseGrad;
          const arrays = [param._data, ...buffers.map((b) => b._data)];
          if (sparse) arrays.push(sparse.values._data, sparse.indices);
          else arrays.push(param.grad!._data);
          for (const array of arrays) expect(kernelsOf(array)).toBe(kernels);
        }
      });
      optimizer.step();
      optimizer.zeroGrad();
    });
    const state = Object.entries(optimizer.stateDict()).map(([name, t]) => [
      name,
      bits(t.data as OptimizerArray),
    ]);
    return { params: params.map((t) => bits(t.data as OptimizerArray)), state };
  } finally {
    setBackend(previous);
  }
}

describe("the optimisers on the wasm backend", () => {
  const saved = { ...wasmThresholds };
  afterEach(() => Object.assign(wasmThresholds, saved));

  for (const dtype of ["float32", "float64"] as const) {
    for (const sparse of [false, true]) {
      it(`give the JavaScript loops' results bit for bit (${dtype}, ${sparse ? "row-sparse" : "dense"})`, () => {
        wasmThresholds.elementwise = 0;
        const p = problem(dtype, sparse, 4);
        for (const [name, make] of OPTIMIZERS) {
          const js = run("js", make, p);
          // Eager arrays (a dense update copied into WebAssembly memory; a row-sparse one takes the JavaScript
          // loop), and arrays in WebAssembly memory (updated there in place, rows and all).
          for (const resident of [false, true]) {
            const wasm = run("wasm", make, p, resident);
            expect(wasm.params, name).toEqual(js.params);
            expect(wasm.state, name).toEqual(js.state);
          }
          // The steps moved the parameters (a comparison of two unchanged copies would prove nothing).
          expect(js.params, name).not.toEqual(run("js", (ps) => new SGD(ps, { lr: 0 }), p).params);
        }
      });
    }
  }

  for (const dtype of ["float32", "float64"] as const) {
    it(`update rows over several blocks, far apart and close together, as a plain loop would (${dtype})`, () => {
      wasmThresholds.elementwise = 0;
      const p = manyRowsProblem(dtype, 3);
      for (const [name, make] of OPTIMIZERS) {
        const js = run("js", make, p);
        const wasm = run("wasm", make, p, true);
        expect(wasm.params, name).toEqual(js.params);
        expect(wasm.state, name).toEqual(js.state);
      }
      // Plain SGD against the rule written out: each used row once per step, θ ← θ − α Σ g (summed in order).
      const round = dtype === "float32" ? Math.fround : (v: number) => v;
      const theta = p.initial[0]!.map(round);
      for (const [{ rows, values }] of p.gradients) {
        const sums = new Map<number, number[]>();
        rows!.forEach((row, k) => {
          const sum = sums.get(row) ?? [0, 0, 0];
          for (let i = 0; i < 3; i++) sum[i] = round(sum[i]! + round(values[k * 3 + i]!));
          sums.set(row, sum);
        });
        for (const [row, sum] of sums) {
          for (let i = 0; i < 3; i++) theta[row * 3 + i] = round(theta[row * 3 + i]! - 0.1 * sum[i]!);
        }
      }
      const expected = bits(dtype === "float32" ? Float32Array.from(theta) : Float64Array.from(theta));
      const plain = (ps: Tensor[]) => new SGD(ps, { lr: 0.1 });
      expect(run("js", plain, p).params[0]).toEqual(expected);
      expect(run("wasm", plain, p, true).params[0]).toEqual(expected);
      expect(run("wasm", plain, p).params[0]).toEqual(expected);
    });
  }

  it("the eager helpers run the kernels (they report doing so) and agree with a plain loop", () => {
    wasmThresholds.elementwise = 0;
    const random = generator(11);
    const n = 1001;
    const param = Float32Array.from({ length: n }, random);
    const grad = Float32Array.from({ length: n }, random);
    const expected = Float32Array.from(param, (theta, i) => theta - 0.25 * (grad[i]! + 0.5 * theta));
    expect(
      wasmSgd(
        { param, grad, rows: null, rowSize: n, state: [] },
        { lr: 0.25, weightDecay: 0.5, momentum: 0, keep: 1, nesterov: false, first: true },
      ),
    ).toBe(true);
    expect(bits(param)).toEqual(bits(expected));
    // Row-sparse: rows 4 and 1 of a 5 × 3 table, the others untouched.
    const table = Float64Array.from({ length: 15 }, random);
    const before = Float64Array.from(table);
    const sum = new Float64Array(15).fill(0.5);
    const values = Float64Array.from({ length: 6 }, random);
    const adagrad = { rate: 0.1, weightDecay: 0, eps: 1e-10 };
    const rows = Int32Array.of(4, 1);
    // Outside WebAssembly memory a row-sparse update is left to the JavaScript loop: refused, nothing written.
    expect(wasmAdaGrad({ param: table, grad: values, rows, rowSize: 3, state: [sum] }, adagrad)).toBe(false);
    expect(Array.from(table)).toEqual(Array.from(before));
    // In the kernels' memory it runs there, in place.
    const kernels = requireKernels();
    expect(kernels.reserve(kernels.base + 4096)).toBe(true);
    const residentTable = new Float64Array(kernels.memory.buffer, kernels.base, 15);
    const residentSum = new Float64Array(kernels.memory.buffer, kernels.base + 128, 15);
    const residentValues = new Float64Array(kernels.memory.buffer, kernels.base + 256, 6);
    const residentRows = new Int32Array(kernels.memory.buffer, kernels.base + 320, 2);
    residentTable.set(table);
    residentSum.set(sum);
    residentValues.set(values);
    residentRows.set(rows);
    expect(
      wasmAdaGrad(
        { param: residentTable, grad: residentValues, rows: residentRows, rowSize: 3, state: [residentSum] },
        adagrad,
      ),
    ).toBe(true);
    table.set(residentTable);
    sum.set(residentSum);
    for (let row = 0; row < 5; row++) {
      for (let j = 0; j < 3; j++) {
        const i = row * 3 + j;
        const k = row === 4 ? j : row === 1 ? 3 + j : -1;
        if (k < 0) {
          expect(table[i]).toBe(before[i]);
          expect(sum[i]).toBe(0.5);
          continue;
        }
        const g = values[k]!;
        expect(sum[i]).toBe(0.5 + g * g);
        expect(table[i]).toBe(before[i]! - (0.1 * g) / (Math.sqrt(0.5 + g * g) + 1e-10));
      }
    }
    // Mixed float types are refused (the caller then runs its JavaScript loop), and nothing is written.
    const mixed = Float32Array.from(param);
    expect(
      wasmAdam(
        {
          param: mixed,
          grad: new Float64Array(n),
          rows: null,
          rowSize: n,
          state: [new Float32Array(n), new Float32Array(n)],
        },
        { beta1: 0.9, beta2: 0.999, stepSize: 0.1, correction2: 1, eps: 1e-8, l2: 0, shrink: 1 },
      ),
    ).toBe(false);
    expect(bits(mixed)).toEqual(bits(param));
  });

  it("the row kernels update rows of a table kept in WebAssembly memory, as a compiled step calls them", () => {
    const kernels = requireKernels();
    const kernelsF32 = optimizerKernels("float32");
    const rowSize = 5;
    const tableRows = 6;
    const random = generator(5);
    const table = Float32Array.from({ length: tableRows * rowSize }, random);
    const rows = Int32Array.of(5, 2);
    const grad = Float32Array.from({ length: rows.length * rowSize }, random);
    // The same update by the JavaScript loop: momentum SGD (Nesterov, weight decay), first step.
    const previous = getBackend();
    setBackend("js");
    const eager = tensor(Array.from(table), {
      shape: [tableRows, rowSize],
      dtype: "float32",
      requiresGrad: true,
    });
    const sgd = new SGD([eager], { lr: 0.1, weightDecay: 0.01, momentum: 0.9, nesterov: true });
    eager.sparseGrad = new RowSparse(eager.shape, rows, tensor(Array.from(grad), { shape: [2, rowSize] }));
    sgd.step();
    setBackend(previous);
    const eagerTable = eager.data as Float32Array;
    const eagerBuffer = sgd.stateOf(0)!.buffers.get("momentum")!.data as Float32Array;
    // Lay the table, its momentum buffer, the gradient and the row indices out from `base`.
    const tableAt = kernels.base;
    const bufferAt = tableAt + 128;
    const gradAt = bufferAt + 128;
    const rowsAt = gradAt + 64;
    expect(kernels.reserve(rowsAt + 16)).toBe(true);
    kernels.f32.set(table, tableAt / 4);
    kernels.f32.fill(0, bufferAt / 4, bufferAt / 4 + table.length);
    kernels.f32.set(grad, gradAt / 4);
    kernels.i32.set(rows, rowsAt / 4);
    kernelsF32.sgdRows(tableAt, gradAt, bufferAt, rowsAt, rows.length, rowSize, 0.1, 0.01, 0.9, 1, 1 | 2);
    const after = kernels.f32.slice(tableAt / 4, tableAt / 4 + table.length);
    const buffer = kernels.f32.slice(bufferAt / 4, bufferAt / 4 + table.length);
    expect(bits(after)).toEqual(bits(eagerTable));
    expect(bits(buffer)).toEqual(bits(eagerBuffer));
    expect(bits(after)).not.toEqual(bits(table));
  });
});

describe("RowSparse.coalesce (the sparse optimisers' first step)", () => {
  it("sums repeated rows into ascending distinct rows, for random indices", () => {
    const random = generator(17);
    for (let trial = 0; trial < 20; trial++) {
      const tableRows = 1 + Math.floor((random() + 1) * 50);
      const count = Math.floor((random() + 1) * 40);
      const indices = Int32Array.from({ length: count }, () => Math.floor(((random() + 1) / 2) * tableRows));
      const values = Float64Array.from({ length: count * 3 }, random);
      const sparse = new RowSparse(
        [tableRows, 3],
        indices,
        tensor(values, { shape: [count, 3], dtype: "float64" }),
      );
      const expected = new Map<number, number[]>();
      indices.forEach((row, i) => {
        const sum = expected.get(row) ?? [0, 0, 0];
        for (let j = 0; j < 3; j++) sum[j]! += values[i * 3 + j]!;
        expected.set(row, sum);
      });
      const rows = [...expected.keys()].sort((a, b) => a - b);
      const coalesced = sparse.coalesce();
      expect(Array.from(coalesced.indices)).toEqual(rows);
      expect(Array.from(coalesced.values.data)).toEqual(rows.flatMap((row) => expected.get(row)!));
    }
  });
});
