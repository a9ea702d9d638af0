import { afterEach, beforeEach, describe, expect, it } from "vitest";
import fc from "fast-check";
import type { MatmulDesc } from "../../src/backend/backend.js";
import { wasmBackend } from "../../src/backend/wasm/index.js";
import { ordinaryMatmul } from "../../src/backend/wasm/matmul.js";
import { getThreads, setThreads, threadPool, threadsAvailable } from "../../src/backend/wasm/threads.js";
import { wasmThresholds } from "../../src/backend/wasm/thresholds.js";
import { Random } from "../../src/tensor/random.js";

// The WebAssembly matrix products against a plain triple loop in float64, over shapes chosen to hit every edge of
// the blocking in assembly/matmul.ts: tiles of 5 or 6 (float32, plain or relaxed build) or 4 (float64) rows and 8 (4) columns, blocks of 120
// rows and 256 depth steps, and sizes of 1, 3, 5, 7, 17, 33 around them. Every product runs three ways: the
// ordinary module, the shared-memory module on one thread, and split across two threads (the split threshold at
// 0, so that every shape is split, the column panels of B packed by both threads too).

type FloatType = typeof Float32Array | typeof Float64Array;

const random = new Random(11);
function randomArray(type: FloatType, length: number): Float32Array | Float64Array {
  const array = new type(length);
  for (let i = 0; i < length; i++) array[i] = random.uniform() * 2 - 1;
  return array;
}

/** out[i, j] = Σ_p op(A)[i, p] · op(B)[p, j], summed in float64 from the stored (possibly float32) values. */
function reference(a: ArrayLike<number>, b: ArrayLike<number>, desc: MatmulDesc): Float64Array {
  const { m, n, k, transA, transB, batch } = desc;
  const out = new Float64Array(batch * m * n);
  for (let t = 0; t < batch; t++) {
    const ao = desc.aOffsets[t]!;
    const bo = desc.bOffsets[t]!;
    const oo = desc.outOffsets[t]!;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) {
          const x = a[ao + (transA ? p * m + i : i * k + p)]!;
          const y = b[bo + (transB ? j * k + p : p * n + j)]!;
          sum += x * y;
        }
        out[oo + i * n + j] = sum;
      }
    }
  }
  return out;
}

type Way = "ordinary module" | "shared memory, 1 thread" | "2 threads";
const WAYS: Way[] = threadsAvailable()
  ? ["ordinary module", "shared memory, 1 thread", "2 threads"]
  : ["ordinary module"];

function run(
  way: Way,
  a: Float32Array | Float64Array,
  b: Float32Array | Float64Array,
  out: Float32Array | Float64Array,
  desc: MatmulDesc,
): void {
  if (way === "ordinary module") {
    ordinaryMatmul(a, b, out, desc);
    return;
  }
  // Two threads stay in the pool throughout (changing the count starts and stops workers); the split
  // threshold decides whether a product is split.
  setThreads(2);
  wasmThresholds.threadFlops = way === "2 threads" ? 0 : Infinity;
  wasmBackend.matmul(a, b, out, desc);
}

/** The descriptor of one product (no batch). */
function single(m: number, n: number, k: number, transA: boolean, transB: boolean): MatmulDesc {
  return { m, n, k, transA, transB, batch: 1, aOffsets: [0], bOffsets: [0], outOffsets: [0] };
}

/**
 * Checks one product every way against the float64 reference: |a|, |b| ≤ 1, so each output is a sum of k
 * products and its rounding error is below k ε of the type (with a margin for float32 inputs' own rounding).
 */
