/**
 * Core benchmarks (`npm run bench`): scalar graphs, matrix multiply, and one training step of the window NER
 * network, each beside its peers measured in the same run. Figures only: nothing here is asserted.
 *
 *   npm run bench [-- scalar matmul ner scaling] [--rounds 3] [--seconds 1] [--warmup 1] [--tf-cpu-ner]
 *     [--baseline DIR]
 *
 * --baseline DIR adds the NER step of another checkout (DIR/bench/ner-step.ts, e.g. a `git worktree` of the
 * commit before a change), eager and compiled, 1 and 2 threads, to the same rounds: before and after side by
 * side in one run.
 *
 * Peers: PyTorch through python3 when torch imports there; TensorFlow.js from bench/peers (npm run bench:peers).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import { basename, resolve } from "node:path";
import { Tensor, getBackend, setThreads, tensor, wasmKernelBuild } from "../src/index.js";
import { best, format, printTable, rate } from "./util.js";
import { BATCHES } from "./ner-step.js";
import { SIZES, sideBySide, type ChainruleConfig } from "./side-by-side.js";

// ---------------------------------------------------------------------------------------------------------
// 1. Scalar graphs: a micrograd-style MLP (10 inputs, 16 tanh hidden units, 1 output, squared error) from 0-d
//    tensors, forward + backward, in graph nodes per second; beside a minimal Value class with closures.

class Value {
  data: number;
  grad = 0;
  previous: Value[];
  backwardStep: () => void = () => {};
  constructor(data: number, previous: Value[] = []) {
    this.data = data;
    this.previous = previous;
  }
  add(other: Value): Value {
    const out = new Value(this.data + other.data, [this, other]);
    out.backwardStep = () => {
      this.grad += out.grad;
      other.grad += out.grad;
    };
    return out;
  }
  sub(other: Value): Value {
    const out = new Value(this.data - other.data, [this, other]);
    out.backwardStep = () => {
      this.grad += out.grad;
      other.grad -= out.grad;
    };
    return out;
  }
  mul(other: Value): Value {
    const out = new Value(this.data * other.data, [this, other]);
    out.backwardStep = () => {
      this.grad += other.data * out.grad;
      other.grad += this.data * out.grad;
    };
    return out;
  }
  tanh(): Value {
    const t = Math.tanh(this.data);
    const out = new Value(t, [this]);
    out.backwardStep = () => {
      this.grad += (1 - t * t) * out.grad;
    };
    return out;
  }
  backward(): void {
    const order: Value[] = [];
    const seen = new Set<Value>();
    const visit = (v: Value): void => {
      if (seen.has(v)) return;
      seen.add(v);
      for (const p of v.previous) visit(p);
      order.push(v);
    };
    visit(this);
    this.grad = 1;
    for (let i = order.length - 1; i >= 0; i--) order[i]!.backwardStep();
  }
}

interface Scalar<S> {
  add(o: S): S;
  sub(o: S): S;
  mul(o: S): S;
  tanh(): S;
}

/** One forward + backward of the MLP; returns the number of op nodes it built. */
function mlpStep<S extends Scalar<S>>(
  W1: S[][],
  b1: S[],
  W2: S[],
  b2: S,
  x: S[],
  y: S,
  backward: (loss: S) => void,
): number {
  const hidden = W1.map((row, j) => {
    let acc = b1[j]!;
    for (let i = 0; i < row.length; i++) acc = acc.add(row[i]!.mul(x[i]!));
    return acc.tanh();
  });
  let out = b2;
  for (let j = 0; j < hidden.length; j++) out = out.add(W2[j]!.mul(hidden[j]!));
  const diff = out.sub(y);
  backward(diff.mul(diff));
  return W1.length * (2 * x.length + 1) + 2 * hidden.length + 2;
}

function scalarBench(): (string | number)[][] {
  const rows: (string | number)[][] = [];
  const random = () => Math.random() - 0.5;
  const measure = <S extends Scalar<S>>(
    make: (v: number, grad: boolean) => S,
    backward: (l: S) => void,
  ): number => {
    const W1 = Array.from({ length: 16 }, () => Array.from({ length: 10 }, () => make(random(), true)));
    const b1 = Array.from({ length: 16 }, () => make(random(), true));
    const W2 = Array.from({ length: 16 }, () => make(random(), true));
    const b2 = make(0, true);
    const x = Array.from({ length: 10 }, () => make(random(), false));
    const y = make(1, false);
    const nodes = mlpStep(W1, b1, W2, b2, x, y, backward);
    return best(() => rate(() => mlpStep(W1, b1, W2, b2, x, y, backward), 1500) * nodes);
  };
  const value = measure(
    (v) => new Value(v),
    (loss) => loss.backward(),
  );
  for (const dtype of ["float64", "float32"] as const) {
    const chain = measure(
      (v, grad) => tensor(v, { dtype, requiresGrad: grad }),
      (loss: Tensor) => loss.backward(),
    );
    rows.push([`chainrule Tensor (0-d, ${dtype})`, format(chain), `${(chain / value).toFixed(2)}×`]);
  }
  rows.push(["minimal Value class with closures", format(value), "1.00×"]);
  return rows;
}

