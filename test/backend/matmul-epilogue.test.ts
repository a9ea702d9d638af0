import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { UNARY_CODES } from "../../src/backend/wasm/elementwise.js";
import { splitProductInPlace } from "../../src/backend/wasm/matmul-threads.js";
import { MATMUL_NO_ACTIVATION, loadKernelsSync, type KernelExports } from "../../src/backend/wasm/runtime.js";
import { setThreads, threadPool, threadsAvailable, type ThreadPool } from "../../src/backend/wasm/threads.js";
import { Random } from "../../src/tensor/random.js";
import { restoreThreadSettingsAfterEach } from "../helpers.js";

// matmulBlockEpilogueF32 finishes an affine layer inside the product: each value of its block becomes
// act(v + bias[column]). It must give exactly the bits of the product followed by the bias kernel (addRowF32) and
// the activation's kernel (unaryF32), which the eager ops run, and must write nothing outside its block, even
// where a row's last vector holds fewer than four of the block's columns (another thread may own the rest).

const ACTIVATIONS: [string, number][] = [
  ["none", MATMUL_NO_ACTIVATION],
  ["relu", UNARY_CODES.relu!],
  ["tanh", UNARY_CODES.tanh!],
  ["sigmoid", UNARY_CODES.sigmoid!],
];

const random = new Random(5);

/** Values in [−scale, scale], with some exact zeros and some large ones (tanh and σ saturate). */
function values(length: number, scale: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const u = random.uniform();
    out[i] = u < 0.05 ? 0 : u > 0.97 ? (random.uniform() - 0.5) * 60 : (random.uniform() * 2 - 1) * scale;
  }
  return out;
}

/** A scratch layout in a kernels' memory: addresses for A, B, the packed B, two outputs, the bias and scratch. */
interface Layout {
  e: KernelExports;
  f32: () => Float32Array;
  a: number;
  b: number;
  packed: number;
  out: number;
  expected: number;
  bias: number;
  scratch: number;
}

function layout(
  e: KernelExports,
  memory: WebAssembly.Memory,
  base: number,
  reserve: (end: number) => boolean,
  m: number,
  n: number,
  k: number,
): Layout {
  const bytes = (count: number): number => (count * 4 + 64 + 15) & ~15;
  const a = base;
  const b = a + bytes(m * k);
  const packed = b + bytes(k * n);
  const out = packed + bytes(e.matmulPackedBytes(n, k, 4) / 4);
  const expected = out + bytes(m * n);
  const bias = expected + bytes(m * n);
  const scratch = bias + bytes(n);
  expect(reserve(scratch + e.matmulScratchBytes(4) + 64)).toBe(true);
  return { e, f32: () => new Float32Array(memory.buffer), a, b, packed, out, expected, bias, scratch };
}

/** The reference: the whole product (matmulRowsF32), then addRowF32 (with a bias) and unaryF32 (activation). */
function referenceInto(
  l: Layout,
  m: number,
  n: number,
  k: number,
  transA: number,
  activation: number,
  bias: boolean,
) {
  l.e.matmulRowsF32(l.a, l.packed, l.expected, m, n, k, transA, 0, m, l.scratch);
  if (bias) l.e.addRowF32(l.expected, l.bias, m, n);
  if (activation !== MATMUL_NO_ACTIVATION) l.e.unaryF32(activation, l.expected, l.expected, m * n);
}

function fill(l: Layout, m: number, n: number, k: number, scale: number): void {
  const view = l.f32();
  view.set(values(m * k, scale), l.a / 4);
  view.set(values(k * n, scale), l.b / 4);
  view.set(values(n, 2), l.bias / 4);
}

function bitsOf(view: Float32Array, at: number, length: number): Uint32Array {
  return new Uint32Array(view.buffer, at, length).slice();
}

/**
 * Runs the epilogue kernel over a partition of the output into blocks (row chunks × column chunks, column chunks
 * multiples of 8), on an output first filled with a sentinel, and checks every block against the reference and
 * that each call wrote nothing outside its block.
 */