function check(
  type: FloatType,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  batch = 1,
): void {
  const a = randomArray(type, batch * m * k);
  const b = randomArray(type, batch * k * n);
  const desc: MatmulDesc = {
    m,
    n,
    k,
    transA,
    transB,
    batch,
    aOffsets: Array.from({ length: batch }, (_, t) => t * m * k),
    // B broadcast over the batch when there are several products: packed once, used by each.
    bOffsets: Array.from({ length: batch }, () => 0),
    outOffsets: Array.from({ length: batch }, (_, t) => t * m * n),
  };
  const expected = reference(a, b, desc);
  const tolerance = (k + 1) * (type === Float32Array ? 1.2e-7 : 2.3e-16) * 2;
  for (const way of WAYS) {
    const out = new type(batch * m * n).fill(NaN);
    run(way, a, b, out, desc);
    for (let i = 0; i < expected.length; i++) {
      if (!(Math.abs(out[i]! - expected[i]!) <= tolerance))
        expect.fail(
          `${type.name} ${way}: m=${m} n=${n} k=${k} transA=${transA} transB=${transB} batch=${batch}: ` +
            `element ${i} is ${out[i]}, the float64 reference ${expected[i]}`,
        );
    }
  }
}

const saved = { ...wasmThresholds };
const savedThreads = getThreads();
beforeEach(() => {
  wasmThresholds.matmulFlops = 0;
  wasmThresholds.threadFlops = 0;
});
afterEach(() => {
  Object.assign(wasmThresholds, saved);
  setThreads(savedThreads);
});

const FLAGS: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

