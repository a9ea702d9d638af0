/**
 * chainrule beside its peers on the same work, in one run, repeated in alternating rounds (the machine is shared:
 * every figure is the median of the rounds, with the lowest and highest beside it):
 *
 * - float32 matrix multiply at 64, 256 and 1024 (GFLOP/s);
 * - one training step of the window NER network (bench/ner-step.ts) at batch 32, 256 and 2048 (examples/s), each
 *   chainrule and PyTorch configuration in a process of its own, so that its peak memory (maxRSS) is its own.
 *
 * Peers: PyTorch on the CPU (bench/peers/pytorch.py, 1 and 2 threads, sparse embedding gradient), TensorFlow.js
 * wasm and cpu (bench/peers/, `npm run bench:peers`). A peer that is not installed is skipped with a message.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { matmul, randn, seed } from "../src/index.js";
import { NODE_BUNDLE, format, rate } from "./util.js";
import { BATCHES, CLASSES, DIM, HIDDEN, LR, VOCABULARY, nerBatch } from "./ner-step.js";
import { loadPytorch, type PytorchPeer } from "./peers/pytorch.js";
import {
  TENSORFLOW_INSTALL_HINT,
  loadTensorflow,
  useTensorflowBackend,
  type Tf,
  type TfTensor,
} from "./peers/tensorflow.js";

export const SIZES = [64, 256, 1024] as const;

/** Figures of several rounds per (row, column), printed as "median (min–max)". */
export class Samples {
  private readonly rows = new Map<string, Map<string, number[]>>();
  private readonly notes = new Map<string, string>();

  add(row: string, column: string | number, value: number): void {
    if (!this.rows.has(row)) this.rows.set(row, new Map());
    const cells = this.rows.get(row)!;
    const key = String(column);
    if (!cells.has(key)) cells.set(key, []);
    cells.get(key)!.push(value);
  }

  /** A row that has no figures, only a message (a peer not installed, a backend that failed). */
  note(row: string, message: string): void {
    if (!this.rows.has(row)) this.rows.set(row, new Map());
    this.notes.set(row, message);
  }

  /** Whether `row` has figures (not only a note). */
  has(row: string): boolean {
    return this.rows.has(row) && !this.notes.has(row);
  }

  median(row: string, column: string | number): number {
    const values = [...(this.rows.get(row)?.get(String(column)) ?? [])].sort((a, b) => a - b);
    if (values.length === 0) return NaN;
    const mid = Math.floor(values.length / 2);
    return values.length % 2 === 1 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
  }

  table(columns: readonly (string | number)[], digits: number): (string | number)[][] {
    return [...this.rows.entries()].map(([row, cells]) => {
      const note = this.notes.get(row);
      if (note !== undefined) return [row, note, ...columns.slice(1).map(() => "")];
      return [
        row,
        ...columns.map((column) => {
          const values = cells.get(String(column));
          if (!values || values.length === 0) return "–";
          const low = Math.min(...values);
          const high = Math.max(...values);
          const middle = format(this.median(row, column), digits);
          return values.length === 1 ? middle : `${middle} (${format(low, digits)}–${format(high, digits)})`;
        }),
      ];
    });
  }

  /**
   * Each row's median over `reference`'s median, per column (rows with a note, and the reference itself, left
   * out): ratios taken within one run, which the machine's load moves far less than the figures themselves.
   */
  ratios(reference: string, columns: readonly (string | number)[]): (string | number)[][] {
    return [...this.rows.keys()]
      .filter((row) => row !== reference && !this.notes.has(row))
      .map((row) => [
        row,
        ...columns.map((column) => {
          const ratio = this.median(row, column) / this.median(reference, column);
          return Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : "–";
        }),
      ]);
  }
}

