import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { jsBackend, type BinaryKernel, type MatmulDesc, type UnaryKernel } from "../../src/backend/index.js";
import { wasmBackend } from "../../src/backend/wasm/index.js";
import { wasmThresholds } from "../../src/backend/wasm/thresholds.js";
import { createKernelInstance, requireKernels } from "../../src/backend/wasm/runtime.js";
import { Random } from "../../src/tensor/random.js";

// Every kernel of the wasm backend against the JavaScript reference. The size thresholds are set to 0 so that
// even 1-element calls run in WebAssembly (with the default thresholds small calls would compare JS with JS).

const saved = { ...wasmThresholds };
beforeAll(() => {
  wasmThresholds.matmulFlops = 0;
  wasmThresholds.elementwise = 0;
});
afterAll(() => {
  Object.assign(wasmThresholds, saved);
});

type FloatArray = Float32Array | Float64Array;
type FloatType = typeof Float32Array | typeof Float64Array;
const FLOAT_TYPES: [string, FloatType][] = [
  ["float32", Float32Array],
  ["float64", Float64Array],
];

const random = new Random(7);
function randomArray(type: FloatType, length: number, scale = 1): FloatArray {
  const array = new type(length);
  // No exact zeros: the JS matmul's small path skips zero entries of A, which would hide 0 · ∞ = NaN.
  for (let i = 0; i < length; i++) array[i] = (random.uniform() - 0.5) * 2 * scale || 0.25;
  return array;
}

/** Special values that every elementwise kernel must treat as the JavaScript one does. */
const SPECIAL = [
  NaN,
  Infinity,
  -Infinity,
  0,
  -0,
  1e-30,
  -1e-30,
  1e-45,
  3.4e38,
  -3.4e38,
  0.049,
  -0.051,
  20,
  -20,
  88,
  -104,
];

/** Same values, with NaN equal to NaN and +0 different from −0. */
function expectIdentical(actual: FloatArray, expected: FloatArray, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      expect.fail(`${label}: element ${i}: wasm ${actual[i]} vs js ${expected[i]}`);
    }
  }
}

/** Float32 values within `ulps` units in the last place (same special values, same signs). */
function expectWithinUlps(actual: Float32Array, expected: Float32Array, ulps: number, label: string): void {
  const a = new Int32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Int32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (Number.isNaN(expected[i]!)) {
      expect(actual[i], `${label}: element ${i}`).toBeNaN();
      continue;
    }
    if (Math.abs(a[i]! - e[i]!) > ulps)
      expect.fail(
        `${label}: element ${i}: wasm ${actual[i]} vs js ${expected[i]} (more than ${ulps} ulp apart)`,
      );
  }
}

// ---------------------------------------------------------------------------------------------------------

