/**
 * Backend benchmarks: the JavaScript and WebAssembly kernels side by side, in one run.
 *
 *   node --import tsx bench/kernels.ts [--rounds 5] [--seconds 1] [--only matmul|threads|ner|small]
 *   node --import tsx bench/kernels.ts --only tanh [--baseline e5eb9de] [--exhaustive]
 *
 * 1. Matrix multiply GFLOP/s at 64, 256 and 1024 (float32 and float64, through the public `matmul`), and at the
 *    three shapes of the window NER network's training step (kernel calls on typed arrays); then the wasm
 *    float32 kernel on one thread and on two, at the same sizes and at the NER step's shapes at batch 32 and 256.
 * 2. One training step of the window NER network at batch 256, in examples per second.
 * 3. Small calls (µs per call) around the size thresholds below which the wasm backend runs the JS kernels.
 * 4. Only with `--only tanh`: the float32 tanh kernel of this build against the one of assembly/ at a baseline
 *    commit (compiled here), in one process on the same inputs: ns per value on the NER step's 32 × 300 tanh for
 *    pre-activation-like inputs (the relaxed-SIMD build too, where it runs), and how often each differs from Math.fround(Math.tanh(x)) over 16.8 million
 *    seeded random inputs (with `--exhaustive`, also every float32 in [−0.05, 0.05] and ±[8.5, 9.5], which takes
 *    about a minute).
 *
 * The machine may be shared, so every figure is the best of several rounds, and the rounds of the two backends
 * alternate so that both see the same disturbances; the ratio column compares figures from the same run.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { getBackend, matmul, randn, seed, setBackend } from "../src/index.js";
import { Random } from "../src/tensor/random.js";
import { KERNELS_WASM_BASE64 } from "../src/backend/wasm/kernels.generated.js";
import { allowRelaxedSimd, decodeBase64 } from "../src/backend/wasm/variants.js";
import { RELAXED_WASM_BASE64 } from "../src/backend/wasm/variants.generated.js";
import { compileKernels } from "../scripts/build-wasm.js";
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

// ---------------------------------------------------------------------------------------------------------
// 4. The float32 tanh kernel against a baseline commit's (--only tanh).

const TANH = 8; // assembly/elementwise.ts's unary code

/** The kernels built from assembly/ as it was at `revision` (read with git show, compiled in a temporary folder). */
async function baselineKernels(revision: string): Promise<Uint8Array<ArrayBuffer>> {
  const folder = mkdtempSync(path.join(tmpdir(), "chainrule-baseline-"));
  try {
    const git = (...args: string[]) => execFileSync("git", args, { encoding: "utf8", maxBuffer: 1 << 26 });
    const files = git("ls-tree", "-r", "--name-only", revision, "assembly/").split("\n").filter(Boolean);
    for (const file of files) {
      mkdirSync(path.dirname(path.join(folder, file)), { recursive: true });
      writeFileSync(path.join(folder, file), git("show", `${revision}:${file}`));
    }
    return new Uint8Array(await compileKernels(path.join(folder, "assembly", "index.ts")));
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** One instance of a kernels binary with room for n inputs and n outputs; `tanh` runs the kernel on them. */
function tanhInstance(bytes: Uint8Array<ArrayBuffer>, n: number) {
  const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as {
    memory: WebAssembly.Memory;
    heapBase(): number;
    unaryF32(op: number, x: number, out: number, n: number): void;
  };
  const at = (exports.heapBase() + 15) & ~15;
  const bytesNeeded = at + 8 * n + 64 - exports.memory.buffer.byteLength;
  if (bytesNeeded > 0) exports.memory.grow(Math.ceil(bytesNeeded / 65536));
  const input = new Float32Array(exports.memory.buffer, at, n);
  const output = new Float32Array(exports.memory.buffer, at + 4 * n, n);
  return { input, output, tanh: (count = n) => exports.unaryF32(TANH, at, at + 4 * n, count) };
}

/** Counts of outputs that differ from Math.fround(Math.tanh(x)), and the largest difference in ulps. */
class Agreement {
  values = 0;
  differing = 0;
  maxUlps = 0;
  add(input: Float32Array, output: Float32Array, count: number): void {
    const bits = new Int32Array(output.buffer, output.byteOffset, count);
    const reference = new Float32Array(1);
    const referenceBits = new Int32Array(reference.buffer);
    for (let i = 0; i < count; i++) {
      reference[0] = Math.tanh(input[i]!);
      if (bits[i] !== referenceBits[0] && !(Number.isNaN(reference[0]) && Number.isNaN(output[i]!))) {
        this.differing++;
        this.maxUlps = Math.max(this.maxUlps, Math.abs(bits[i]! - referenceBits[0]!));
      }
    }
    this.values += count;
  }
  get summary(): string {
    const rate = this.differing ? ` (${(this.differing / this.values).toExponential(1)})` : "";
    return `${this.differing}${rate}, max ${this.maxUlps} ulp`;
  }
}

async function tanhBench(): Promise<void> {
  const revision = process.argv.includes("--baseline")
    ? process.argv[process.argv.indexOf("--baseline") + 1]!
    : "e5eb9de";
  const CHUNK = 1 << 20;
  const kernels = [
    { name: `baseline ${revision}`, ...tanhInstance(await baselineKernels(revision), CHUNK) },
    { name: "this build", ...tanhInstance(decodeBase64(KERNELS_WASM_BASE64), CHUNK) },
  ];
  // The relaxed-SIMD build too, where the engine runs it (its tanh uses fused multiply-adds in float64).
  const relaxed = decodeBase64(RELAXED_WASM_BASE64);
  if (allowRelaxedSimd() && WebAssembly.validate(relaxed))
    kernels.push({ name: "this build, relaxed SIMD", ...tanhInstance(relaxed, CHUNK) });
  const random = new Random(2024);
  const distributions: [string, () => number][] = [
    ["normal, sd 0.3", () => 0.3 * random.normal()],
    ["normal, sd 1", () => random.normal()],
    ["normal, sd 3", () => 3 * random.normal()],
    ["uniform in [−10, 10]", () => 20 * random.uniform() - 10],
  ];

  // Speed: the NER step's tanh at batch 32 (32 × 300 values), the same inputs in both instances, rounds alternating.
  const n = 32 * 300;
  const speed = distributions.map(([label, draw]) => {
    const x = Float32Array.from({ length: n }, draw);
    for (const kernel of kernels) kernel.input.set(x);
    const top = kernels.map(() => 0);
    for (let round = 0; round < ROUNDS * 2; round++)
      kernels.forEach((kernel, i) => {
        const calls = rate(() => kernel.tanh(n), SECONDS * 50, 20);
        top[i] = Math.max(top[i]!, calls);
      });
    const ns = top.map((calls) => 1e9 / (calls * n));
    return [
      label,
      ...ns.map((value) => value.toFixed(2)),
      ...ns.slice(1).map((value) => `${(ns[0]! / value).toFixed(2)}×`),
    ];
  });
  printTable(
    "float32 tanh kernel, ns per value (32 × 300 values a call, best of alternating rounds)",
    ["", ...kernels.map((k) => k.name), ...kernels.slice(1).map((k) => `speed-up, ${k.name}`)],
    speed,
  );

  // Agreement with JavaScript: 2²² seeded random values of each distribution through both kernels.
  const agreement = distributions.map(([label, draw]) => {
    const counts = kernels.map(() => new Agreement());
    for (let done = 0; done < 1 << 22; done += CHUNK) {
      const x = Float32Array.from({ length: CHUNK }, draw);
      kernels.forEach((kernel, i) => {
        kernel.input.set(x);
        kernel.tanh();
        counts[i]!.add(kernel.input, kernel.output, CHUNK);
      });
    }
    return { label, counts };
  });
  const totals = kernels.map((_, i) => {
    const total = new Agreement();
    for (const { counts } of agreement) {
      total.values += counts[i]!.values;
      total.differing += counts[i]!.differing;
      total.maxUlps = Math.max(total.maxUlps, counts[i]!.maxUlps);
    }
    return total;
  });
  printTable(
    `Values that differ from Math.fround(Math.tanh(x)), of ${agreement[0]!.counts[0]!.values.toLocaleString("en-US")} per distribution`,
    ["", ...kernels.map((k) => k.name)],
    [
      ...agreement.map(({ label, counts }) => [label, ...counts.map((c) => c.summary)]),
      ["all", ...totals.map((c) => c.summary)],
    ],
  );

  if (process.argv.includes("--exhaustive")) {
    // Every float32 in the ranges (by bit pattern), through this build's kernel only (the relaxed one where it runs).
    const kernel = kernels[kernels.length - 1]!;
    const bitsIn = new Uint32Array(kernel.input.buffer, kernel.input.byteOffset, CHUNK);
    const rows = (
      [
        ["[−0.05, 0.05]", -0.05, 0.05],
        ["[8.5, 9.5]", 8.5, 9.5],
        ["[−9.5, −8.5]", -9.5, -8.5],
      ] as const
    ).map(([label, low, high]) => {
      const count = new Agreement();
      // The range as runs of consecutive bit patterns: its negative part from −0 (or high) out to low, its
      // non-negative part from +0 (or low) up to high.
      const bitsOf = (value: number) => new Uint32Array(Float32Array.of(value).buffer)[0]!;
      const runs: [number, number][] = [];
      if (low < 0) runs.push([bitsOf(Math.min(high, -0)), bitsOf(low)]);
      if (high >= 0) runs.push([bitsOf(Math.max(low, 0)), bitsOf(high)]);
      for (const [first, last] of runs)
        for (let start = first; start <= last; start += CHUNK) {
          const size = Math.min(CHUNK, last - start + 1);
          for (let i = 0; i < size; i++) bitsIn[i] = start + i;
          kernel.tanh(size);
          count.add(kernel.input, kernel.output, size);
        }
      return [label, count.values.toLocaleString("en-US"), count.summary];
    });
    printTable(`Every float32 in a range, ${kernel.name}`, ["", "values", "differing"], rows);
  }
}

async function main(): Promise<void> {
  const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
  if (only === "tanh") {
    await tanhBench();
    return;
  }
  console.log(
    `chainrule kernel benchmarks — Node ${process.version}, default backend "${getBackend().name}", ` +
      `best of ${ROUNDS} alternating rounds`,
  );
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

await main();