/** The chainrule configurations compared: a label and what to call before measuring (e.g. a thread count). */
export interface ChainruleConfig {
  label: string;
  /** Extra arguments for bench/ner-step.ts run as a child process. */
  args: string[];
  /** Measured on the NER step only (a compiled step: the matrix multiply is the same as eager's). */
  nerOnly?: boolean;
  apply(): void;
  /**
   * Another checkout's bench/ner-step.ts to run instead of this one's (a baseline: the same step before a
   * change, measured in the same rounds); such a configuration runs the NER step only, not matmul.
   */
  source?: string;
  /** Environment variables for that child process (e.g. `CHAINRULE_RELAXED_SIMD=0` for the plain build). */
  env?: Record<string, string>;
  /** The kernel build the child process should report (`wasmKernelBuild()`); a row that ran another is noted. */
  build?: string | null;
}

// ---------------------------------------------------------------------------------------------------------
// Matrix multiply.

type TfMatmul = Tf & {
  randomNormal(shape: number[]): TfTensor;
  matMul(a: TfTensor, b: TfTensor): TfTensor;
};

function chainruleMatmul(n: number, seconds: number): number {
  seed(n);
  const a = randn([n, n]);
  const b = randn([n, n]);
  return (rate(() => matmul(a, b), seconds * 1000, 1) * 2 * n ** 3) / 1e9;
}

/**
 * TensorFlow.js: matMul, the result read back with dataSync (as chainrule's result is a JavaScript array), and
 * disposed. Not inside `tf.tidy(() => … .dataSync())`: tidy walks the value its function returns looking for
 * tensors, element by element for a typed array, which costs more than the product itself and is what made an
 * earlier version of this bench report 0.9 / 1.4 / 2.3 GFLOP/s for the wasm backend.
 */
function tensorflowMatmul(tf: TfMatmul, n: number, seconds: number): number {
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  const perSecond = rate(
    () => {
      const c = tf.matMul(a, b);
      c.dataSync();
      c.dispose();
    },
    seconds * 1000,
    1,
  );
  a.dispose();
  b.dispose();
  return (perSecond * 2 * n ** 3) / 1e9;
}

// ---------------------------------------------------------------------------------------------------------
// NER step.

/**
 * The same network and steps in TensorFlow.js, with its standard `gather` gradient (a dense segment sum over
 * the whole table; on the wasm backend the kernel is supplied by the bench, see bench/peers/tensorflow.ts).
 */
function tensorflowNerSteps(tf: Tf, batch: number, steps: number): number {
  const t = tf as unknown as Record<string, (...args: unknown[]) => unknown>;
  const variable = (shape: number[], scale: number) =>
    t.variable!(t.mul!(t.randomNormal!(shape), scale)) as TfTensor;
  const table = variable([VOCABULARY, DIM], 1);
  const W1 = variable([5 * DIM, HIDDEN], 1 / Math.sqrt(5 * DIM));
  const b1 = variable([HIDDEN], 0);
  const W2 = variable([HIDDEN, CLASSES], 1 / Math.sqrt(HIDDEN));
  const b2 = variable([CLASSES], 0);
  const optimizer = (t.train as unknown as { sgd(lr: number): { minimize(f: () => TfTensor): void } }).sgd(
    LR,
  );
  const batches = Array.from({ length: 16 }, (_, i) => nerBatch(i, batch));
  const run = (i: number) => {
    const { ids, targets } = batches[i % batches.length]!;
    tf.tidy(() => {
      const idTensor = t.tensor1d!(ids.data, "int32");
      const labels = t.oneHot!(t.tensor1d!(targets, "int32"), CLASSES);
      optimizer.minimize(() => {
        const x = t.reshape!(t.gather!(table, idTensor), [batch, 5 * DIM]);
        const h = t.tanh!(t.add!(t.matMul!(x, W1), b1));
        const logits = t.add!(t.matMul!(h, W2), b2);
        return (
          t.losses as unknown as { softmaxCrossEntropy(l: unknown, p: unknown): TfTensor }
        ).softmaxCrossEntropy(labels, logits);
      });
    });
  };
  run(0);
  W2.dataSync();
  const start = performance.now();
  for (let i = 1; i <= steps; i++) run(i);
  W2.dataSync();
  const seconds = (performance.now() - start) / 1000;
  for (const v of [table, W1, b1, W2, b2]) v.dispose();
  return (steps * batch) / seconds;
}