// ---------------------------------------------------------------------------------------------------------
// 2 and 3. Matrix multiply and the NER training step, beside PyTorch and TensorFlow.js (bench/side-by-side.ts).

/** What 128-bit SIMD allows on this machine: cores × clock × 4 float32 lanes × vector operations per cycle. */
function machineLimit(): { row: (string | number)[]; note: string } {
  const cpus = cpus_();
  const ghz = cpus.mhz / 1000;
  // Two vector FMA pipes per core (Intel since Haswell, AMD Zen 2–4): two fused multiply-adds of 4 lanes per
  // cycle (16 flops), what the relaxed-SIMD build's micro-kernel issues. The plain build's separate multiply and
  // add reach as much only where the CPU has add pipes beside its multiply pipes; on the Intel Xeon this project
  // is measured on, the fused build's product ran 1.2–1.3× faster than the plain one.
  const perCycle = 4 * 2 * 2;
  const limit = cpus.cores * ghz * perCycle;
  return {
    row: [
      `SIMD limit: ${cpus.cores} cores × ${ghz.toFixed(2)} GHz × 4 lanes × 2 FMA pipes × 2 (mul+add)`,
      ...SIZES.map(() => format(limit, 1)),
    ],
    note: `${cpus.model}, ${cpus.cores} cores at ${ghz.toFixed(2)} GHz (/proc/cpuinfo), flags: ${cpus.flags}`,
  };
}

function cpus_(): { model: string; cores: number; mhz: number; flags: string } {
  const list = os.cpus();
  let model = list[0]?.model ?? "unknown CPU";
  let mhz = list[0]?.speed ?? 0;
  let flags = "";
  try {
    const text = readFileSync("/proc/cpuinfo", "utf8");
    model = /model name\s*:\s*(.*)/.exec(text)?.[1] ?? model;
    mhz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(text)?.[1] ?? mhz);
    const all = /flags\s*:\s*(.*)/.exec(text)?.[1]?.split(" ") ?? [];
    flags = all.filter((f) => /^(sse4_2|avx|avx2|fma|avx512f)$/.test(f)).join(" ");
  } catch {
    // not Linux: os.cpus() only
  }
  return { model, cores: list.length, mhz, flags };
}

