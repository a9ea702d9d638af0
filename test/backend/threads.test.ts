import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { getThreads, setThreads, wasmBackend, wasmThresholds } from "../../src/index.js";
import { jsBackend } from "../../src/backend/index.js";
import fc from "fast-check";
import { requireKernels } from "../../src/backend/wasm/runtime.js";
import { threadPool, threadsAvailable } from "../../src/backend/wasm/threads.js";
import { ValueError } from "../../src/errors.js";
import {
  randomArray as random,
  singleProduct as single,
  restoreThreadSettingsAfterEach,
} from "../helpers.js";
import type { MatmulDesc } from "../../src/backend/backend.js";
import { wasmAdaGrad, wasmAdam, wasmSgd, type OptimizerSpans } from "../../src/backend/wasm/optim.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** Runs an ES module snippet in a fresh Node process with tsx (so it can import src/*.ts). */
function runNode(code: string, env: Record<string, string> = {}, flags: string[] = []) {
  return spawnSync(process.execPath, [...flags, "--import", "tsx", "--input-type=module", "-e", code], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 120_000,
  });
}

/** The kernels' cut of m rows into chunks (assembly/matmul.ts), which the main thread and the workers call. */
function rowChunkStart(chunk: number, m: number, most: number, threads: number, tile: number): number {
  return requireKernels().exports.matmulRowChunkStart(chunk, m, most, threads, tile);
}

restoreThreadSettingsAfterEach();