describe("wasm matmul agrees with the JavaScript kernel", () => {
  const sizes = [1, 3, 4, 5, 17, 64, 65];
  const flags: [boolean, boolean][] = [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ];

  function check(
    type: FloatType,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    batch = 1,
    aBatches = batch,
    bBatches = batch,
  ): void {
    const a = randomArray(type, aBatches * m * k);
    const b = randomArray(type, bBatches * k * n);
    const desc: MatmulDesc = {
      m,
      n,
      k,
      transA,
      transB,
      batch,
      // A broadcast batch: operands with fewer matrices repeat them (offset t mod count).
      aOffsets: Array.from({ length: batch }, (_, t) => (t % aBatches) * m * k),
      bOffsets: Array.from({ length: batch }, (_, t) => (t % bBatches) * k * n),
      outOffsets: Array.from({ length: batch }, (_, t) => t * m * n),
    };
    const expected = new type(batch * m * n).fill(NaN);
    const actual = new type(batch * m * n).fill(NaN);
    jsBackend.matmul(a, b, expected, desc);
    wasmBackend.matmul(a, b, actual, desc);
    // |a|, |b| ≤ 1: each output is a sum of k products, so its rounding error is below k ε (float32 sums in
    // float32 in wasm and in float64 in JS; float64 sums in a different order for some shapes).
    const tolerance = k * (type === Float32Array ? 1.2e-7 : 2.3e-16) * 2;
    const label = `${type.name} m=${m} n=${n} k=${k} transA=${transA} transB=${transB} batch=${batch}`;
    for (let i = 0; i < expected.length; i++) {
      if (!(Math.abs(actual[i]! - expected[i]!) <= tolerance))
        expect.fail(`${label}: element ${i}: wasm ${actual[i]} vs js ${expected[i]}`);
    }
  }

  for (const [name, type] of FLOAT_TYPES) {
    it(`${name}: every size combination of 1, 3, 4, 5, 17, 64, 65 and every transpose flag`, () => {
      for (const m of sizes)
        for (const n of sizes)
          for (const k of sizes) for (const [transA, transB] of flags) check(type, m, n, k, transA, transB);
    });

    it(`${name}: blocks larger than one packed panel (257, 300, 1030) in every direction`, () => {
      for (const [transA, transB] of flags) {
        check(type, 257, 9, 300, transA, transB);
        check(type, 5, 1030, 17, transA, transB);
        check(type, 65, 33, 600, transA, transB);
        check(type, 100, 257, 257, transA, transB);
      }
    });

    it(`${name}: batches with broadcast offsets`, () => {
      for (const [transA, transB] of flags) {
        check(type, 5, 17, 4, transA, transB, 3);
        check(type, 17, 5, 65, transA, transB, 4, 1, 4); // A broadcast over the batch
        check(type, 4, 65, 3, transA, transB, 6, 3, 1); // B broadcast, A repeating with period 3
      }
    });

    it(`${name}: k = 0 gives zeros, whatever the output held`, () => {
      const out = new type(6).fill(7);
      const desc = { m: 2, n: 3, k: 0, transA: false, transB: false, batch: 1, aOffsets: [0], bOffsets: [0] };
      wasmBackend.matmul(new type(0), new type(0), out, { ...desc, outOffsets: [0] });
      expectIdentical(out, new type(6), "k = 0");
    });

    it(`${name}: NaN and ±Infinity propagate as in the JavaScript kernel`, () => {
      for (const [m, n, k] of [
        [5, 17, 65],
        [64, 64, 64],
      ] as const) {
        const a = randomArray(type, m * k);
        const b = randomArray(type, k * n);
        a[3] = NaN; // row 0 (or column 3 transposed) becomes NaN
        b[k * n - 1] = Infinity;
        b[0] = -Infinity;
        for (const [transA, transB] of flags) {
          const desc = { m, n, k, transA, transB, batch: 1, aOffsets: [0], bOffsets: [0], outOffsets: [0] };
          const expected = new type(m * n);
          const actual = new type(m * n);
          jsBackend.matmul(a, b, expected, desc);
          wasmBackend.matmul(a, b, actual, desc);
          for (let i = 0; i < expected.length; i++) {
            const e = expected[i]!;
            if (Number.isFinite(e)) continue;
            expect(Object.is(actual[i], e), `element ${i}: wasm ${actual[i]} vs js ${e}`).toBe(true);
          }
          expect(expected.some((v) => Number.isNaN(v))).toBe(true);
          expect(actual.some((v) => v === Infinity || v === -Infinity)).toBe(
            expected.some((v) => !Number.isFinite(v) && !Number.isNaN(v)),
          );
        }
      }
    });
  }

  it("float64: identical to the JavaScript kernel wherever that kernel packs (same depth blocks, same order)", () => {
    // The JS kernel packs products of more than 4,096 multiply-adds with neither side a vector.
    for (const [m, n, k] of [
      [17, 65, 300],
      [64, 64, 64],
      [65, 3, 600],
      [257, 9, 17],
    ] as const)
      for (const [transA, transB] of flags) {
        const a = randomArray(Float64Array, m * k);
        const b = randomArray(Float64Array, k * n);
        const desc = { m, n, k, transA, transB, batch: 1, aOffsets: [0], bOffsets: [0], outOffsets: [0] };
        const expected = new Float64Array(m * n);
        const actual = new Float64Array(m * n);
        jsBackend.matmul(a, b, expected, desc);
        wasmBackend.matmul(a, b, actual, desc);
        expectIdentical(actual, expected, `m=${m} n=${n} k=${k} transA=${transA} transB=${transB}`);
      }
  });

  it("float32 property: random shapes, flags and batches agree (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 70 }),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 1, max: 3 }),
        (m, n, k, transA, transB, batch) => check(Float32Array, m, n, k, transA, transB, batch, batch, 1),
      ),
      { numRuns: 60 },
    );
  });

  it("mixed or int32 arrays run the JavaScript kernel (same results)", () => {
    const desc = {
      m: 3,
      n: 4,
      k: 5,
      transA: false,
      transB: false,
      batch: 1,
      aOffsets: [0],
      bOffsets: [0],
      outOffsets: [0],
    };
    const a = Int32Array.from({ length: 15 }, (_, i) => i - 7);
    const b = Int32Array.from({ length: 20 }, (_, i) => 2 * i - 9);
    const expected = new Int32Array(12);
    const actual = new Int32Array(12);
    jsBackend.matmul(a, b, expected, desc);
    wasmBackend.matmul(a, b, actual, desc);
    expect(Array.from(actual)).toEqual(Array.from(expected));
    const mixedOut = new Float64Array(12);
    const reference = new Float64Array(12);
    const a32 = Float32Array.from(a);
    jsBackend.matmul(a32, Float64Array.from(b), reference, desc);
    wasmBackend.matmul(a32, Float64Array.from(b), mixedOut, desc);
    expectIdentical(mixedOut, reference, "float32 · float64");
  });
});