function textOption(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

/** A checkout's commit (short hash), or its directory name when git cannot tell. */
function describeCheckout(directory: string): string {
  const result = spawnSync("git", ["-C", directory, "rev-parse", "--short", "HEAD"], { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : basename(resolve(directory));
}

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

// ---------------------------------------------------------------------------------------------------------
// 4. Graph size scaling: time per node of a deep chain, forward + backward.

function scalingBench(): (string | number)[][] {
  return [1_000, 10_000, 100_000, 1_000_000].map((n) => {
    const perNode = best(() => {
      const x = tensor(1, { requiresGrad: true });
      const start = performance.now();
      let y = x;
      for (let i = 0; i < n; i++) y = y.mul(1);
      y.backward();
      return n / (performance.now() - start);
    }, 2);
    return [n.toLocaleString("en-US"), `${(1000 / perNode).toFixed(3)} µs`];
  });
}

/** Sections to run: all by default, or those named on the command line (scalar, matmul, ner, scaling). */
const wanted = new Set(
  process.argv
    .slice(2)
    .filter(
      (a, i, all) => !a.startsWith("-") && !/^--(rounds|seconds|warmup|baseline)$/.test(all[i - 1] ?? ""),
    ),
);
const runs = (name: string): boolean => wanted.size === 0 || wanted.has(name);

/** The row the NER step's ratios are taken against (the peer a user would otherwise pick). */
const PYTORCH_ONE_THREAD = "PyTorch, 1 thread";

async function main(): Promise<void> {
  console.log(
    `chainrule core benchmarks — Node ${process.version}, default backend "${getBackend().name}", kernel build "${wasmKernelBuild()}"`,
  );
  if (runs("scalar")) {
    printTable(
      "Scalar MLP (10-16-1, tanh, squared error), forward + backward",
      ["implementation", "nodes/s", "ratio"],
      scalarBench(),
    );
  }
  if (runs("matmul") || runs("ner")) {
    const rounds = option("rounds", 3);
    // Eager and compiled (`compile(step)`, src/compile/) at one and two threads; only the NER step differs.
    const build = wasmKernelBuild();
    const threadsLabel = (threads: number) => `${threads} thread${threads > 1 ? "s" : ""}`;
    const stepArgs = (compiled: boolean, threads: number) => [
      "--threads",
      String(threads),
      ...(compiled ? ["--compile"] : []),
    ];
    const chainrule: ChainruleConfig[] = [false, true].flatMap((compiled) =>
      [1, 2].map((threads) => ({
        label: `chainrule (wasm)${compiled ? ", compiled" : ""}, ${threadsLabel(threads)}`,
        args: stepArgs(compiled, threads),
        nerOnly: compiled,
        apply: () => setThreads(threads),
        build,
      })),
    );
    // Where the fused multiply-add build runs, the same step on the plain build beside it (what it gains).
    if (build === "relaxed-simd") {
      for (const [compiled, threads] of [
        [false, 1],
        [true, 2],
      ] as const) {
        chainrule.push({
          label: `chainrule (wasm, plain SIMD)${compiled ? ", compiled" : ""}, ${threadsLabel(threads)}`,
          args: stepArgs(compiled, threads),
          nerOnly: true,
          apply: () => {},
          env: { CHAINRULE_RELAXED_SIMD: "0" },
          build: "simd",
        });
      }
    }
    const baseline = textOption("baseline");
    if (baseline !== undefined) {
      const source = resolve(baseline, "bench", "ner-step.ts");
      // Its compiled step too, where that checkout has one (its ner-step.ts takes --compile).
      const compiles = readFileSync(source, "utf8").includes("--compile");
      for (const compiled of compiles ? [false, true] : [false]) {
        for (const threads of [1, 2]) {
          chainrule.push({
            label: `chainrule (wasm) at ${describeCheckout(baseline)}${compiled ? ", compiled" : ""}, ${threadsLabel(threads)}`,
            args: stepArgs(compiled, threads),
            apply: () => {},
            source,
          });
        }
      }
    }
    const seconds = option("seconds", 1);
    const warmup = option("warmup", 1);
    const result = await sideBySide({
      rounds,
      seconds,
      warmup,
      matmul: runs("matmul"),
      ner: runs("ner"),
      chainrule,
      tensorflowCpuNer: process.argv.includes("--tf-cpu-ner"),
      log: (line) => console.log(line),
    });
    console.log("");
    for (const line of result.peers) console.log(line);
    const spread = `median of ${rounds} rounds (lowest–highest)`;
    if (runs("matmul")) {
      const limit = machineLimit();
      printTable(
        `Matrix multiply, float32, n × n · n × n, GFLOP/s, ${spread}`,
        ["implementation", ...SIZES.map(String)],
        [...result.matmul.table(SIZES, 1), limit.row],
      );
      console.log(`  ${limit.note}`);
      const tensorflow = "TensorFlow.js wasm";
      if (result.matmul.has(tensorflow)) {
        printTable(
          `The same products over ${tensorflow}'s speed (medians of the same rounds)`,
          ["implementation", ...SIZES.map(String)],
          result.matmul.ratios(tensorflow, SIZES),
        );
      }
    }
    if (runs("ner")) {
      printTable(
        `Window NER training step (gather 5 ids from 20,000 × 50 → Linear 250→300, tanh → Linear 300→9, cross-entropy, backward, SGD), examples/s over ${seconds} s after ${warmup} s of warm-up (both sides), ${spread}`,
        ["implementation", ...BATCHES.map((b) => `batch ${b}`)],
        result.ner.table(BATCHES, 0),
      );
      if (result.ner.has(PYTORCH_ONE_THREAD)) {
        printTable(
          `The same step over ${PYTORCH_ONE_THREAD}'s speed (medians of the same rounds)`,
          ["implementation", ...BATCHES.map((b) => `batch ${b}`)],
          result.ner.ratios(PYTORCH_ONE_THREAD, BATCHES),
        );
      }
      printTable(
        "Peak memory (maxRSS) of a process running only that step, MB",
        ["implementation", ...BATCHES.map((b) => `batch ${b}`)],
        result.memory.table(BATCHES, 0),
      );
    }
  }
  if (runs("scaling"))
    printTable("Deep chain y = x·1·1·…, forward + backward", ["nodes", "time per node"], scalingBench());
}

await main();