describe.skipIf(!threadsAvailable())("matrix products on several threads", () => {
  // Every chunk of output rows is computed by one thread with the single-thread kernel, so the results must be
  // bit-identical to one thread's, whatever the split.
  const cases: [number, number, number][] = [
    [8, 8, 8],
    [9, 17, 5],
    [9, 300, 40],
    [37, 65, 300],
    [12, 70, 40],
    [32, 300, 250],
    [130, 33, 257],
    [256, 300, 250],
  ];
  for (const Type of [Float32Array, Float64Array]) {
    for (const [m, n, k] of cases) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          it(`${Type.name} ${m}×${k}·${k}×${n} transA ${transA} transB ${transB}: identical to one thread`, () => {
            wasmThresholds.threadFlops = 0;
            const batch = 3;
            // A broadcast over the batch (offset 0 each time), B and out per batch entry.
            const a = random(m * k, m + n, Type);
            const b = random(batch * k * n, k, Type);
            const desc: MatmulDesc = {
              m,
              n,
              k,
              transA,
              transB,
              batch,
              aOffsets: [0, 0, 0],
              bOffsets: [0, k * n, 2 * k * n],
              outOffsets: [0, m * n, 2 * m * n],
            };
            setThreads(1);
            const one = new Type(batch * m * n);
            wasmBackend.matmul(a, b, one, desc);
            for (const threads of [2, 3]) {
              setThreads(threads);
              const many = new Type(batch * m * n).fill(NaN);
              wasmBackend.matmul(a, b, many, desc);
              expect(Array.from(many)).toEqual(Array.from(one));
            }
            // And with every chunk left to the workers.
            const pool = threadPool()!;
            pool.mainTakesChunks = false;
            try {
              const workers = new Type(batch * m * n).fill(NaN);
              wasmBackend.matmul(a, b, workers, desc);
              expect(Array.from(workers)).toEqual(Array.from(one));
            } finally {
              pool.mainTakesChunks = true;
            }
            expect(threadPool()!.workerCount).toBe(2);
          });
        }
      }
    }
  }

  it("a product with few rows is cut by columns too, so that the threads share it evenly", () => {
    wasmThresholds.threadFlops = 0;
    setThreads(2);
    const pool = threadPool()!;
    const rows = vi.spyOn(pool, "rows");
    const [m, n, k] = [32, 300, 250]; // 6.4 tiles of 5 rows (5.3 of 6): row chunks would split unevenly
    const a = random(m * k, 3, Float32Array);
    const b = random(k * n, 4, Float32Array);
    const desc = single(m, n, k);
    const out = new Float32Array(m * n);
    wasmBackend.matmul(a, b, out, desc);
    const call = rows.mock.calls[0]!;
    expect(call[8]).toBe(m); // one chunk of rows …
    expect(call[11]).toBe(80); // … in blocks of 10 panels of 8 columns: 4 blocks, two a thread
    // Each block packs its own columns of B first: no packing chunks of their own.
    expect(call[12]).not.toBe(0);
    expect(call[16]).toBe(0);
    // A B broadcast over a batch is packed by the first product's blocks only; the next ones read it packed.
    rows.mockClear();
    const broadcast = {
      ...desc,
      batch: 3,
      aOffsets: [0, 0, 0],
      bOffsets: [0, 0, 0],
      outOffsets: [0, m * n, 2 * m * n],
    };
    const three = new Float32Array(3 * m * n).fill(NaN);
    wasmBackend.matmul(a, b, three, broadcast);
    expect(rows.mock.calls.map((c) => c[12] !== 0)).toEqual([true, false, false]);
    for (let t = 0; t < 3; t++)
      expect(Array.from(three.subarray(t * m * n, (t + 1) * m * n))).toEqual(Array.from(out));
    // The rows need one chunk of rows for that: several chunks of rows would share a column.
    expect(() => pool.rows(true, 0, 0, 0, 10, 16, 4, 0, 5, 0, 0, 8, 64, 0)).toThrow(/single chunk of rows/);
    // … unless its first chunks pack B (packColumns), or it has no columns to pack.
    const at = pool.base;
    expect(pool.reserve(at + 4096, wasmThresholds.maxBytes)).toBe(true);
    expect(() => pool.rows(true, at, at, at, 10, 0, 4, 0, 5, at, 64, 1, at, 0)).not.toThrow();
    // A product with many rows is cut by rows only, and its first chunks pack B in blocks of 10 panels.
    rows.mockClear();
    const tall = { ...desc, m: 256 };
    wasmBackend.matmul(random(256 * k, 5, Float32Array), b, new Float32Array(256 * n), tall);
    expect(rows.mock.calls[0]![11]).toBe(n);
    expect(rows.mock.calls[0]![12]).not.toBe(0);
    expect(rows.mock.calls[0]![16]).toBe(80);
    // Fewer than 10 rows (an output layer's weight gradient: 9 rows of 300) split by columns only …
    rows.mockClear();
    const nine = { ...desc, m: 9 };
    wasmBackend.matmul(random(9 * k, 6, Float32Array), b, new Float32Array(9 * n), nine);
    expect(rows.mock.calls[0]![8]).toBe(9);
    expect(rows.mock.calls[0]![11]).toBe(80);
    // … unless they have too few columns for two blocks a thread (17 columns: 3 panels).
    rows.mockClear();
    const narrow = { ...desc, m: 9, n: 17 };
    const b17 = random(k * 17, 7, Float32Array);
    wasmBackend.matmul(random(9 * k, 6, Float32Array), b17, new Float32Array(9 * 17), narrow);
    expect(rows).not.toHaveBeenCalled();
    rows.mockRestore();
  });

  it("a product's chunks of rows shrink toward the last, so that the threads finish together", () => {
    wasmThresholds.threadFlops = 0;
    setThreads(2);
    const pool = threadPool()!;
    const rows = vi.spyOn(pool, "rows");
    const [m, n, k] = [256, 300, 250];
    const desc = single(m, n, k);
    const a = random(m * k, 8, Float32Array);
    const b = random(k * n, 9, Float32Array);
    const out = new Float32Array(m * n);
    wasmBackend.matmul(a, b, out, desc);
    const most = rows.mock.calls[0]![8];
    expect(most).toBe(120); // at most one of the kernel's blocks of rows
    const starts = Array.from(
      { length: requireKernels().exports.matmulRowChunkCount(m, most, 2, 5) + 1 },
      (_, c) => rowChunkStart(c, m, most, 2, 5),
    );
    expect(starts).toEqual([0, 120, 190, 225, 245, 256]);
    rows.mockRestore();
    // Left to the workers alone (each chunk its own rows), the rows are the main thread's too.
    pool.mainTakesChunks = false;
    try {
      const workers = new Float32Array(m * n).fill(NaN);
      wasmBackend.matmul(a, b, workers, desc);
      expect(Array.from(workers)).toEqual(Array.from(out));
    } finally {
      pool.mainTakesChunks = true;
    }
  });

  it("the products are right (against a direct triple loop)", () => {
    wasmThresholds.threadFlops = 0;
    setThreads(2);
    const [m, n, k] = [70, 45, 33];
    const a = random(m * k, 1, Float64Array);
    const b = random(k * n, 2, Float64Array);
    const out = new Float64Array(m * n);
    const zero = [0];
    wasmBackend.matmul(a, b, out, {
      m,
      n,
      k,
      transA: false,
      transB: false,
      batch: 1,
      aOffsets: zero,
      bOffsets: zero,
      outOffsets: zero,
    });
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) sum += a[i * k + p]! * b[p * n + j]!;
        expect(out[i * n + j]).toBeCloseTo(sum, 10);
      }
    }
  });

  it("a script that used the pool exits by itself (the workers do not keep it alive)", () => {
    const result = runNode(
      `import { matmul, randn, setThreads } from "./src/index.ts";
       import { threadPool } from "./src/backend/wasm/threads.ts";
       setThreads(2);
       const a = randn([300, 300]);
       matmul(a, a);
       console.log("workers", threadPool()?.workerCount, threadPool()?.failed);`,
    );
    expect(result.signal).toBeNull();
    expect(result.stderr).toBe("");
    // Started from a script given with -e and --input-type=module, whose options workers must not inherit.
    expect(result.stdout.trim()).toBe("workers 1 false");
    expect(result.status).toBe(0);
  });
});

