/**
 * Backend benchmarks: the JavaScript and WebAssembly kernels side by side, in one run.
 *
 *   node --import tsx bench/kernels.ts [--rounds 5] [--seconds 1] [--only matmul|threads|ner|small]
 *
 * 1. Matrix multiply GFLOP/s at 64, 256 and 1024 (float32 and float64, through the public `matmul`), and at the
 *    three shapes of the window NER network's training step (kernel calls on typed arrays); then the wasm
 *    float32 kernel on one thread and on two, at the same sizes and at the NER step's shapes at batch 32 and 256.
 * 2. One training step of the window NER network at batch 256, in examples per second.
 * 3. Small calls (µs per call) around the size thresholds below which the wasm backend runs the JS kernels.
 *
 * The machine may be shared, so every figure is the best of several rounds, and the rounds of the two backends
 * alternate so that both see the same disturbances; the ratio column compares figures from the same run.
 */
import { getBackend, matmul, randn, seed, setBackend } from "../src/index.js";
import { jsBackend } from "../src/backend/js/index.js";
import { wasmBackend } from "../src/backend/wasm/index.js";
import { wasmThresholds } from "../src/backend/wasm/thresholds.js";
import { getThreads, setThreads, threadsAvailable } from "../src/backend/wasm/threads.js";
import { format, printTable, rate } from "./util.js";
import { BATCH, nerStep } from "./ner-step.js";

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const ROUNDS = option("rounds", 5);
const SECONDS = option("seconds", 1);

const BACKENDS = ["js", "wasm"];

/** Runs `measure` on each backend, `rounds` times, alternating; returns the best figure of each. */
function interleaved(measure: (backend: string) => number, rounds = ROUNDS): number[] {
  const top = BACKENDS.map(() => 0);
  const previous = getBackend();
  for (let round = 0; round < rounds; round++) {
    BACKENDS.forEach((name, i) => {
      setBackend(name);
      top[i] = Math.max(top[i]!, measure(name));
    });
  }
  setBackend(previous);
  return top;
}

const HEADER = ["", "js", "wasm", "wasm / js"];

function row(label: string, figures: number[], digits = 2): (string | number)[] {
  const [js, wasm] = figures as [number, number];
  return [label, format(js, digits), format(wasm, digits), `${(wasm / js).toFixed(2)}×`];
}

// ---------------------------------------------------------------------------------------------------------
// 1. Matrix multiply.

function squareMatmul(dtype: "float32" | "float64"): (string | number)[][] {
  return [64, 256, 1024].map((n) => {
    seed(n);
    const a = randn([n, n], { dtype });
    const b = randn([n, n], { dtype });
    const ms = (SECONDS * 1000 * (n === 1024 ? 1 : 0.4)) / 2;
    const figures = interleaved(
      () => (rate(() => matmul(a, b), ms, 1) * 2 * n ** 3) / 1e9,
      n === 1024 ? 3 : ROUNDS,
    );
    return row(`${n} × ${n} · ${n} × ${n}`, figures);
  });
}

/** The products of the NER step, straight on the kernels (no tensor allocation). */
function nerMatmuls(): (string | number)[][] {
  const shapes = [
    { label: "forward  X·W₁ᵀ  [256×250]·[300×250]ᵀ", m: 256, n: 300, k: 250, transA: false, transB: true },
    { label: "backward δ·W₁   [256×300]·[300×250]", m: 256, n: 250, k: 300, transA: false, transB: false },
    { label: "backward δᵀ·X   [256×300]ᵀ·[256×250]", m: 300, n: 250, k: 256, transA: true, transB: false },
  ];
  return shapes.map(({ label, m, n, k, transA, transB }) => {
    const a = Float32Array.from({ length: m * k }, () => Math.random() - 0.5);
    const b = Float32Array.from({ length: k * n }, () => Math.random() - 0.5);
    const out = new Float32Array(m * n);
    const zero = [0];
    const desc = { m, n, k, transA, transB, batch: 1, aOffsets: zero, bOffsets: zero, outOffsets: zero };
    const figures = interleaved((name) => {
      const kernels = name === "js" ? jsBackend : wasmBackend;
      return (rate(() => kernels.matmul(a, b, out, desc), SECONDS * 200, 2) * 2 * m * n * k) / 1e9;
    });
    return row(label, figures);
  });
}

/**
 * The wasm float32 kernel on one thread and on two, rounds alternating. The pool keeps its two threads
 * throughout (changing the count starts and stops a worker); "1 thread" raises the split threshold instead.
 */