// ---------------------------------------------------------------------------------------------------------

describe("wasm unary kernels agree with the JavaScript kernels", () => {
  const arithmetic: UnaryKernel[] = ["neg", "abs", "relu", "square", "sqrt", "reciprocal", "sign", "copy"];
  const transcendental: UnaryKernel[] = ["exp", "tanh", "sigmoid"];
  const others: UnaryKernel[] = ["log", "sin", "cos"];
  const lengths = [1, 3, 4, 5, 17, 64, 65, 257];

  function inputs(type: FloatType, length: number, scale: number): FloatArray {
    const x = randomArray(type, length, scale);
    for (let i = 0; i < Math.min(length, SPECIAL.length); i++) x[(i * 7) % length] = SPECIAL[i]!;
    return x;
  }

  for (const [name, type] of FLOAT_TYPES) {
    it(`${name}: arithmetic ops give identical values, special values included`, () => {
      for (const op of [...arithmetic, ...others])
        for (const length of lengths)
          for (const scale of [1, 50]) {
            const x = inputs(type, length, scale);
            const expected = new type(length);
            const actual = new type(length);
            jsBackend.unary(op, x, expected);
            wasmBackend.unary(op, x, actual);
            expectIdentical(actual, expected, `${op} length ${length}`);
          }
    });
  }

  it("float32 exp, tanh, sigmoid: computed in float64 lanes, at most 1 ulp from JavaScript (almost always 0)", () => {
    for (const op of transcendental) {
      let differing = 0;
      let total = 0;
      for (const length of [...lengths, 20000])
        for (const scale of [0.01, 0.2, 3, 30, 120]) {
          const x = inputs(Float32Array, length, scale) as Float32Array;
          const expected = new Float32Array(length);
          const actual = new Float32Array(length);
          jsBackend.unary(op, x, expected);
          wasmBackend.unary(op, x, actual);
          expectWithinUlps(actual, expected, 1, `${op} length ${length} scale ${scale}`);
          for (let i = 0; i < length; i++) if (!Object.is(actual[i], expected[i])) differing++;
          total += length;
        }
      // With a float64 result good to ~1e-14, a float32 rounding differs from JavaScript's only when the exact
      // value lies within ~1e-14 (relative) of a rounding boundary: essentially never.
      expect(differing / total, op).toBeLessThan(1e-4);
    }
  });

  it("float32 tanh: within 1 ulp of Math.fround(Math.tanh(x)) and differing from it in fewer than 1e-5 of values", () => {
    // The contract of docs/backends.md, on inputs like a network's pre-activations (seeded normals of sd 0.3, 1
    // and 3 and uniform values in [−10, 10]) and on every float32 in bands where the kernel's reduction changes
    // (n = round(2x/ln 2) goes 0 → ±1 at |x| = ln 2/4 ≈ 0.173), around 0.05 (where the previous kernel switched
    // to a series) and near 9.01 (from where float32 tanh is ±1). The kernel (h = u·coth u to 1e-15) differs in
    // none of these; a polynomial a degree shorter (3e-12) would still pass, one two degrees shorter would not.
    const draw = new Random(11);
    const samples: [string, () => number][] = [
      ["normal, sd 0.3", () => 0.3 * draw.normal()],
      ["normal, sd 1", () => draw.normal()],
      ["normal, sd 3", () => 3 * draw.normal()],
      ["uniform in [−10, 10]", () => 20 * draw.uniform() - 10],
    ];
    const inputs: [string, Float32Array][] = samples.map(([label, next]) => [
      label,
      Float32Array.from({ length: 1 << 18 }, next),
    ]);
    /** Every float32 from `low` up to `high` (same sign, |low| ≤ |high|), by bit pattern. */
    const every = (low: number, high: number): Float32Array => {
      const first = new Uint32Array(Float32Array.of(low).buffer)[0]!;
      const last = new Uint32Array(Float32Array.of(high).buffer)[0]!;
      return new Float32Array(Uint32Array.from({ length: last - first + 1 }, (_, i) => first + i).buffer);
    };
    for (const [low, high] of [
      [0.17, 0.177],
      [0.0495, 0.0505],
      [8.9, 9.1],
    ])
      inputs.push([`every float32 in ±[${low}, ${high}]`, every(low, high)], ["", every(-low, -high)]);
    let differing = 0;
    let total = 0;
    for (const [label, x] of inputs) {
      const actual = new Float32Array(x.length);
      wasmBackend.unary("tanh", x, actual);
      const expected = x.map((value) => Math.tanh(value));
      expectWithinUlps(actual, expected, 1, `tanh, ${label}`);
      for (let i = 0; i < x.length; i++) if (actual[i] !== expected[i]) differing++;
      total += x.length;
    }
    expect(total).toBeGreaterThan(2_000_000);
    expect(differing / total).toBeLessThan(1e-5);
  });

  it("float32 transcendentals keep the signs of zeros, NaN and the limits", () => {
    const x = Float32Array.from([NaN, Infinity, -Infinity, 0, -0, 100, -100, 1e-40]);
    const check = (op: UnaryKernel, expected: number[]) => {
      const out = new Float32Array(x.length);
      wasmBackend.unary(op, x, out);
      expectIdentical(out, Float32Array.from(expected), op);
    };
    check("exp", [NaN, Infinity, 0, 1, 1, Infinity, Math.fround(Math.exp(-100)), 1]); // e⁻¹⁰⁰ is a float32 subnormal
    check("tanh", [NaN, 1, -1, 0, -0, 1, -1, Math.fround(1e-40)]);
    check("sigmoid", [NaN, 1, 0, 0.5, 0.5, 1, Math.fround(1 / (1 + Math.exp(100))), 0.5]);
  });

  it("float64 transcendentals and int32 arrays run the JavaScript kernels (identical values)", () => {
    for (const op of transcendental) {
      const x = inputs(Float64Array, 300, 5);
      const expected = new Float64Array(300);
      const actual = new Float64Array(300);
      jsBackend.unary(op, x, expected);
      wasmBackend.unary(op, x, actual);
      expectIdentical(actual, expected, op);
    }
    const ints = Int32Array.from({ length: 300 }, (_, i) => i - 150);
    for (const op of ["neg", "abs", "relu", "square", "sign"] as UnaryKernel[]) {
      const expected = new Int32Array(300);
      const actual = new Int32Array(300);
      jsBackend.unary(op, ints, expected);
      wasmBackend.unary(op, ints, actual);
      expect(Array.from(actual), op).toEqual(Array.from(expected));
    }
  });
});