describe.skipIf(!threadsAvailable())("elementwise ops on several threads", () => {
  // A compiled plan's activation (exp, tanh, σ of many values in the pool's memory) is split in chunks of values
  // among the threads, each value computed as one call computes it: one call's bits, whatever the split.
  const ops: [string, number, Float32ArrayConstructor | Float64ArrayConstructor][] = [
    ["exp", 7, Float32Array],
    ["tanh", 8, Float32Array],
    ["sigmoid", 9, Float32Array],
    ["sqrt", 4, Float64Array],
  ];
  for (const [name, code, Type] of ops) {
    it(`${name} (${Type.name}) gives one call's bits, into another array and in place`, () => {
      setThreads(2);
      const pool = threadPool()!;
      const n = 20_011;
      const size = Type.BYTES_PER_ELEMENT;
      const input = random(n, 5, Type).map((v) => (code === 4 ? Math.abs(v) * 9 : v * 6));
      // Each array padded to 16 bytes, as the kernels require (they write whole vectors).
      const stride = Math.ceil((n * size) / 16) * 16;
      const at = pool.allocateRegion(3 * stride);
      const x = new Type(pool.memory.buffer, at, n);
      const out = new Type(pool.memory.buffer, at + stride, n);
      const one = new Type(pool.memory.buffer, at + 2 * stride, n);
      x.set(input);
      (Type === Float32Array ? pool.exports.unaryF32 : pool.exports.unaryF64)(code, at, one.byteOffset, n);
      out.fill(NaN);
      pool.unary(Type === Float32Array, code, at, out.byteOffset, n);
      expect(Array.from(out)).toEqual(Array.from(one));
      expect(Array.from(x)).toEqual(Array.from(input));
      // In place, with every chunk left to the workers.
      pool.mainTakesChunks = false;
      try {
        pool.unary(Type === Float32Array, code, at, at, n);
      } finally {
        pool.mainTakesChunks = true;
      }
      expect(Array.from(x)).toEqual(Array.from(one));
      pool.releaseRegion(at, 3 * stride);
    });
  }

  for (const kind of ["tanh", "sigmoid"] as const) {
    it(`the ${kind} derivative gives one call's bits, into another array and in place of g`, () => {
      setThreads(2);
      const pool = threadPool()!;
      const n = 20_011;
      const stride = Math.ceil((n * 4) / 16) * 16;
      const at = pool.allocateRegion(4 * stride);
      const [y, g, out, one] = [0, 1, 2, 3].map(
        (i) => new Float32Array(pool.memory.buffer, at + i * stride, n),
      );
      y!.set(random(n, 8, Float32Array).map((v) => (kind === "tanh" ? v : (v + 1) / 2)));
      const gradient = random(n, 9, Float32Array).map((v) => v * 3);
      g!.set(gradient);
      const single = kind === "tanh" ? pool.exports.tanhBackwardF32 : pool.exports.sigmoidBackwardF32;
      single(y!.byteOffset, g!.byteOffset, one!.byteOffset, n);
      out!.fill(NaN);
      pool.derivative(kind, y!.byteOffset, g!.byteOffset, out!.byteOffset, n);
      expect(Array.from(out!)).toEqual(Array.from(one!));
      expect(Array.from(g!)).toEqual(Array.from(gradient));
      pool.mainTakesChunks = false;
      try {
        pool.derivative(kind, y!.byteOffset, g!.byteOffset, g!.byteOffset, n);
      } finally {
        pool.mainTakesChunks = true;
      }
      expect(Array.from(g!)).toEqual(Array.from(one!));
      pool.releaseRegion(at, 4 * stride);
    });
  }
});

