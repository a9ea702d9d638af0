import { afterEach, describe, expect, it } from "vitest";
import * as chainrule from "../../src/index.js";
import {
  getBackend,
  initWasm,
  jsBackend,
  listBackends,
  matmul,
  randn,
  seed,
  setBackend,
  tanh,
  wasmBackend,
} from "../../src/index.js";
import { loadKernelsSync, wasmSupported } from "../../src/backend/wasm/index.js";
import { wasmThresholds } from "../../src/backend/wasm/thresholds.js";
import { ordinaryMatmul } from "../../src/backend/wasm/matmul.js";

const saved = { ...wasmThresholds };
const initial = getBackend();
afterEach(() => {
  Object.assign(wasmThresholds, saved);
  setBackend(initial);
});

describe("choosing the wasm backend", () => {
  it("is the default in Node, where the module instantiates synchronously", () => {
    expect(wasmSupported()).toBe(true);
    expect(listBackends()).toEqual(expect.arrayContaining(["js", "wasm"]));
    // The test projects may select a backend in a setup file; the default itself is what a fresh import picks.
    expect(loadKernelsSync()).not.toBeNull();
    expect(wasmBackend.name).toBe("wasm");
    // This file runs only in the default test project, which selects no backend: `initial` is the default.
    expect(initial).toBe(wasmBackend);
  });

  it("setBackend switches both ways, and initWasm() loads asynchronously and selects wasm", async () => {
    setBackend("js");
    expect(getBackend()).toBe(jsBackend);
    const backend = await initWasm();
    expect(backend).toBe(wasmBackend);
    expect(getBackend()).toBe(wasmBackend);
    setBackend("js");
    expect(getBackend().name).toBe("js");
  });

  it("is exported from the package entry point", () => {
    expect(chainrule.wasmBackend).toBe(wasmBackend);
    expect(typeof chainrule.initWasm).toBe("function");
  });

  it("gives the JS backend's results through the public ops (float32, NER-sized)", () => {
    seed(3);
    const x = randn([256, 250]);
    const w = randn([300, 250]);
    const run = (name: string) => {
      setBackend(name);
      const z = matmul(x, w, { transposeB: true });
      return { z: z.data as Float32Array, h: tanh(z).data as Float32Array };
    };
    const js = run("js");
    const wasm = run("wasm");
    // Recursive summation of k float32 products errs by at most k·ε·Σ|xᵢwᵢ| (JS sums in float64, so nearly all
    // of the difference is wasm's); tanh of equal inputs is equal (computed in float64, rounded once).
    const bound = chainrule.matmul(x.abs(), w.abs(), { transposeB: true }).data;
    for (let i = 0; i < js.z.length; i++)
      expect(Math.abs(js.z[i]! - wasm.z[i]!)).toBeLessThanOrEqual(250 * 1.2e-7 * bound[i]!);
    const same = new Float32Array(js.z.length);
    setBackend("wasm");
    same.set(tanh(chainrule.tensor(js.z, { shape: [256, 300] })).data);
    let identical = 0;
    for (let i = 0; i < js.h.length; i++) if (same[i] === js.h[i]) identical++;
    expect(identical / js.h.length).toBeGreaterThan(0.9999);
  });
});

describe("WebAssembly memory", () => {
  const product = (m: number, n: number, k: number) => {
    const a = Float32Array.from({ length: m * k }, (_, i) => (i % 7) - 3);
    const b = Float32Array.from({ length: k * n }, (_, i) => (i % 5) - 2);
    const out = new Float32Array(m * n);
    const reference = new Float32Array(m * n);
    const desc = {
      m,
      n,
      k,
      transA: false,
      transB: false,
      batch: 1,
      aOffsets: [0],
      bOffsets: [0],
      outOffsets: [0],
    };
    // The ordinary module's product (wasmBackend.matmul runs products in the thread pool's shared memory).
    ordinaryMatmul(a, b, out, desc);
    jsBackend.matmul(a, b, reference, desc);
    return { out, reference };
  };

  it("grows to the largest call and stays there: repeated calls never grow it further", () => {
    const kernels = loadKernelsSync()!;
    product(400, 300, 500);
    const after = kernels.memoryBytes;
    // 400×500 + 500×300 + 400×300 float32 values at least.
    expect(after).toBeGreaterThan((400 * 500 + 500 * 300 + 400 * 300) * 4);
    for (let i = 0; i < 20; i++) product(400, 300, 500);
    for (let i = 0; i < 20; i++) product(37, 64, 91);
    expect(kernels.memoryBytes).toBe(after);
  });

  it("a call beyond the memory limit runs the JavaScript kernel instead, with the same result", () => {
    const kernels = loadKernelsSync()!;
    const before = kernels.memoryBytes;
    wasmThresholds.maxBytes = 4096;
    const { out, reference } = product(60, 70, 80);
    expect(Array.from(out)).toEqual(Array.from(reference));
    expect(kernels.memoryBytes).toBe(before);
  });
});
