import { afterEach, describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { jsBackend, type Backend } from "../../src/backend/index.js";
import { wasmBackend } from "../../src/backend/wasm/index.js";
import { wasmThresholds } from "../../src/backend/wasm/thresholds.js";
import { threadPool, threadsAvailable } from "../../src/backend/wasm/threads.js";
import {
  getBackend,
  getThreads,
  grad,
  setBackend,
  setThreads,
  sigmoid,
  sum,
  tanh,
  tensor,
  traceBackward,
  type Tensor,
} from "../../src/index.js";

// Backend.activationBackward: the gradient of tanh or σ from the output y and the upstream gradient g in one
// kernel. The rules use it in a backward pass that records no graph, in place of their ops
// (mul(g, sub(1, square(y))) and mul(g, mul(y, sub(1, y)))), so it must give exactly those ops' bits.

const saved = { ...wasmThresholds };
const savedThreads = getThreads();
const savedBackend = getBackend();
afterEach(() => {
  Object.assign(wasmThresholds, saved);
  setThreads(savedThreads);
  setBackend(savedBackend);
  vi.restoreAllMocks();
});

type FloatArray = Float32Array | Float64Array;

/** The rule's ops, one backend call each, every intermediate stored in an array of the type (so rounded). */
function byOps(backend: Backend, kernel: "tanh" | "sigmoid", y: FloatArray, g: FloatArray): number[] {
  const Type = y.constructor as Float32ArrayConstructor | Float64ArrayConstructor;
  const n = y.length;
  const shape = [n];
  const one = new Type([1]);
  const local = new Type(n);
  if (kernel === "tanh") {
    const squared = new Type(n);
    backend.unary("square", y, squared);
    backend.binary("sub", one, [], squared, shape, local, shape);
  } else {
    const rest = new Type(n);
    backend.binary("sub", one, [], y, shape, rest, shape);
    backend.binary("mul", y, shape, rest, shape, local, shape);
  }
  const out = new Type(n);
  backend.binary("mul", g, shape, local, shape, out, shape);
  return Array.from(out);
}

const special = [0, -0, 1, -1, 0.5, -0.5, 1e-40, -1e-40, 3.4e38, NaN, Infinity, -Infinity, 1 - 2 ** -24];

/** Outputs of tanh / σ (mostly in range), gradients of any size, and special values among both. */
function arrays(Type: Float32ArrayConstructor | Float64ArrayConstructor, n: number, seed: number) {
  let state = seed * 2654435761 + 3;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const y = new Type(n);
  const g = new Type(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 17 === 5 ? special[(i * 7) % special.length]! : next() * 2 - 1;
    g[i] =
      i % 13 === 3 ? special[(i * 5) % special.length]! : (next() * 2 - 1) * 10 ** Math.floor(next() * 8 - 4);
  }
  return { y, g };
}

describe("activationBackward", () => {
  for (const Type of [Float32Array, Float64Array]) {
    for (const kernel of ["tanh", "sigmoid"] as const) {
      it(`${Type.name} ${kernel}: the JavaScript and WebAssembly kernels give the rule's ops' bits (fast-check)`, () => {
        setThreads(1);
        fc.assert(
          fc.property(fc.integer({ min: 0, max: 700 }), fc.integer({ min: 0, max: 1000 }), (n, seed) => {
            const { y, g } = arrays(Type, n, seed);
            const want = byOps(jsBackend, kernel, y, g);
            for (const backend of [jsBackend, wasmBackend]) {
              const out = new Type(n).fill(7);
              backend.activationBackward!(kernel, y, g, out);
              expect(Array.from(out)).toEqual(want);
            }
            // The wasm backend's own ops agree with the JavaScript ones.
            expect(byOps(wasmBackend, kernel, y, g)).toEqual(want);
          }),
          { numRuns: 120 },
        );
      });
    }
  }

  it.skipIf(!threadsAvailable())("split across a warm pool's threads, with one call's bits", () => {
    setThreads(2);
    const pool = threadPool()!;
    vi.spyOn(pool, "warm", "get").mockReturnValue(true);
    wasmThresholds.threadDerivativeValues = 1000;
    const split = vi.spyOn(pool, "derivative");
    for (const kernel of ["tanh", "sigmoid"] as const) {
      const { y, g } = arrays(Float32Array, 5003, 11);
      const want = byOps(jsBackend, kernel, y, g);
      split.mockClear();
      const out = new Float32Array(y.length).fill(7);
      wasmBackend.activationBackward!(kernel, y, g, out);
      expect(split).toHaveBeenCalledTimes(1);
      expect(Array.from(out)).toEqual(want);
    }
  });

  describe("in the rules", () => {
    const x = () =>
      tensor(
        [
          [-2, -0.3, 0, 0.7],
          [1.5, 3, -1e-3, 9],
        ],
        { requiresGrad: true },
      );

    for (const [name, f] of [
      ["tanh", tanh],
      ["sigmoid", sigmoid],
    ] as const) {
      it(`${name}: backward runs the kernel once instead of the ops; with createGraph, the ops`, () => {
        const backend = getBackend();
        const fused = vi.spyOn(backend, "activationBackward");
        const unary = vi.spyOn(backend, "unary");
        const input = x();
        const y = f(input);
        unary.mockClear();
        y.backward(
          tensor([
            [1, 2, 3, 4],
            [5, 6, 7, 8],
          ]),
        );
        expect(fused).toHaveBeenCalledTimes(1);
        expect(unary).not.toHaveBeenCalled();
        const fusedGrad = Array.from(input.grad!.data);
        // A second derivative needs the graph of the first: the ops, recorded.
        fused.mockClear();
        const second = grad((t: Tensor) => sum(grad((u: Tensor) => sum(f(u)))(t)))(x());
        expect(fused).not.toHaveBeenCalled();
        const values = Array.from(x().data);
        const expected = values.map((v) => {
          const t = name === "tanh" ? Math.tanh(v) : 1 / (1 + Math.exp(-v));
          return name === "tanh" ? -2 * t * (1 - t * t) : t * (1 - t) * (1 - 2 * t);
        });
        Array.from(second.data).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
        // A backend without the kernel: the rule's ops, with the same bits.
        const { activationBackward: _unused, ...rest } = backend;
        setBackend({ ...rest, name: `${backend.name}-without-activation-backward` });
        const plain = x();
        f(plain).backward(
          tensor([
            [1, 2, 3, 4],
            [5, 6, 7, 8],
          ]),
        );
        expect(Array.from(plain.grad!.data)).toEqual(fusedGrad);
      });

      it(`${name}: backward writes over its upstream gradient only where the engine alone holds it; the same bits`, () => {
        const backend = getBackend();
        const fused = vi.spyOn(backend, "activationBackward");
        /** Whether each call of the kernel wrote over its upstream gradient (out === g). */
        const overwrote = () => fused.mock.calls.map(([, , g, out]) => out === g);
        const w = () => tensor([[0.5], [-2], [0.25], [3]]);
        // The rule's ops (the kernel's bits): the reference for every case below.
        const { activationBackward: _unused, ...rest } = backend;
        const byOps = (run: () => Tensor) => {
          setBackend({ ...rest, name: `${backend.name}-without-activation-backward` });
          try {
            return Array.from(run().data);
          } finally {
            setBackend(backend);
          }
        };
        const throughProduct = () => {
          const input = x();
          sum(f(input).matmul(w())).backward();
          return input.grad!;
        };
        const want = byOps(throughProduct);
        // Its upstream, the product's gradient, is an array the engine alone holds: written over.
        fused.mockClear();
        expect(Array.from(throughProduct().data)).toEqual(want);
        expect(overwrote()).toEqual([true]);

        // A seed is the caller's: never written over.
        const seed = tensor([
          [1, 2, 3, 4],
          [5, 6, 7, 8],
        ]);
        const seedValues = Array.from(seed.data);
        fused.mockClear();
        f(x()).backward(seed);
        expect(overwrote()).toEqual([false]);
        expect(Array.from(seed.data)).toEqual(seedValues);

        // A hook sees the upstream (and may keep it): not written over. The upstream of y in sum(y · w) is w's
        // values in every row.
        const kept: Tensor[] = [];
        const hooked = x();
        const y = f(hooked);
        y.registerHook((g) => {
          kept.push(g);
          return undefined;
        });
        fused.mockClear();
        sum(y.matmul(w())).backward();
        expect(overwrote()).toEqual([false]);
        expect(Array.from(hooked.grad!.data)).toEqual(want);
        expect(Array.from(kept[0]!.data)).toEqual([0.5, -2, 0.25, 3, 0.5, -2, 0.25, 3]);

        // One upstream handed to two branches (add gives its upstream to both inputs): neither writes over it.
        const twoBranches = () => {
          const a = x();
          const b = x();
          sum(f(a).add(f(b)).matmul(w())).backward();
          return [...Array.from(a.grad!.data), ...Array.from(b.grad!.data)];
        };
        const wantBoth = byOps(() => tensor(twoBranches()));
        fused.mockClear();
        expect(twoBranches()).toEqual(wantBoth);
        expect(overwrote()).toEqual([false, false]);

        // The backprop trace reports each step's upstream: never written over (it also works out each step's
        // local Jacobian, through the kernel).
        fused.mockClear();
        const trace = traceBackward(sum(f(x()).matmul(w())));
        expect(overwrote().length).toBeGreaterThan(0);
        expect(overwrote().every((o) => !o)).toBe(true);
        const step = trace.steps.find((s) => s.op === name)!;
        expect(step.upstream).toEqual([
          [0.5, -2, 0.25, 3],
          [0.5, -2, 0.25, 3],
        ]);
        expect((step.downstream[0] as number[][]).flat()).toEqual(want);
      });
    }
  });
});