describe.skipIf(!threadsAvailable())("optimiser updates on several threads", () => {
  // A compiled step's dense update (its parameter, gradient and state in the pool's memory) is split in chunks
  // of values among the threads; each value's update depends on its own position only, so the bits must be one
  // thread's, whatever the split.
  const updates: [string, number, (spans: OptimizerSpans) => boolean][] = [
    [
      "SGD",
      0,
      (s) => wasmSgd(s, { lr: 0.1, weightDecay: 0, momentum: 0, keep: 1, nesterov: false, first: false }),
    ],
    [
      "SGD, momentum, dampening, weight decay, first step",
      1,
      (s) =>
        wasmSgd(s, { lr: 0.05, weightDecay: 0.02, momentum: 0.8, keep: 0.7, nesterov: false, first: true }),
    ],
    [
      "SGD, Nesterov",
      1,
      (s) =>
        wasmSgd(s, { lr: 0.1, weightDecay: 0.001, momentum: 0.9, keep: 1, nesterov: true, first: false }),
    ],
    [
      "Adam",
      2,
      (s) =>
        wasmAdam(s, {
          beta1: 0.9,
          beta2: 0.999,
          stepSize: 0.01 / (1 - 0.9 ** 3),
          correction2: Math.sqrt(1 - 0.999 ** 3),
          eps: 1e-8,
          l2: 0.01,
          shrink: 1,
        }),
    ],
    ["AdaGrad", 1, (s) => wasmAdaGrad(s, { rate: 0.1, weightDecay: 0.01, eps: 1e-10 })],
  ];
  /**
   * Runs `update` on three fresh layouts: on one thread, split across two (its threshold set to 0), and split
   * with every chunk left to the workers; checks that the split ones ran through `method` and end with the
   * one-thread parameter and state, bit for bit.
   */
  function splitGivesOneThreadsBits(
    layout: () => OptimizerSpans,
    update: (spans: OptimizerSpans) => boolean,
    method: "update" | "updateRows",
    threshold: "threadUpdateValues" | "threadRowValues",
  ): OptimizerSpans[] {
    const pool = threadPool()!;
    setThreads(1);
    const one = layout();
    expect(update(one)).toBe(true);
    wasmThresholds[threshold] = 0;
    setThreads(2);
    const split = vi.spyOn(pool, method);
    const two = layout();
    expect(update(two)).toBe(true);
    expect(split).toHaveBeenCalledTimes(1);
    pool.mainTakesChunks = false;
    const workers = layout();
    try {
      expect(update(workers)).toBe(true);
    } finally {
      pool.mainTakesChunks = true;
      split.mockRestore();
    }
    for (const spans of [two, workers]) {
      expect(Array.from(spans.param)).toEqual(Array.from(one.param));
      spans.state.forEach((s, i) => expect(Array.from(s)).toEqual(Array.from(one.state[i]!)));
    }
    return [one, two, workers];
  }

  for (const Type of [Float32Array, Float64Array]) {
    for (const [name, stateCount, update] of updates) {
      it(`${name} (${Type.name}) gives one thread's bits`, () => {
        const pool = threadPool()!;
        const n = 20_011;
        /** The update's arrays laid out in regions of the shared memory, from the same starting values. */
        const layout = () => {
          const arrays = Array.from({ length: 2 + stateCount }, (_, i) => {
            const at = pool.allocateRegion(n * Type.BYTES_PER_ELEMENT);
            const array = new Type(pool.memory.buffer, at, n);
            array.set(random(n, 11 + i, Type));
            if (i >= 2) for (let j = 0; j < n; j++) array[j] = Math.abs(array[j]!); // AdaGrad's sum, Adam's v
            return array;
          });
          const [param, grad, ...state] = arrays;
          return { param: param!, grad: grad!, rows: null, rowSize: 1, state } as OptimizerSpans;
        };
        const [one, two, workers] = splitGivesOneThreadsBits(layout, update, "update", "threadUpdateValues");
        // The parameter changed (the update ran), the gradient did not.
        expect(Array.from(one!.param)).not.toEqual(Array.from(random(n, 11, Type)));
        expect(Array.from(two!.grad)).toEqual(Array.from(random(n, 12, Type)));
        for (const spans of [one!, two!, workers!]) {
          for (const a of [spans.param, spans.grad, ...spans.state])
            pool.releaseRegion(a.byteOffset, a.byteLength);
        }
      });
    }
  }

  for (const Type of [Float32Array, Float64Array]) {
    for (const [name, stateCount, update] of updates) {
      it(`${name} (${Type.name}) on the rows of a row-sparse gradient gives one thread's bits`, () => {
        const pool = threadPool()!;
        const [tableRows, rowSize, count] = [3001, 7, 1003];
        const n = tableRows * rowSize;
        // Distinct rows (a coalesced gradient's), scattered over the table, in no particular order.
        const listed = Int32Array.from({ length: count }, (_, i) => (i * 1999 + 5) % tableRows);
        const layout = () => {
          const region = (bytes: number) => pool.allocateRegion(bytes);
          const table = (seed: number, positive: boolean) => {
            const array = new Type(pool.memory.buffer, region(n * Type.BYTES_PER_ELEMENT), n);
            array.set(random(n, seed, Type));
            if (positive) for (let j = 0; j < n; j++) array[j] = Math.abs(array[j]!);
            return array;
          };
          const param = table(21, false);
          const grad = new Type(
            pool.memory.buffer,
            region(count * rowSize * Type.BYTES_PER_ELEMENT),
            count * rowSize,
          );
          grad.set(random(count * rowSize, 22, Type));
          const rows = new Int32Array(pool.memory.buffer, region(count * 4), count);
          rows.set(listed);
          const state = Array.from({ length: stateCount }, (_, i) => table(23 + i, true));
          return { param, grad, rows, rowSize, state } as OptimizerSpans;
        };
        const [one, two, workers] = splitGivesOneThreadsBits(layout, update, "updateRows", "threadRowValues");
        // The listed rows changed, the others did not.
        const before = random(n, 21, Type);
        expect(Array.from(one!.param.subarray(5 * rowSize, 6 * rowSize))).not.toEqual(
          Array.from(before.subarray(5 * rowSize, 6 * rowSize)),
        );
        const unlisted = [...Array(tableRows).keys()].find((r) => !listed.includes(r))!;
        expect(Array.from(one!.param.subarray(unlisted * rowSize, (unlisted + 1) * rowSize))).toEqual(
          Array.from(before.subarray(unlisted * rowSize, (unlisted + 1) * rowSize)),
        );
        for (const spans of [one!, two!, workers!]) {
          for (const a of [spans.param, spans.grad, spans.rows!, ...spans.state])
            pool.releaseRegion(a.byteOffset, a.byteLength);
        }
      });
    }
  }

  for (const Type of [Float32Array, Float64Array]) {
    it(`an embedding lookup (${Type.name}) split by rows gives one thread's bits; a bad index goes to the JavaScript loop`, () => {
      const pool = threadPool()!;
      const [tableRows, rowSize, count] = [3001, 7, 1003];
      const region = <T>(make: (at: number) => T, bytes: number) => make(pool.allocateRegion(bytes));
      const size = Type.BYTES_PER_ELEMENT;
      const table = region(
        (at) => new Type(pool.memory.buffer, at, tableRows * rowSize),
        tableRows * rowSize * size,
      );
      table.set(random(tableRows * rowSize, 31, Type));
      // Repeated and scattered rows, the last row of the table among them.
      const indices = region((at) => new Int32Array(pool.memory.buffer, at, count), count * 4);
      indices.set(
        Int32Array.from({ length: count }, (_, i) => (i === 7 ? tableRows - 1 : (i * 1999 + 5) % 997)),
      );
      const out = () =>
        region((at) => new Type(pool.memory.buffer, at, count * rowSize).fill(NaN), count * rowSize * size);
      const view = { outer: 1, axis: tableRows, inner: rowSize };
      const expected = new Type(count * rowSize);
      for (let j = 0; j < count; j++)
        expected.set(table.subarray(indices[j]! * rowSize, (indices[j]! + 1) * rowSize), j * rowSize);
      setThreads(1);
      const one = out();
      wasmBackend.gather(table, view, indices, one);
      expect(Array.from(one)).toEqual(Array.from(expected));
      setThreads(2);
      wasmThresholds.threadRowValues = 0;
      const split = vi.spyOn(pool, "gatherRows");
      const two = out();
      wasmBackend.gather(table, view, indices, two);
      expect(split).toHaveBeenCalledTimes(1);
      expect(Array.from(two)).toEqual(Array.from(expected));
      pool.mainTakesChunks = false;
      try {
        const workers = out();
        wasmBackend.gather(table, view, indices, workers);
        expect(Array.from(workers)).toEqual(Array.from(expected));
      } finally {
        pool.mainTakesChunks = true;
      }
      // An index outside the table is not split: the call goes to the JavaScript loop (the op checks indices
      // before it calls the backend; the loop's result is whatever it makes of them).
      split.mockClear();
      for (const bad of [tableRows, -1]) {
        indices[500] = bad;
        const loop = new Type(count * rowSize).fill(NaN);
        jsBackend.gather(table, view, indices.slice(), loop);
        const got = out();
        wasmBackend.gather(table, view, indices, got);
        expect(Array.from(got)).toEqual(Array.from(loop));
      }
      expect(split).not.toHaveBeenCalled();
      split.mockRestore();
    });
  }

  it("a small update, or one outside the shared memory, runs in one call", () => {
    setThreads(2);
    const pool = threadPool()!;
    const split = vi.spyOn(pool, "update");
    const settings = { lr: 0.1, weightDecay: 0, momentum: 0, keep: 1, nesterov: false, first: false };
    const n = 1000;
    const at = pool.allocateRegion(2 * n * 4);
    const param = new Float32Array(pool.memory.buffer, at, n);
    const grad = new Float32Array(pool.memory.buffer, at + n * 4, n).fill(1);
    expect(wasmSgd({ param, grad, rows: null, rowSize: 1, state: [] }, settings)).toBe(true);
    expect(param[0]).toBe(Math.fround(-0.1));
    wasmThresholds.threadUpdateValues = 0;
    const outside = new Float32Array(n);
    expect(
      wasmSgd(
        { param: outside, grad: new Float32Array(n).fill(1), rows: null, rowSize: 1, state: [] },
        settings,
      ),
    ).toBe(true);
    expect(outside[n - 1]).toBe(Math.fround(-0.1));
    expect(split).not.toHaveBeenCalled();
    split.mockRestore();
    pool.releaseRegion(at, 2 * n * 4);
  });
});