// ---------------------------------------------------------------------------------------------------------

describe("wasm binary kernels agree with the JavaScript kernels", () => {
  const ops: BinaryKernel[] = [
    "add",
    "sub",
    "mul",
    "div",
    "maximum",
    "minimum",
    "pow",
    "greater",
    "greaterEqual",
    "less",
    "lessEqual",
    "equal",
  ];
  // [a shape, b shape]: same shape, row and column vectors, scalars, shapes that collapse to two dimensions and
  // shapes that do not (those run the JavaScript kernel).
  const cases: [number[], number[]][] = [
    [[1], [1]],
    [[3], [3]],
    [[17], []],
    [[], [65]],
    [[257], [257]],
    [[4, 5], [5]],
    [
      [5, 4],
      [5, 1],
    ],
    [
      [1, 17],
      [3, 1],
    ],
    [
      [64, 65],
      [64, 65],
    ],
    [
      [65, 64],
      [1, 64],
    ],
    [[2, 3, 4], [4]],
    [
      [2, 3, 4],
      [2, 3, 1],
    ],
    [
      [2, 3, 4],
      [3, 4],
    ],
    [
      [2, 3, 5],
      [2, 1, 5],
    ],
    [
      [2, 1, 5],
      [1, 3, 1],
    ],
    [
      [4, 1, 6, 2],
      [3, 1, 1],
    ],
  ];

  function broadcastShape(a: number[], b: number[]): number[] {
    const rank = Math.max(a.length, b.length);
    return Array.from({ length: rank }, (_, i) => {
      const da = a[a.length - rank + i] ?? 1;
      const db = b[b.length - rank + i] ?? 1;
      return da === 1 ? db : da;
    });
  }

  for (const [name, type] of FLOAT_TYPES) {
    it(`${name}: every op and broadcast pattern gives identical values, special values included`, () => {
      for (const op of ops)
        for (const [aShape, bShape] of cases) {
          const outShape = broadcastShape(aShape, bShape);
          const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);
          const a = randomArray(type, size(aShape), 3);
          const b = randomArray(type, size(bShape), 3);
          // Ties (for maximum, minimum, ±0) and special values on both sides.
          for (let i = 0; i < a.length; i += 3) a[i] = SPECIAL[i % SPECIAL.length]!;
          for (let i = 1; i < b.length; i += 4) b[i] = SPECIAL[(i * 5) % SPECIAL.length]!;
          if (a.length === b.length) for (let i = 2; i < a.length; i += 5) b[i] = a[i]!;
          const expected = new type(size(outShape));
          const actual = new type(size(outShape));
          jsBackend.binary(op, a, aShape, b, bShape, expected, outShape);
          wasmBackend.binary(op, a, aShape, b, bShape, actual, outShape);
          expectIdentical(actual, expected, `${op} ${JSON.stringify(aShape)} ${JSON.stringify(bShape)}`);
        }
    });
  }

  it("maximum and minimum keep JavaScript's tie and NaN rules (a ≥ b or a is NaN: a)", () => {
    const a = Float32Array.from([0, -0, NaN, 1, NaN, -Infinity]);
    const b = Float32Array.from([-0, 0, 1, NaN, NaN, -Infinity]);
    const out = new Float32Array(6);
    wasmBackend.binary("maximum", a, [6], b, [6], out, [6]);
    expectIdentical(out, Float32Array.from([0, -0, NaN, NaN, NaN, -Infinity]), "maximum");
    wasmBackend.binary("minimum", a, [6], b, [6], out, [6]);
    expectIdentical(out, Float32Array.from([0, -0, NaN, NaN, NaN, -Infinity]), "minimum");
  });

  it("mixed dtypes run the JavaScript kernel", () => {
    const a = Float32Array.from([1.5, 2.5, 3.5]);
    const b = Float64Array.from([0.1, 0.2, 0.3]);
    const expected = new Float64Array(3);
    const actual = new Float64Array(3);
    jsBackend.binary("add", a, [3], b, [3], expected, [3]);
    wasmBackend.binary("add", a, [3], b, [3], actual, [3]);
    expectIdentical(actual, expected, "float32 + float64");
  });
});

