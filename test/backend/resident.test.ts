import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { jsBackend } from "../../src/backend/index.js";
import { wasmBackend } from "../../src/backend/wasm/index.js";
import { kernelsOf } from "../../src/backend/wasm/runtime.js";
import { residentArray, residentCopy, residentPool } from "../../src/backend/wasm/resident.js";
import { wasmThresholds } from "../../src/backend/wasm/thresholds.js";
import { threadPool, threadsAvailable, type ThreadPool } from "../../src/backend/wasm/threads.js";
import { crossEntropy, getThreads, nn, seed, setThreads, type Tensor } from "../../src/index.js";

// Eager arrays in the thread pool's shared memory (src/backend/wasm/resident.ts): an eager optimiser moves its
// large parameters there, and the wasm backend then reads them in place (products, lookups) and updates them
// there, copying only per-call arrays. Every such path must give the bits of the copying paths it replaces.

const root = fileURLToPath(new URL("../../", import.meta.url));
const saved = { ...wasmThresholds };
const savedThreads = getThreads();
afterEach(() => {
  Object.assign(wasmThresholds, saved);
  setThreads(savedThreads);
  vi.restoreAllMocks();
});

/** The pool, with its workers taken as still spinning (so that every eager path that may split does). */
function warmPool(): ThreadPool {
  setThreads(2);
  const pool = threadPool()!;
  vi.spyOn(pool, "warm", "get").mockReturnValue(true);
  return pool;
}

function values(n: number, seedValue: number, Type: Float32ArrayConstructor | Float64ArrayConstructor) {
  let state = seedValue * 2654435761 + 7;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
  const out = new Type(n);
  for (let i = 0; i < n; i++) out[i] = (next() / 2 ** 31 - 1) * 2;
  return out;
}