/**
 * bench/ner-step.ts bundled into one plain JavaScript file (with esbuild, which tsx brings), so that the child
 * process's peak memory is the step's and not the TypeScript loader's; falls back to running it through tsx.
 */
export async function nerStepCommand(
  source = fileURLToPath(new URL("./ner-step.ts", import.meta.url)),
): Promise<{ command: string[]; note: string }> {
  try {
    const name = "esbuild";
    const esbuild = (await import(name)) as {
      build(options: Record<string, unknown>): Promise<unknown>;
    };
    const directory = mkdtempSync(join(tmpdir(), "chainrule-bench-"));
    process.on("exit", () => rmSync(directory, { recursive: true, force: true }));
    const outfile = join(directory, "ner-step.mjs");
    await esbuild.build({
      entryPoints: [source],
      ...NODE_BUNDLE,
      outfile,
      logLevel: "silent",
    });
    return { command: [outfile], note: "" };
  } catch {
    return {
      command: ["--import", "tsx", source],
      note: " (run through tsx: its loader adds about 35 MB)",
    };
  }
}

function runJson(command: string, args: string[], env?: Record<string, string>): Record<string, unknown> {
  const result = spawnSync(command, args, { encoding: "utf8", env: env && { ...process.env, ...env } });
  const line = (result.stdout ?? "").trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { error: (result.stderr || `exit ${result.status}`).trim().split("\n").pop() };
  }
}

// ---------------------------------------------------------------------------------------------------------

export interface SideBySideOptions {
  rounds: number;
  seconds: number;
  /**
   * Seconds of NER steps before the measured ones, the same for chainrule and PyTorch (a checkout given as a
   * baseline whose bench/ner-step.ts takes no `--warmup` runs five steps only).
   */
  warmup: number;
  matmul: boolean;
  ner: boolean;
  chainrule: ChainruleConfig[];
  /** Run TensorFlow.js's CPU backend on the NER step too (minutes per step). */
  tensorflowCpuNer: boolean;
  log(line: string): void;
}

export interface SideBySideResult {
  matmul: Samples;
  ner: Samples;
  memory: Samples;
  /** Lines describing the peers (versions, BLAS, backends) and any that were skipped. */
  peers: string[];
}