describe.skipIf(!threadsAvailable())("regions of the pool's shared memory", () => {
  it("are handed out first fit, zeroed, merged with free neighbours when given back, and lower the top", () => {
    const pool = threadPool()!;
    const start = pool.regionUsage();
    const a = pool.allocateRegion(1000); // 1024 bytes: regions are whole cache lines
    const b = pool.allocateRegion(64);
    const c = pool.allocateRegion(5000);
    expect([b - a, c - b]).toEqual([1024, 64]);
    expect(pool.regionUsage()).toEqual({ used: start.used + 1024 + 64 + 5056, free: 0, top: c + 5056 });
    // The per-call area of eager products starts above every region.
    expect(pool.base).toBe(c + 5056);
    new Float32Array(pool.memory.buffer, a, 256).fill(7);
    pool.releaseRegion(a, 1000);
    expect(pool.regionUsage().free).toBe(1024);
    // First fit: a small region goes into the freed stretch, zeroed.
    const d = pool.allocateRegion(100);
    expect(d).toBe(a);
    expect(Array.from(new Float32Array(pool.memory.buffer, d, 32))).toEqual(new Array(32).fill(0));
    // Giving b back merges it with the rest of a's stretch: 896 + 64 bytes in one piece.
    pool.releaseRegion(b, 64);
    expect(pool.regionUsage().free).toBe(960);
    expect(pool.allocateRegion(960)).toBe(a + 128);
    pool.releaseRegion(a + 128, 960);
    // The highest region going back lowers the top, with the free stretch below it.
    pool.releaseRegion(c, 5000);
    expect(pool.regionUsage()).toEqual({ used: start.used + 128, free: 0, top: a + 128 });
    pool.releaseRegion(d, 100);
    expect(pool.regionUsage()).toEqual(start);
  });

  it("are zero where the per-call area wrote before, also when the memory grows for them", () => {
    const pool = threadPool()!;
    const start = pool.regionUsage();
    // Values left by eager kernels in the per-call area, up to the memory's end, also in memory a kernel grew
    // through the instance itself (the pool's own view of the memory is then shorter).
    expect(pool.kernels.reserve(pool.memory.buffer.byteLength + (1 << 16))).toBe(true);
    const dirty = pool.memory.buffer.byteLength - pool.base;
    new Uint8Array(pool.memory.buffer, pool.base, dirty).fill(7);
    // A region over all of that and 1 MB of memory grown for it (fresh, hence zero, and left untouched).
    const bytes = dirty + (1 << 20);
    const at = pool.allocateRegion(bytes);
    expect(at).toBe(start.top);
    const region = new Uint8Array(pool.memory.buffer, at, bytes);
    expect(region.every((b) => b === 0)).toBe(true);
    pool.releaseRegion(at, bytes);
    expect(pool.regionUsage()).toEqual(start);
  });

  it("refuses to give back what is not a region in use, and a region past the memory's limit", () => {
    const pool = threadPool()!;
    const a = pool.allocateRegion(256);
    const b = pool.allocateRegion(256);
    pool.releaseRegion(a, 256);
    expect(() => pool.releaseRegion(a, 256)).toThrow(/no region of 256 bytes at/); // given back twice
    expect(() => pool.releaseRegion(pool.base, 64)).toThrow(RangeError); // above the regions
    pool.releaseRegion(b, 256);
    expect(() => pool.releaseRegion(b, 256)).toThrow(RangeError);
    wasmThresholds.maxBytes = pool.base + 4096;
    expect(pool.allocateRegion(1 << 20)).toBe(-1);
  });
});