describe.skipIf(!threadsAvailable())("resident arrays", () => {
  it("residentCopy: the same values in the pool's memory; itself when already there; null when small or on one thread", () => {
    const pool = warmPool();
    for (const Type of [Float32Array, Float64Array]) {
      const original = values(5000, 1, Type);
      const copy = residentCopy(original)!;
      expect(copy).not.toBe(original);
      expect(copy.constructor).toBe(Type);
      expect(Array.from(copy)).toEqual(Array.from(original));
      expect(kernelsOf(copy)).toBe(pool.kernels);
      expect(residentPool(copy)).toBe(pool);
      expect(residentPool(original)).toBeNull();
      expect(residentCopy(copy)).toBe(copy);
    }
    expect(residentCopy(new Float32Array(wasmThresholds.residentValues - 1))).toBeNull();
    setThreads(1);
    expect(residentCopy(new Float32Array(5000))).toBeNull();
  });

  it("a lookup in a resident table gives the JavaScript loop's rows, split or on one thread (fast-check)", () => {
    const pool = warmPool();
    wasmThresholds.residentValues = 0;
    const split = vi.spyOn(pool, "gatherRows");
    const fallback = vi.spyOn(jsBackend, "gather");
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 400 }),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 1000 }),
        (rows, rowSize, count, f64, splits, s) => {
          const Type = f64 ? Float64Array : Float32Array;
          const table = residentCopy(values(rows * rowSize, s, Type))!;
          const indices = Int32Array.from({ length: count }, (_, i) => (i * 7919 + s) % rows);
          const view = { outer: 1, axis: rows, inner: rowSize };
          const want = new Type(count * rowSize);
          jsBackend.gather(table, view, indices, want);
          wasmThresholds.threadRowValues = splits ? 0 : Infinity;
          split.mockClear();
          fallback.mockClear();
          const out = new Type(count * rowSize).fill(NaN);
          wasmBackend.gather(table, view, indices, out);
          expect(Array.from(out)).toEqual(Array.from(want));
          const kernel = count * rowSize >= wasmThresholds.elementwise;
          expect(split).toHaveBeenCalledTimes(splits && kernel ? 1 : 0);
          // The row kernel's lookup is the whole of it: the JavaScript loop does not run after it.
          expect(fallback).toHaveBeenCalledTimes(kernel ? 0 : 1);
        },
      ),
      { numRuns: 120 },
    );
  });

  it("a lookup in a resident table with an index outside it does what the JavaScript loop does", () => {
    warmPool();
    wasmThresholds.residentValues = 0;
    const table = residentCopy(values(40 * 8, 3, Float32Array))!;
    const view = { outer: 1, axis: 40, inner: 8 };
    for (const bad of [-1, 40, 1000]) {
      const indices = Int32Array.from({ length: 64 }, (_, i) => (i === 33 ? bad : i % 40));
      const want = new Float32Array(64 * 8).fill(7);
      jsBackend.gather(table, view, indices, want);
      const out = new Float32Array(64 * 8).fill(7);
      wasmBackend.gather(table, view, indices, out);
      expect(Array.from(out)).toEqual(Array.from(want));
    }
  });

  it("sums of ordinary rows run on the pool (copied in and out, or written in place into an array there) with the JavaScript loop's bits (fast-check)", () => {
    const pool = warmPool();
    wasmThresholds.threadRowValues = 0;
    const split = vi.spyOn(pool, "sumRows");
    const fallback = vi.spyOn(jsBackend, "sumRows");
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 300 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 1000 }),
        (rows, rowSize, count, f64, warm, inPool, s) => {
          const Type = f64 ? Float64Array : Float32Array;
          vi.spyOn(pool, "warm", "get").mockReturnValue(warm);
          const v = values(count * rowSize, s, Type);
          for (let i = 0; i < v.length; i += 9) v[i] = i % 2 === 0 ? -0 : 0;
          const indices = Int32Array.from({ length: count }, (_, i) => (i * 31 + s) % rows);
          const want = new Type(rows * rowSize).fill(NaN);
          jsBackend.sumRows(v, rowSize, indices, rows, want);
          split.mockClear();
          fallback.mockClear();
          // In the pool: a row before the sums and one after them, neither to be written.
          const size = (rows + 2) * rowSize;
          const around = inPool
            ? (f64 ? residentArray(pool, Float64Array, size) : residentArray(pool, Float32Array, size))!
            : new Type(size);
          around.fill(7);
          const out = around.subarray(rowSize, (rows + 1) * rowSize).fill(NaN);
          const copiedOut = vi.spyOn(out, "set");
          wasmBackend.sumRows(v, rowSize, indices, rows, out);
          expect(Array.from(out)).toEqual(Array.from(want));
          expect(copiedOut).toHaveBeenCalledTimes(inPool ? 0 : 1);
          expect(Array.from(around.subarray(0, rowSize)).every((x) => x === 7)).toBe(true);
          expect(Array.from(around.subarray((rows + 1) * rowSize)).every((x) => x === 7)).toBe(true);
          expect(split).toHaveBeenCalledTimes(warm ? 1 : 0);
          expect(fallback).not.toHaveBeenCalled();
        },
      ),
      { numRuns: 160 },
    );
  });

  it("residentArray: a zeroed array of each type in a region of its own; null past the memory's limit", () => {
    const pool = warmPool();
    const types = [Float32Array, Float64Array, Int32Array] as unknown as (typeof Float32Array)[];
    for (const Type of types) {
      const before = pool.regionUsage().used;
      // What a call left in the per-call area, where the next region may be handed out.
      expect(pool.reserve(pool.base + 16384, wasmThresholds.maxBytes)).toBe(true);
      new Uint8Array(pool.memory.buffer, pool.base, 16384).fill(0xff);
      const array = residentArray(pool, Type, 1001)!;
      expect(array.constructor).toBe(Type);
      expect(array.length).toBe(1001);
      expect(kernelsOf(array)).toBe(pool.kernels);
      expect(pool.regionUsage().used).toBeGreaterThanOrEqual(before + 1001 * Type.BYTES_PER_ELEMENT);
      // Zeroed, although the call before left values there.
      expect(array.every((v) => v === 0)).toBe(true);
      // Two arrays never share bytes.
      const other = residentArray(pool, Type, 7)!;
      expect(
        other.byteOffset >= array.byteOffset + array.byteLength ||
          other.byteOffset + other.byteLength <= array.byteOffset,
      ).toBe(true);
    }
    // Past the memory's limit: null, nothing taken.
    const used = pool.regionUsage().used;
    expect(residentArray(pool, Float64Array, wasmThresholds.maxBytes)).toBeNull();
    expect(pool.regionUsage().used).toBe(used);
  });

  it("a transcendental op of many ordinary values splits on a warm pool, with the one-thread kernel's bits", () => {
    const pool = warmPool();
    wasmThresholds.threadUnaryValues = 1000;
    const split = vi.spyOn(pool, "unary");
    for (const op of ["tanh", "exp", "sigmoid"] as const) {
      const x = values(10_001, 5, Float32Array).map((v) => v * 4);
      setThreads(1);
      const want = new Float32Array(x.length);
      wasmBackend.unary(op, x, want);
      setThreads(2);
      vi.spyOn(pool, "warm", "get").mockReturnValue(true);
      split.mockClear();
      const out = new Float32Array(x.length).fill(NaN);
      wasmBackend.unary(op, x, out);
      expect(split).toHaveBeenCalledTimes(1);
      expect(Array.from(out)).toEqual(Array.from(want));
      // Workers asleep: on the main thread.
      vi.spyOn(pool, "warm", "get").mockReturnValue(false);
      split.mockClear();
      out.fill(NaN);
      wasmBackend.unary(op, x, out);
      expect(split).not.toHaveBeenCalled();
      expect(Array.from(out)).toEqual(Array.from(want));
      // Workers asleep but the op large enough to be worth waking them: split.
      wasmThresholds.wakeValues = 10_000;
      split.mockClear();
      out.fill(NaN);
      wasmBackend.unary(op, x, out);
      expect(split).toHaveBeenCalledTimes(1);
      expect(Array.from(out)).toEqual(Array.from(want));
      wasmThresholds.wakeValues = saved.wakeValues;
    }
  });

  it("a product reads resident operands in place, with the copied product's bits", () => {
    const pool = warmPool();
    wasmThresholds.residentValues = 0;
    const desc = {
      m: 37,
      n: 45,
      k: 61,
      transA: false,
      transB: true,
      batch: 1,
      aOffsets: [0],
      bOffsets: [0],
      outOffsets: [0],
    };
    const a = values(37 * 61, 1, Float32Array);
    const b = values(45 * 61, 2, Float32Array);
    for (const threadFlops of [Infinity, 0]) {
      wasmThresholds.threadFlops = threadFlops;
      const want = new Float32Array(37 * 45);
      wasmBackend.matmul(a, b, want, desc);
      // Memory grown first, so that the view the spy watches is the one the product copies through.
      expect(pool.reserve(pool.base + (1 << 22), wasmThresholds.maxBytes)).toBe(true);
      const copies = vi.spyOn(pool.f32, "set");
      for (const [x, y] of [
        [residentCopy(a)!, b],
        [a, residentCopy(b)!],
        [residentCopy(a)!, residentCopy(b)!],
      ]) {
        copies.mockClear();
        const out = new Float32Array(37 * 45).fill(NaN);
        wasmBackend.matmul(x, y, out, desc);
        expect(Array.from(out)).toEqual(Array.from(want));
        // Only the operands that are not resident are copied in.
        const copied = copies.mock.calls.map(([array]) => array);
        expect(copied.includes(x)).toBe(x === a);
        expect(copied.includes(y)).toBe(y === b);
      }
      copies.mockRestore();
    }
  });

  it("ThreadPool.warm: true right after a task, false once the workers' spin is over; worthSplitting", async () => {
    setThreads(2);
    const pool = threadPool()!;
    wasmThresholds.threadUnaryValues = 0;
    // A spin of 50 ms, not the default 200 µs: on a loaded machine 200 µs can pass between two lines of a test
    // (CI once saw `warm` true and, on the next line, `worthSplitting(10)` false).
    wasmThresholds.spinMicroseconds = 50_000;
    const at = pool.allocateRegion(4096);
    try {
      pool.unary(true, 1, at, at, 1024);
      expect(pool.warm).toBe(true);
      expect(pool.worthSplitting(10)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, wasmThresholds.spinMicroseconds / 1000 + 20));
      expect(pool.warm).toBe(false);
      // Asleep: only what is large enough to be worth waking them for.
      expect(pool.worthSplitting(wasmThresholds.wakeValues - 1)).toBe(false);
      expect(pool.worthSplitting(wasmThresholds.wakeValues)).toBe(true);
    } finally {
      pool.releaseRegion(at, 4096);
    }
  });

  /**
   * The window network trained eagerly: its parameters after `steps` steps. `between(s)` runs before step s (to
   * change a threshold or the optimiser's state mid-run).
   */
  function trainEagerly(
    make: (parameters: Tensor[]) => nn.Optimizer,
    steps: number,
    between: (s: number, optimizer: nn.Optimizer) => void = () => {},
  ) {
    seed(3);
    const embedding = new nn.Embedding(300, 20, { sparse: true });
    const hidden = new nn.Linear(100, 64);
    const output = new nn.Linear(64, 9);
    const parameters = [...embedding.parameters(), ...hidden.parameters(), ...output.parameters()];
    const optimizer = make(parameters);
    for (let s = 0; s < steps; s++) {
      between(s, optimizer);
      const ids = Int32Array.from({ length: 48 * 5 }, (_, i) => (i * 37 + s * 11) % 300);
      const targets = Int32Array.from({ length: 48 }, (_, i) => (i + s) % 9);
      const x = embedding.forward(ids).reshape([48, 100]);
      const loss = crossEntropy(output.forward(hidden.forward(x).tanh()), targets);
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
    }
    return { parameters, optimizer };
  }

  /** The buffers `optimizer` coalesces the table's row-sparse gradient into (its first parameter's). */
  const coalescing = (optimizer: nn.Optimizer) =>
    (optimizer as unknown as { coalescing: ({ unique: Int32Array; values: Float32Array } | undefined)[] })
      .coalescing[0]!;

  const optimisers: [string, (parameters: Tensor[]) => nn.Optimizer][] = [
    ["SGD", (p) => new nn.SGD(p, { lr: 0.1 })],
    [
      "SGD with Nesterov momentum and weight decay",
      (p) => new nn.SGD(p, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }),
    ],
    ["Adam", (p) => new nn.Adam(p, { lr: 0.01 })],
    ["AdamW", (p) => new nn.AdamW(p, { lr: 0.01, weightDecay: 0.01 })],
    ["AdaGrad", (p) => new nn.AdaGrad(p, { lr: 0.05 })],
  ];

  for (const [name, make] of optimisers) {
    it(`${name}, eager: the large parameters and their state move into the pool's memory, with the copying path's bits`, () => {
      const pool = warmPool();
      // Every path that may split, splits.
      Object.assign(wasmThresholds, {
        threadRowValues: 0,
        threadUpdateValues: 0,
        threadUnaryValues: 0,
        threadFlops: 0,
      });
      wasmThresholds.residentValues = Infinity;
      const copied = trainEagerly(make, 4);
      expect(copied.parameters.every((p) => kernelsOf(p.data) === null)).toBe(true);
      wasmThresholds.residentValues = saved.residentValues;
      const update = vi.spyOn(pool, "update");
      const buffersAt: unknown[] = [];
      const resident = trainEagerly(make, 4, (s, optimizer) => {
        if (s >= 2) buffersAt.push(coalescing(optimizer).values);
      });
      expect(buffersAt[0]).toBe(buffersAt[1]);
      expect(update).toHaveBeenCalled();
      // The table (6,000 values) and the hidden weights (6,400) moved; the biases and output weights did not.
      const moved = resident.parameters.map((p) => kernelsOf(p.data) === pool.kernels);
      expect(moved).toEqual([true, true, false, false, false]);
      // Their state buffers (momentum, moments, sums) live beside them.
      for (const index of [0, 1]) {
        for (const buffer of resident.optimizer.stateOf(index)!.buffers.values()) {
          expect(kernelsOf(buffer.data)).toBe(pool.kernels);
        }
      }
      // So do the buffers the table's row-sparse gradient is coalesced into, made once and reused at every step
      // (the copied run kept ordinary ones).
      expect(kernelsOf(coalescing(resident.optimizer).values)).toBe(pool.kernels);
      expect(kernelsOf(coalescing(resident.optimizer).unique)).toBe(pool.kernels);
      expect(kernelsOf(coalescing(copied.optimizer).values)).toBeNull();
      resident.parameters.forEach((p, i) =>
        expect(Array.from(p.data)).toEqual(Array.from(copied.parameters[i]!.data)),
      );
    });
  }
  it("state buffers made before their parameter moved, or restored by loadStateDict, join it (the same bits)", () => {
    const pool = warmPool();
    Object.assign(wasmThresholds, { threadRowValues: 0, threadUpdateValues: 0 });
    const make = (p: Tensor[]) => new nn.SGD(p, { lr: 0.05, momentum: 0.9 });
    wasmThresholds.residentValues = Infinity;
    const copied = trainEagerly(make, 6);
    const resident = trainEagerly(make, 6, (s, optimizer) => {
      // Two steps with nothing moved (the momentum buffers are made then), then the parameters move with them.
      if (s === 2) wasmThresholds.residentValues = saved.residentValues;
      // A restored state: ordinary arrays again, moved back at the next step.
      if (s === 4) optimizer.loadStateDict(optimizer.stateDict());
      if (s === 3 || s === 5) {
        for (const index of [0, 1]) {
          for (const buffer of optimizer.stateOf(index)!.buffers.values()) {
            expect(kernelsOf(buffer.data)).toBe(pool.kernels);
          }
        }
      }
    });
    for (const index of [0, 1]) {
      expect(kernelsOf(resident.parameters[index]!.data)).toBe(pool.kernels);
      for (const buffer of resident.optimizer.stateOf(index)!.buffers.values()) {
        expect(kernelsOf(buffer.data)).toBe(pool.kernels);
      }
    }
    resident.parameters.forEach((p, i) =>
      expect(Array.from(p.data)).toEqual(Array.from(copied.parameters[i]!.data)),
    );
  });
});