function threadMatmuls(): (string | number)[][] {
  const shapes: [string, number, number, number, boolean, boolean][] = [
    ["64 × 64 · 64 × 64", 64, 64, 64, false, false],
    ["256 × 256 · 256 × 256", 256, 256, 256, false, false],
    ["1024 × 1024 · 1024 × 1024", 1024, 1024, 1024, false, false],
  ];
  for (const batch of [32, 256]) {
    shapes.push(
      [`batch ${batch}: X·W₁ᵀ  [${batch}×250]·[300×250]ᵀ`, batch, 300, 250, false, true],
      [`batch ${batch}: δ·W₁   [${batch}×300]·[300×250]`, batch, 250, 300, false, false],
      [`batch ${batch}: δᵀ·X   [${batch}×300]ᵀ·[${batch}×250]`, 300, 250, batch, true, false],
    );
  }
  const savedThreads = getThreads();
  const savedFlops = wasmThresholds.threadFlops;
  setThreads(2);
  const rows = shapes.map(([label, m, n, k, transA, transB]) => {
    const a = Float32Array.from({ length: m * k }, () => Math.random() - 0.5);
    const b = Float32Array.from({ length: k * n }, () => Math.random() - 0.5);
    const out = new Float32Array(m * n);
    const zero = [0];
    const desc = { m, n, k, transA, transB, batch: 1, aOffsets: zero, bOffsets: zero, outOffsets: zero };
    const top = [0, 0];
    const large = m * n * k > 1e8;
    for (let round = 0; round < (large ? 3 : ROUNDS) * 2; round++) {
      const two = round % 2;
      wasmThresholds.threadFlops = two ? savedFlops : Infinity;
      const gflops =
        (rate(() => wasmBackend.matmul(a, b, out, desc), SECONDS * (large ? 300 : 100), 2) * 2 * m * n * k) /
        1e9;
      top[two] = Math.max(top[two]!, gflops);
    }
    const split = m * n * k >= savedFlops ? "" : " (not split)";
    return [label + split, format(top[0]!), format(top[1]!), `${(top[1]! / top[0]!).toFixed(2)}×`];
  });
  wasmThresholds.threadFlops = savedFlops;
  setThreads(savedThreads);
  return rows;
}

// ---------------------------------------------------------------------------------------------------------
// 2. One training step of the window NER network at batch 256: embedding gather of 5 ids from a 20,000 × 50
//    table → [256, 250], Linear 250→300, tanh, Linear 300→9, cross-entropy, backward, plain SGD on every
//    parameter (the embedding table in the rows the batch used).

function nerBench(): (string | number)[][] {
  const steps = BACKENDS.map(() => nerStep());
  const figures = interleaved((name) => rate(steps[BACKENDS.indexOf(name)]!.step, SECONDS * 1000, 3) * BATCH);
  // Both backends train the same model from the same seed on the same batches: their losses should agree.
  const losses = interleaved(() => {
    const { step } = nerStep();
    let loss = 0;
    for (let i = 0; i < 20; i++) loss = step();
    return loss;
  }, 1);
  return [
    row("examples/s", figures, 0),
    ["loss after 20 steps", ...losses.map((loss) => loss.toFixed(5)), ""],
  ];
}

// ---------------------------------------------------------------------------------------------------------
// 3. Small calls: where the wasm kernels start to pay for their copies (the thresholds in thresholds.ts).

function smallCalls(): (string | number)[][] {
  const saved = { ...wasmThresholds };
  wasmThresholds.matmulFlops = 0;
  wasmThresholds.elementwise = 0;
  const time = (backend: typeof jsBackend, call: (backend: typeof jsBackend) => void) => {
    let best = Infinity;
    for (let round = 0; round < 7; round++) {
      const start = performance.now();
      let calls = 0;
      while (performance.now() - start < 20) {
        call(backend);
        calls++;
      }
      best = Math.min(best, ((performance.now() - start) * 1000) / calls);
    }
    return best;
  };
  const rows: (string | number)[][] = [];
  const compare = (label: string, call: (backend: typeof jsBackend) => void) => {
    const js = time(jsBackend, call);
    const wasm = time(wasmBackend, call);
    rows.push([label, js.toFixed(2), wasm.toFixed(2), `${(js / wasm).toFixed(2)}×`]);
  };
  for (const size of [4, 8, 16]) {
    const a = Float32Array.from({ length: size * size }, () => Math.random());
    const out = new Float32Array(size * size);
    const desc = {
      m: size,
      n: size,
      k: size,
      transA: false,
      transB: false,
      batch: 1,
      aOffsets: [0],
      bOffsets: [0],
      outOffsets: [0],
    };
    compare(`matmul ${size}×${size}·${size}×${size} (${size ** 3} multiply-adds)`, (backend) =>
      backend.matmul(a, a, out, desc),
    );
  }
  for (const length of [64, 256, 1024]) {
    const x = Float32Array.from({ length }, () => Math.random());
    const out = new Float32Array(length);
    compare(`add, ${length} values`, (backend) =>
      backend.binary("add", x, [length], x, [length], out, [length]),
    );
    compare(`tanh, ${length} values`, (backend) => backend.unary("tanh", x, out));
  }
  Object.assign(wasmThresholds, saved);
  return rows;
}

function main(): void {
  console.log(
    `chainrule kernel benchmarks — Node ${process.version}, default backend "${getBackend().name}", ` +
      `best of ${ROUNDS} alternating rounds`,
  );
  const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
  if (!only || only === "matmul") {
    printTable("Matrix multiply, float32, GFLOP/s", HEADER, squareMatmul("float32"));
    printTable("Matrix multiply, float64, GFLOP/s", HEADER, squareMatmul("float64"));
    printTable("NER step products, float32 kernels, GFLOP/s", HEADER, nerMatmuls());
  }
  if ((!only || only === "matmul" || only === "threads") && threadsAvailable())
    printTable(
      `wasm float32 matmul, 1 and 2 threads, GFLOP/s (split from ${wasmThresholds.threadFlops} multiply-adds)`,
      ["", "1 thread", "2 threads", "2 / 1"],
      threadMatmuls(),
    );
  if (!only || only === "ner")
    printTable(
      "Window NER training step (gather 5×50 from 20,000 words → 250 → 300 tanh → 9, cross-entropy, SGD), batch 256",
      HEADER,
      nerBench(),
    );
  if (!only || only === "small")
    printTable(
      "Small float32 calls, µs per call (wasm thresholds at 0)",
      ["", "js", "wasm", "wasm speed / js"],
      smallCalls(),
    );
}

main();