describe("the chunks of rows of a split product (matmulRowChunkStart)", () => {
  const shapes = fc.record({
    m: fc.integer({ min: 0, max: 5000 }),
    threads: fc.integer({ min: 1, max: 8 }),
    tile: fc.constantFrom(4, 5),
    tiles: fc.integer({ min: 4, max: 40 }),
  });

  it("cut the rows into consecutive chunks of at most `most` rows (the last: fewer than two tiles more), whole tiles but the last", () => {
    fc.assert(
      fc.property(shapes, ({ m, threads, tile, tiles }) => {
        const most = tiles * tile;
        const count = requireKernels().exports.matmulRowChunkCount(m, most, threads, tile);
        expect(rowChunkStart(0, m, most, threads, tile)).toBe(0);
        expect(rowChunkStart(count, m, most, threads, tile)).toBe(m);
        expect(rowChunkStart(count + 3, m, most, threads, tile)).toBe(m);
        for (let c = 0; c < count; c++) {
          const size =
            rowChunkStart(c + 1, m, most, threads, tile) - rowChunkStart(c, m, most, threads, tile);
          expect(size).toBeGreaterThan(0);
          // The last one takes what would be left of fewer than two tiles.
          expect(size).toBeLessThanOrEqual(c < count - 1 ? most : most + 2 * tile - 1);
          if (c < count - 1) {
            expect(size % tile).toBe(0);
            expect(size).toBeGreaterThanOrEqual(2 * tile);
          }
        }
        // The same cut as walking chunk by chunk: each takes the rows left over the threads, in whole tiles.
        let start = 0;
        for (let c = 0; c < count; c++) {
          expect(rowChunkStart(c, m, most, threads, tile)).toBe(start);
          const rest = m - start;
          let size = Math.min(most, Math.max(2 * tile, Math.ceil(rest / threads / tile) * tile));
          if (rest - size < 2 * tile || most >= m) size = rest;
          start += size;
        }
        expect(start).toBe(m);
      }),
      { numRuns: 300 },
    );
  });
});

describe("setThreads and CHAINRULE_THREADS", () => {
  it("rejects counts that are not integers from 1 to 256", () => {
    for (const bad of [0, -1, 1.5, NaN, 257]) expect(() => setThreads(bad)).toThrow(ValueError);
    expect(() => setThreads(0)).toThrow(
      /setThreads: the number of threads must be an integer from 1 to 256, got 0/,
    );
    setThreads(3);
    expect(getThreads()).toBe(3);
  });

  it("defaults to CHAINRULE_THREADS, else the number of cores", () => {
    const code = `import { getThreads } from "./src/index.ts"; console.log(getThreads());`;
    expect(runNode(code, { CHAINRULE_THREADS: "3" }).stdout.trim()).toBe("3");
    const cores = runNode(`import os from "node:os"; console.log(os.availableParallelism());`).stdout.trim();
    expect(runNode(code, { CHAINRULE_THREADS: "" }).stdout.trim()).toBe(cores);
    // A value that is not a count falls back to the cores rather than failing at import.
    expect(runNode(code, { CHAINRULE_THREADS: "many" }).stdout.trim()).toBe(cores);
  });
});