function checkPartition(
  l: Layout,
  m: number,
  n: number,
  k: number,
  transA: number,
  transB: number,
  activation: number,
  bias: boolean,
  rowsPerBlock: number,
  columnsPerBlock: number,
): void {
  l.e.matmulPackF32(l.b, n, k, transB, l.packed);
  referenceInto(l, m, n, k, transA, activation, bias);
  const view = l.f32();
  const sentinel = 0x7fc01234; // a NaN no kernel produces
  const outBits = new Uint32Array(view.buffer, l.out, m * n);
  outBits.fill(sentinel);
  for (let r0 = 0; r0 < m; r0 += rowsPerBlock) {
    for (let c0 = 0; c0 < n; c0 += columnsPerBlock) {
      const r1 = Math.min(m, r0 + rowsPerBlock);
      const c1 = Math.min(n, c0 + columnsPerBlock);
      const before = bitsOf(view, l.out, m * n);
      l.e.matmulBlockEpilogueF32(
        l.a,
        l.packed,
        l.out,
        m,
        n,
        k,
        transA,
        r0,
        r1 - r0,
        c0,
        c1,
        l.scratch,
        bias ? l.bias : 0,
        activation,
      );
      const after = new Uint32Array(view.buffer, l.out, m * n);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          const inside = i >= r0 && i < r1 && j >= c0 && j < c1;
          if (!inside && after[i * n + j] !== before[i * n + j])
            expect.fail(`block rows [${r0}, ${r1}) columns [${c0}, ${c1}) wrote (${i}, ${j}) outside it`);
        }
      }
    }
  }
  const got = bitsOf(view, l.out, m * n);
  const want = bitsOf(view, l.expected, m * n);
  for (let i = 0; i < m * n; i++) {
    if (got[i] !== want[i])
      expect.fail(
        `m=${m} n=${n} k=${k} transA=${transA} transB=${transB} activation=${activation} bias=${bias} ` +
          `blocks ${rowsPerBlock}×${columnsPerBlock}: value ${i} is ${view[l.out / 4 + i]}, ` +
          `the product then the bias and activation kernels give ${view[l.expected / 4 + i]}`,
      );
  }
}

function ordinaryLayout(m: number, n: number, k: number): Layout {
  const kernels = loadKernelsSync()!;
  return layout(kernels.exports, kernels.memory, kernels.base, (end) => kernels.reserve(end), m, n, k);
}

describe("matmulBlockEpilogueF32", () => {
  it("gives the bits of the product, addRowF32 and unaryF32, for every activation, with and without a bias", () => {
    for (const [m, n, k] of [
      [32, 300, 400],
      [7, 13, 9],
      [5, 8, 256],
      [11, 1, 3],
      [121, 17, 257],
      [3, 6, 1],
    ] as const) {
      const l = ordinaryLayout(m, n, k);
      fill(l, m, n, k, 0.5);
      for (const [, activation] of ACTIVATIONS) {
        for (const bias of [true, false]) {
          checkPartition(l, m, n, k, 0, 1, activation, bias, m, n);
          checkPartition(l, m, n, k, 1, 0, activation, bias, m, n);
        }
      }
    }
  });

  it("writes nothing outside its block: blocks of rows and of 8-column panels, rows ending mid-vector", () => {
    for (const [m, n, k, rows, columns] of [
      [13, 21, 10, 5, 8],
      [13, 21, 10, 4, 16],
      [9, 30, 7, 9, 8],
      [40, 45, 33, 15, 24],
      [6, 3, 5, 1, 8],
    ] as const) {
      const l = ordinaryLayout(m, n, k);
      fill(l, m, n, k, 1);
      for (const [, activation] of ACTIVATIONS)
        checkPartition(l, m, n, k, 0, 0, activation, true, rows, columns);
    }
  });

  it("finishes an empty product (depth 0) as act(bias)", () => {
    const l = ordinaryLayout(4, 10, 0);
    fill(l, 4, 10, 0, 1);
    for (const [, activation] of ACTIVATIONS) checkPartition(l, 4, 10, 0, 0, 0, activation, true, 4, 10);
  });

  it("agrees with the reference on random shapes, partitions and values (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 5 }),
        fc.constantFrom(...ACTIVATIONS.map(([, code]) => code)),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        (m, n, k, rows, panels, activation, bias, transA, transB) => {
          const l = ordinaryLayout(m, n, k);
          fill(l, m, n, k, 0.7);
          checkPartition(l, m, n, k, transA ? 1 : 0, transB ? 1 : 0, activation, bias, rows, 8 * panels);
        },
      ),
      { numRuns: 60, seed: 42 },
    );
  });
});