// ---------------------------------------------------------------------------------------------------------

describe("wasm sums agree with the JavaScript kernel", () => {
  const cases: [number[], number[]][] = [
    [[1], [0]],
    [[257], [0]],
    [[4, 5], [1]],
    [[4, 5], [0]],
    [
      [17, 65],
      [0, 1],
    ],
    [[3, 64], [1]],
    [[65, 3], [1]],
    [[2, 3, 4], [1]],
    [
      [2, 3, 17],
      [0, 1],
    ],
    [
      [5, 7, 9],
      [1, 2],
    ],
    [[5, 0, 3], [1]],
    [
      [2, 3, 4],
      [0, 2],
    ],
    // Columns summed in blocks of 16 held in registers, then fours and single columns in memory.
    [[256, 300], [0]],
    [[7, 19], [0]],
    [[3, 5, 33], [1]],
    [[2, 9, 36], [1]],
    [[4, 32], [0]],
  ];
  for (const [name, type] of FLOAT_TYPES) {
    it(`${name}: every contiguous block of axes gives identical sums (same order of additions)`, () => {
      for (const [shape, axes] of cases) {
        const size = shape.reduce((p, d) => p * d, 1);
        const x = randomArray(type, size, 10);
        const outSize = shape.reduce((p, d, i) => (axes.includes(i) ? p : p * d), 1);
        for (const op of ["sum", "max", "min"] as const) {
          const expected = new type(outSize);
          const actual = new type(outSize);
          jsBackend.reduce(op, x, shape, axes, expected);
          wasmBackend.reduce(op, x, shape, axes, actual);
          expectIdentical(actual, expected, `${op} ${JSON.stringify(shape)} over ${JSON.stringify(axes)}`);
        }
      }
    });
  }

  for (const [name, type] of FLOAT_TYPES) {
    it(`${name}: arrays in a kernel instance's memory are summed there in place, with the same sums`, () => {
      const kernels = createKernelInstance()!;
      const copyArea = requireKernels();
      let at = kernels.base + 4;
      expect(kernels.reserve(at + (1 << 21))).toBe(true);
      const place = (length: number): FloatArray => {
        at = Math.ceil(at / type.BYTES_PER_ELEMENT) * type.BYTES_PER_ELEMENT;
        const array = new type(kernels.memory.buffer, at, length);
        at += length * type.BYTES_PER_ELEMENT + 4;
        return array;
      };
      for (const [shape, axes] of cases) {
        const size = shape.reduce((p, d) => p * d, 1);
        const outSize = shape.reduce((p, d, i) => (axes.includes(i) ? p : p * d), 1);
        const x = place(size);
        x.set(randomArray(type, size, 10));
        const actual = place(outSize);
        const expected = new type(outSize);
        jsBackend.reduce("sum", x.slice(), shape, axes, expected);
        // The area where a call copies its arrays stays as it was: nothing was copied there.
        expect(copyArea.reserve(copyArea.base + 64)).toBe(true);
        const sentinel = new Float64Array(copyArea.memory.buffer, copyArea.base, 8).fill(-7.25);
        wasmBackend.reduce("sum", x, shape, axes, actual);
        expectIdentical(actual, expected, `sum ${JSON.stringify(shape)} over ${JSON.stringify(axes)}`);
        expect(Array.from(sentinel), JSON.stringify(shape)).toEqual(new Array(8).fill(-7.25));
      }
    });
  }

  it("NaN and infinities propagate into the sums that contain them", () => {
    const x = new Float32Array(4 * 300).fill(1);
    x[5] = NaN;
    x[300 + 7] = Infinity;
    x[600 + 1] = Infinity;
    x[600 + 2] = -Infinity;
    const out = new Float32Array(4);
    wasmBackend.reduce("sum", x, [4, 300], [1], out);
    expectIdentical(out, Float32Array.from([NaN, Infinity, NaN, 300]), "row sums");
  });
});