export async function sideBySide(options: SideBySideOptions): Promise<SideBySideResult> {
  const { rounds, seconds, warmup, chainrule, log } = options;
  const matmulSamples = new Samples();
  const nerSamples = new Samples();
  const memory = new Samples();
  const peers: string[] = [];

  const torch: PytorchPeer | string = loadPytorch();
  if (typeof torch === "string") {
    peers.push(`PyTorch: skipped: ${torch}`);
  } else {
    peers.push(
      `PyTorch ${torch.version} (${torch.python}), BLAS ${torch.blas}, OMP_WAIT_POLICY=${torch.ompWaitPolicy}`,
    );
  }
  const loaded = await loadTensorflow();
  const tf = loaded?.tf;
  const tfBackends: { name: string; description: string }[] = [];
  if (!tf) peers.push(`TensorFlow.js: skipped: ${TENSORFLOW_INSTALL_HINT}`);
  else {
    const version = (tf.version as Record<string, string> | undefined)?.["tfjs-core"] ?? "";
    for (const name of ["wasm", "cpu"]) {
      const description = await useTensorflowBackend(tf, name);
      if (description === null) peers.push(`TensorFlow.js ${name} backend: skipped: it did not start here`);
      else tfBackends.push({ name, description });
    }
    peers.push(
      `TensorFlow.js ${version}: ${tfBackends.map((b) => b.description).join("; ")}` +
        (loaded.supplied ? " (the wasm backend's missing gather gradient supplied by the bench)" : ""),
    );
  }
  const ner = options.ner ? await nerStepCommand() : { command: [], note: "" };
  if (ner.note) peers.push(`chainrule NER step${ner.note}`);
  const commands = new Map<ChainruleConfig, string[]>();
  for (const config of chainrule) {
    if (config.source === undefined || !options.ner) continue;
    const other = await nerStepCommand(config.source);
    if (other.note) peers.push(`${config.label}${other.note}`);
    commands.set(config, other.command);
  }

  for (let round = 1; round <= rounds; round++) {
    log(`  round ${round} of ${rounds}`);
    if (options.matmul) {
      for (const config of chainrule) {
        if (config.nerOnly === true || config.source !== undefined) continue;
        config.apply();
        for (const n of SIZES) matmulSamples.add(config.label, n, chainruleMatmul(n, seconds));
      }
      if (typeof torch !== "string") {
        const result = torch.run(["matmul", "--seconds", String(seconds)]);
        const figures = result.gflops as Record<string, number> | undefined;
        if (!figures) matmulSamples.note("PyTorch", `failed: ${String(result.error)}`);
        else
          for (const threads of [1, 2]) {
            for (const n of SIZES) {
              const value = figures[`${threads}/${n}`];
              if (value !== undefined)
                matmulSamples.add(`PyTorch, ${threads} thread${threads > 1 ? "s" : ""}`, n, value);
            }
          }
      }
      if (tf) {
        for (const { name } of tfBackends) {
          await useTensorflowBackend(tf, name);
          for (const n of SIZES) {
            // The CPU backend's 1024 product takes seconds: once per run.
            if (name === "cpu" && n === 1024 && round > 1) continue;
            matmulSamples.add(`TensorFlow.js ${name}`, n, tensorflowMatmul(tf as TfMatmul, n, seconds));
          }
        }
      }
    }
    if (options.ner) {
      // The same batch, measured time and warm-up for chainrule's step and PyTorch's.
      const stepArguments = (batch: number) => [
        "--batch",
        String(batch),
        "--seconds",
        String(seconds),
        "--warmup",
        String(warmup),
      ];
      for (const batch of BATCHES) {
        for (const config of chainrule) {
          const result = runJson(
            process.execPath,
            [...(commands.get(config) ?? ner.command), ...stepArguments(batch), ...config.args],
            config.env,
          );
          if (typeof result.examplesPerSecond !== "number") {
            nerSamples.note(config.label, `failed: ${String(result.error)}`);
            continue;
          }
          if (config.build !== undefined && result.build !== undefined && result.build !== config.build)
            peers.push(
              `${config.label}: ran the ${String(result.build)} build at batch ${batch} (round ${round})`,
            );
          nerSamples.add(config.label, batch, result.examplesPerSecond);
          memory.add(config.label, batch, result.maxRssMB as number);
        }
        if (typeof torch !== "string") {
          const result = torch.run(["ner", ...stepArguments(batch)]);
          const figures = result.examplesPerSecond as Record<string, number> | undefined;
          if (!figures) nerSamples.note("PyTorch", `failed: ${String(result.error)}`);
          else {
            for (const [threads, value] of Object.entries(figures)) {
              nerSamples.add(`PyTorch, ${threads} thread${threads === "1" ? "" : "s"}`, batch, value);
            }
            memory.add("PyTorch (both thread counts, one process)", batch, result.maxRssMB as number);
          }
        }
        if (tf) {
          for (const { name } of tfBackends) {
            // The CPU backend's segment sum (the gather gradient) compares every id with every one of the
            // 20,000 rows: minutes per step. With --tf-cpu-ner it runs two steps at batch 32, once per run.
            if (name === "cpu" && (!options.tensorflowCpuNer || batch !== 32 || round > 1)) {
              if (!options.tensorflowCpuNer && round === 1 && batch === 32)
                peers.push(
                  "TensorFlow.js cpu NER step: skipped: minutes per step (its gather gradient is a dense segment sum over the table); --tf-cpu-ner runs it",
                );
              continue;
            }
            await useTensorflowBackend(tf, name);
            const steps = name === "cpu" ? 2 : Math.max(5, Math.round((seconds * 8000) / batch));
            try {
              nerSamples.add(`TensorFlow.js ${name}`, batch, tensorflowNerSteps(tf, batch, steps));
            } catch (error) {
              nerSamples.note(
                `TensorFlow.js ${name}`,
                `failed: ${String(error).split("\n")[0]!.slice(0, 80)}`,
              );
            }
          }
        }
      }
    }
  }
  return { matmul: matmulSamples, ner: nerSamples, memory, peers };
}