/** `splitProductInPlace` of the layout's A and B into its output, B packed at its `packed`. */
function splitInto(
  pool: ThreadPool,
  l: Layout,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  bias: number,
  activation: number,
): boolean {
  return splitProductInPlace(
    pool,
    true,
    l.a,
    l.b,
    l.out,
    m,
    n,
    k,
    transA,
    transB,
    l.packed,
    bias,
    activation,
  );
}

describe.skipIf(!threadsAvailable())("a product split across threads, finished as an affine layer", () => {
  restoreThreadSettingsAfterEach();

  it("equals the single kernel's product, bias and activation, to the bit", () => {
    setThreads(2);
    const pool = threadPool()!;
    for (const [m, n, k, transA, transB] of [
      [32, 300, 400, 0, 1], // few rows: cut by columns, B packed in the chunks
      [256, 301, 250, 0, 0], // cut by rows
      [300, 43, 32, 1, 0],
    ] as const) {
      const bytes = 4 * (m * k + k * n + 2 * m * n + n) + (1 << 20);
      const region = pool.allocateRegion(bytes);
      const l = layout(pool.exports, pool.memory, region, () => true, m, n, k);
      fill(l, m, n, k, 0.5);
      for (const [name, activation] of ACTIVATIONS) {
        l.e.matmulPackF32(l.b, n, k, transB, l.packed);
        referenceInto(l, m, n, k, transA, activation, true);
        expect(splitInto(pool, l, m, n, k, transA === 1, transB === 1, l.bias, activation)).toBe(true);
        const view = l.f32();
        expect(bitsOf(view, l.out, m * n), `${m}×${n}×${k} ${name}`).toEqual(bitsOf(view, l.expected, m * n));
      }
      pool.releaseRegion(region, bytes);
    }
  });

  it("left running on the workers (deferNextProduct): the same bits once joined; any other task, the per-call area and a new region join it first", () => {
    setThreads(2);
    const pool = threadPool()!;
    const [m, n, k] = [256, 301, 250];
    const bytes = 4 * (m * k + k * n + 2 * m * n + n) + (1 << 20);
    const region = pool.allocateRegion(bytes);
    const l = layout(pool.exports, pool.memory, region, () => true, m, n, k);
    fill(l, m, n, k, 0.5);
    l.e.matmulPackF32(l.b, n, k, 0, l.packed);
    referenceInto(l, m, n, k, 0, MATMUL_NO_ACTIVATION, false);
    const want = bitsOf(l.f32(), l.expected, m * n);
    const product = () => splitInto(pool, l, m, n, k, false, false, 0, MATMUL_NO_ACTIVATION);
    const joins: [string, () => unknown][] = [
      ["join", () => pool.join()],
      ["another task", () => product()],
      ["the per-call area", () => pool.base],
      ["a new region", () => pool.releaseRegion(pool.allocateRegion(64), 64)],
      ["setThreads", () => pool.resize(2)],
    ];
    try {
      for (const mainTakesChunks of [true, false]) {
        pool.mainTakesChunks = mainTakesChunks;
        for (const [name, join] of joins) {
          l.f32().fill(NaN, l.out / 4, l.out / 4 + m * n);
          pool.deferNextProduct();
          expect(product()).toBe(true);
          expect(pool.running, name).toBe(true);
          // Meanwhile nothing else splits: it runs on this thread beside the workers.
          expect(pool.splits(1 << 30, 0)).toBe(false);
          join();
          expect(pool.running, name).toBe(false);
          expect(pool.splits(1 << 30, 0)).toBe(true);
          expect(bitsOf(l.f32(), l.out, m * n), name).toEqual(want);
        }
      }
      // Withdrawn, or used up by the first product: the next ones finish before they return.
      pool.deferNextProduct();
      pool.cancelDeferral();
      product();
      expect(pool.running).toBe(false);
      pool.deferNextProduct();
      product();
      pool.join();
      product();
      expect(pool.running).toBe(false);
    } finally {
      pool.mainTakesChunks = true;
      pool.join();
      pool.releaseRegion(region, bytes);
    }
  });

  it("refuses a bias or activation on a float64 product", () => {
    setThreads(2);
    const pool = threadPool()!;
    expect(() =>
      splitProductInPlace(pool, false, 0, 0, 0, 10, 10, 10, false, false, 0, 64, MATMUL_NO_ACTIVATION),
    ).toThrow(/float32/);
  });
});
