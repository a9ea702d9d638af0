/**
 * Core benchmarks (`npm run bench`): scalar graphs, matrix multiply, and one training step of the window NER
 * network, each beside a peer measured in the same run. Figures only: nothing here is asserted.
 */
import { Tensor, getBackend, matmul, randn, seed, setBackend, listBackends, tensor } from "../src/index.js";
import { best, bestAsync, format, printTable, rate } from "./util.js";
import { loadTensorflow, type Tf, type TfTensor } from "./tensorflow.js";
import { BATCH, CLASSES, DIM, HIDDEN, LR, VOCABULARY, nerBatch, nerStep } from "./ner-step.js";

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
// 2. Matrix multiply, float32, GFLOP/s.

/** The TensorFlow.js calls the benchmarks make (typed loosely: it is an optional peer). */
type TfModule = Tf & {
  randomNormal(shape: number[]): TfTensor;
  matMul(a: TfTensor, b: TfTensor): TfTensor;
};

async function loadTf(): Promise<TfModule | undefined> {
  return (await loadTensorflow())?.tf as TfModule | undefined;
}

async function matmulBench(tf: TfModule | undefined): Promise<(string | number)[][]> {
  const sizes = [64, 256, 1024];
  const rows: (string | number)[][] = [];
  for (const backend of listBackends()) {
    setBackend(backend);
    const row: (string | number)[] = [`chainrule (${backend} backend)`];
    for (const n of sizes) {
      seed(n);
      const a = randn([n, n]);
      const b = randn([n, n]);
      row.push(
        best(() => (rate(() => matmul(a, b), n === 1024 ? 3000 : 1000, 1) * 2 * n ** 3) / 1e9).toFixed(2),
      );
    }
    rows.push(row);
  }
  setBackend(listBackends()[0]!);
  if (tf) {
    for (const backend of ["cpu", "wasm"]) {
      if (!(await tf.setBackend(backend).catch(() => false))) continue;
      await tf.ready();
      const row: (string | number)[] = [`TensorFlow.js ${backend} backend`];
      for (const n of sizes) {
        const a = tf.randomNormal([n, n]);
        const b = tf.randomNormal([n, n]);
        row.push(
          best(
            () =>
              (rate(() => tf.tidy(() => tf.matMul(a, b).dataSync()), n === 1024 ? 3000 : 1000, 1) *
                2 *
                n ** 3) /
              1e9,
            2,
          ).toFixed(2),
        );
        a.dispose();
        b.dispose();
      }
      rows.push(row);
    }
  } else rows.push(["TensorFlow.js", "not installed", "", ""]);
  return rows;
}

// ---------------------------------------------------------------------------------------------------------
// 3. One training step of the window NER network at batch 256: embedding gather of 5 ids from a 20,000 × 50
//    table → [256, 250], Linear 250→300, tanh, Linear 300→9, cross-entropy, backward, plain SGD on every
//    parameter (the embedding table updated in the rows the batch used).

/**
 * The same network and steps in TensorFlow.js, with its standard `gather` gradient (a dense segment sum over
 * the whole table; on the wasm backend the kernel is supplied by the bench, see bench/tensorflow.ts).
 */
async function tfNerSteps(tf: TfModule, backend: string, steps: number): Promise<number> {
  if (!(await tf.setBackend(backend).catch(() => false))) return NaN;
  await tf.ready();
  const t = tf as unknown as Record<string, (...args: unknown[]) => unknown>;
  const variable = (shape: number[]) => t.variable!(tf.randomNormal(shape)) as TfTensor;
  const table = variable([VOCABULARY, DIM]);
  const W1 = variable([5 * DIM, HIDDEN]);
  const b1 = variable([HIDDEN]);
  const W2 = variable([HIDDEN, CLASSES]);
  const b2 = variable([CLASSES]);
  const optimizer = (t.train as unknown as { sgd(lr: number): { minimize(f: () => TfTensor): void } }).sgd(
    LR,
  );
  const batches = Array.from({ length: 16 }, (_, i) => nerBatch(i));
  const run = (i: number) => {
    const { ids, targets } = batches[i % batches.length]!;
    tf.tidy(() => {
      const idTensor = t.tensor1d!(ids.data, "int32");
      const labels = t.oneHot!(t.tensor1d!(targets, "int32"), CLASSES);
      optimizer.minimize(() => {
        const x = t.reshape!(t.gather!(table, idTensor), [BATCH, 5 * DIM]);
        const h = t.tanh!(t.add!(tf.matMul(x as TfTensor, W1), b1));
        const logits = t.add!(tf.matMul(h as TfTensor, W2), b2);
        return (
          t.losses as unknown as { softmaxCrossEntropy(l: unknown, p: unknown): TfTensor }
        ).softmaxCrossEntropy(labels, logits);
      });
    });
  };
  run(0);
  const start = performance.now();
  for (let i = 1; i <= steps; i++) run(i);
  W2.dataSync();
  const seconds = (performance.now() - start) / 1000;
  for (const v of [table, W1, b1, W2, b2]) v.dispose();
  return (steps * BATCH) / seconds;
}

async function nerBench(tf: TfModule | undefined): Promise<(string | number)[][]> {
  const rows: (string | number)[][] = [];
  for (const backend of listBackends()) {
    setBackend(backend);
    const { step } = nerStep();
    const perSecond = best(() => rate(step, 3000) * BATCH, 2);
    rows.push([`chainrule (${backend} backend)`, format(perSecond, 0)]);
  }
  setBackend(listBackends()[0]!);
  if (tf) {
    for (const backend of ["wasm", "cpu"]) {
      try {
        // The CPU backend's segment sum takes tens of seconds per step on a 20,000-word table: two steps.
        const perSecond = await bestAsync(
          () => tfNerSteps(tf, backend, backend === "cpu" ? 2 : 30),
          backend === "cpu" ? 1 : 2,
        );
        rows.push([
          `TensorFlow.js ${backend} backend`,
          Number.isNaN(perSecond) ? "unavailable" : format(perSecond, 0),
        ]);
      } catch (error) {
        rows.push([
          `TensorFlow.js ${backend} backend`,
          `failed: ${String(error).split("\n")[0]!.slice(0, 80)}`,
        ]);
      }
    }
  } else rows.push(["TensorFlow.js", "not installed"]);
  return rows;
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
const wanted = new Set(process.argv.slice(2).filter((a) => !a.startsWith("-")));
const runs = (name: string): boolean => wanted.size === 0 || wanted.has(name);

async function main(): Promise<void> {
  console.log(`chainrule core benchmarks — Node ${process.version}, default backend "${getBackend().name}"`);
  const tf = runs("matmul") || runs("ner") ? await loadTf() : undefined;
  if (runs("scalar")) {
    printTable(
      "Scalar MLP (10-16-1, tanh, squared error), forward + backward",
      ["implementation", "nodes/s", "ratio"],
      scalarBench(),
    );
  }
  if (runs("matmul")) {
    printTable(
      "Matrix multiply, float32, GFLOP/s",
      ["implementation", "64", "256", "1024"],
      await matmulBench(tf),
    );
  }
  if (runs("ner")) {
    printTable(
      "Window NER training step (gather 5×50 from 20,000 words → 250 → 300 tanh → 9, cross-entropy, SGD), batch 256",
      ["implementation", "examples/s"],
      await nerBench(tf),
    );
  }
  if (runs("scaling"))
    printTable("Deep chain y = x·1·1·…, forward + backward", ["nodes", "time per node"], scalingBench());
}

await main();