describe.skipIf(!threadsAvailable())("resident parameters, in a process of their own", () => {
  it("regions of eagerly trained parameters go back to the pool once the parameters are collected", () => {
    const script = `
      import { crossEntropy, nn, seed, setThreads, wasmThresholds } from "./src/node.ts";
      import { runningPool } from "./src/backend/wasm/threads.ts";
      import { residentCopy } from "./src/backend/wasm/resident.ts";
      setThreads(2);
      // No pool is started for residency alone.
      const beforePool = residentCopy(new Float32Array(5000)) === null && runningPool() === null;
      // The products split, which starts the pool.
      wasmThresholds.threadFlops = 0;
      function train() {
        seed(1);
        const embedding = new nn.Embedding(500, 10, { sparse: true });
        const hidden = new nn.Linear(50, 100);
        const parameters = [...embedding.parameters(), ...hidden.parameters()];
        const optimizer = new nn.SGD(parameters, { lr: 0.05, momentum: 0.5 });
        for (let s = 0; s < 2; s++) {
          const ids = Int32Array.from({ length: 40 }, (_, i) => (i * 7 + s) % 500);
          const loss = crossEntropy(hidden.forward(embedding.forward(ids).reshape([8, 50])), Int32Array.from({ length: 8 }, (_, i) => i));
          optimizer.zeroGrad();
          loss.backward();
          optimizer.step();
        }
        return parameters;
      }
      const settle = async () => {
        for (let i = 0; i < 4; i++) { globalThis.gc(); await new Promise((resolve) => setTimeout(resolve, 5)); }
      };
      let kept = train();
      const pool = runningPool();
      const whileKept = pool.regionUsage().used;
      const resident = kept[0].data.buffer instanceof SharedArrayBuffer;
      for (let i = 0; i < 200; i++) train();
      kept = null;
      await settle();
      console.log(JSON.stringify({ beforePool, failed: pool.failed, resident, whileKept, after: pool.regionUsage().used }));`;
    const result = spawnSync(
      process.execPath,
      ["--expose-gc", "--import", "tsx", "--input-type=module", "-e", script],
      {
        cwd: root,
        encoding: "utf8",
        timeout: 120_000,
      },
    );
    expect(result.stderr).toBe("");
    const report = JSON.parse(result.stdout.trim()) as Record<string, number | boolean>;
    expect(report.beforePool).toBe(true);
    expect(report.failed).toBe(false);
    expect(report.resident).toBe(true);
    // The table, the weights and their momentum buffers: 4 regions.
    expect(report.whileKept as number).toBeGreaterThanOrEqual(2 * 4 * (5000 + 5000));
    expect(report.after).toBe(0);
  });
});