describe("wasm matmul against a float64 triple loop", () => {
  for (const type of [Float32Array, Float64Array]) {
    it(`${type.name}: every combination of 1, 3, 5, 7, 17, 33 in m, n and k, the transpose flags in turn`, () => {
      const sizes = [1, 3, 5, 7, 17, 33];
      let turn = 0;
      for (const m of sizes)
        for (const n of sizes)
          for (const k of sizes) {
            const [ta, tb] = FLAGS[turn++ % FLAGS.length]!;
            check(type, m, n, k, ta, tb);
          }
    });

    it(`${type.name}: across the row block (119–121, 241), the depth block (255–257, 513) and odd panels`, () => {
      const shapes: [number, number, number][] = [
        [119, 9, 255],
        [120, 15, 256],
        [121, 17, 257],
        [241, 31, 3],
        [6, 9, 513],
        [10, 300, 250],
        [32, 300, 250],
        // A last panel of exactly four columns (the narrow kernel's whole tiles), over two depth blocks.
        [30, 12, 300],
        [36, 4, 260],
      ];
      for (const [m, n, k] of shapes) for (const [ta, tb] of FLAGS) check(type, m, n, k, ta, tb);
    });

    it(`${type.name}: a batch of products sharing one B`, () => {
      for (const [ta, tb] of FLAGS) check(type, 11, 13, 37, ta, tb, 3);
    });
  }

  it("float32 property: random shapes and flags agree with the reference (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 300 }),
        fc.boolean(),
        fc.boolean(),
        (m, n, k, ta, tb) => check(Float32Array, m, n, k, ta, tb),
      ),
      { numRuns: 40 },
    );
  });

  it("a column's values do not depend on the columns beside it: B widened by more columns, same bits (fast-check)", () => {
    // A panel of B holds 8 float32 columns (4 float64), and a last panel of fewer goes through the kernel's edge
    // path. Widening B moves its last columns into a full panel: every value of the n columns must stay the same.
    fc.assert(
      fc.property(
        fc.constantFrom(Float32Array, Float64Array),
        fc.integer({ min: 1, max: 23 }),
        fc.integer({ min: 1, max: 21 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 270 }),
        fc.boolean(),
        fc.boolean(),
        (type, m, n, extra, k, transA, transB) => {
          const wide = n + extra;
          const a = randomArray(type, m * k);
          const bWide = randomArray(type, k * wide);
          // B is the first n columns of the wide B (transB: its first n rows, which op(B) takes as columns).
          const b = new type(k * n);
          for (let p = 0; p < k; p++) {
            for (let j = 0; j < n; j++) {
              if (transB) b[j * k + p] = bWide[j * k + p]!;
              else b[p * n + j] = bWide[p * wide + j]!;
            }
          }
          const desc = (columns: number): MatmulDesc => single(m, columns, k, transA, transB);
          for (const way of WAYS) {
            const narrow = new type(m * n).fill(NaN);
            const widened = new type(m * wide).fill(NaN);
            run(way, a, b, narrow, desc(n));
            run(way, a, bWide, widened, desc(wide));
            for (let i = 0; i < m; i++) {
              for (let j = 0; j < n; j++) {
                if (!Object.is(narrow[i * n + j], widened[i * wide + j]))
                  expect.fail(
                    `${type.name} ${way}: m=${m} n=${n} (+${extra}) k=${k} transA=${transA} transB=${transB}: ` +
                      `(${i}, ${j}) is ${narrow[i * n + j]}, with B widened ${widened[i * wide + j]}`,
                  );
              }
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("the NER step's products are identical on one and two threads (each row computed the same way)", () => {
    // [m, n, k, transA, transB]: forward X·W₁ᵀ, backward δ·W₁ and δᵀ·X, at batch 32 and 256.
    const shapes: [number, number, number, boolean, boolean][] = [
      [32, 300, 250, false, true],
      [32, 250, 300, false, false],
      [300, 250, 32, true, false],
      [256, 300, 250, false, true],
    ];
    for (const [m, n, k, transA, transB] of shapes) {
      const a = randomArray(Float32Array, m * k);
      const b = randomArray(Float32Array, k * n);
      const desc = single(m, n, k, transA, transB);
      const results = WAYS.map((way) => {
        const out = new Float32Array(m * n).fill(NaN);
        run(way, a, b, out, desc);
        return out;
      });
      for (const result of results.slice(1)) expect(result).toEqual(results[0]);
    }
  });
});

describe.skipIf(!threadsAvailable())("the thread pool's packing and waiting", () => {
  it("packing B by ranges of column panels gives the same bytes as packing it whole", () => {
    setThreads(1);
    const pool = threadPool()!;
    const { exports } = pool;
    for (const [size, n, k, transB] of [
      [4, 37, 300, 0],
      [4, 37, 300, 1],
      [4, 8, 5, 1],
      [8, 13, 259, 0],
      [8, 13, 259, 1],
    ] as const) {
      const panel = 32 / size;
      const bytes = exports.matmulPackedBytes(n, k, size);
      const b = pool.base;
      const whole = b + k * n * size + 64;
      const parts = whole + bytes + 64;
      expect(pool.reserve(parts + bytes + 64, wasmThresholds.maxBytes)).toBe(true);
      const view = size === 4 ? pool.f32 : pool.f64;
      view.set(randomArray(size === 4 ? Float32Array : Float64Array, k * n), b / size);
      new Uint8Array(pool.memory.buffer, whole, bytes).fill(0xab);
      new Uint8Array(pool.memory.buffer, parts, bytes).fill(0xcd);
      (size === 4 ? exports.matmulPackF32 : exports.matmulPackF64)(b, n, k, transB, whole);
      const packRange = size === 4 ? exports.matmulPackColumnsF32 : exports.matmulPackColumnsF64;
      for (let j0 = 0; j0 < n; j0 += 2 * panel)
        packRange(b, n, k, transB, parts, j0, Math.min(n, j0 + 2 * panel));
      expect(new Uint8Array(pool.memory.buffer, parts, bytes)).toEqual(
        new Uint8Array(pool.memory.buffer, whole, bytes),
      );
    }
  });

  it("gives the same products whether the threads spin between tasks or sleep at once", () => {
    const a = randomArray(Float32Array, 40 * 50);
    const b = randomArray(Float32Array, 50 * 30);
    const desc = single(40, 30, 50, false, false);
    const expected = reference(a, b, desc);
    for (const spin of [0, 50, 1000]) {
      wasmThresholds.spinMicroseconds = spin;
      for (let repeat = 0; repeat < 20; repeat++) {
        const out = new Float32Array(40 * 30).fill(NaN);
        run("2 threads", a, b, out, desc);
        for (let i = 0; i < out.length; i++) expect(Math.abs(out[i]! - expected[i]!)).toBeLessThan(1e-4);
      }
    }
  });
});
