/**
 * The benchmark step of issue 2 shared by bench/core.ts and bench/kernels.ts: one training step of the window
 * NER network at batch 256 — embedding gather of 5 ids from a 20,000 × 50 table → [256, 250], Linear 250→300,
 * tanh, Linear 300→9, cross-entropy, backward, plain SGD on every parameter (the embedding table in the rows
 * the batch used).
 */
import {
  crossEntropy,
  gather,
  matmul,
  noGrad,
  randn,
  seed,
  tanh,
  tensor,
  type Tensor,
} from "../src/index.js";

export const VOCABULARY = 20_000;
export const DIM = 50;
export const HIDDEN = 300;
export const CLASSES = 9;
export const BATCH = 256;
export const LR = 0.01;

/** A reproducible batch of word ids [256, 5] and tags. */
export function nerBatch(step: number): { ids: Tensor; targets: Int32Array } {
  const ids = new Int32Array(BATCH * 5);
  const targets = new Int32Array(BATCH);
  let state = step * 7919 + 1;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < ids.length; i++) ids[i] = next() % VOCABULARY;
  for (let i = 0; i < BATCH; i++) targets[i] = next() % CLASSES;
  return { ids: tensor(ids, { shape: [BATCH, 5] }), targets };
}

/** A fresh model (seeded) and a function running one training step on it; the step returns the loss. */
export function nerStep(): { step: () => number } {
  seed(0);
  const table = randn([VOCABULARY, DIM], { requiresGrad: true });
  const W1 = randn([HIDDEN, 5 * DIM], { requiresGrad: true });
  const b1 = randn([HIDDEN], { requiresGrad: true });
  const W2 = randn([CLASSES, HIDDEN], { requiresGrad: true });
  const b2 = randn([CLASSES], { requiresGrad: true });
  // Scale the weights like a Xavier initialisation, so that tanh does not saturate.
  for (const w of [W1, W2]) w.data.forEach((v, i, data) => (data[i] = v / Math.sqrt(w.shape[1]!)));
  const batches = Array.from({ length: 16 }, (_, i) => nerBatch(i));
  let count = 0;
  return {
    step: () => {
      const { ids, targets } = batches[count++ % batches.length]!;
      const x = gather(table, ids, 0, { sparseGrad: true }).reshape([BATCH, 5 * DIM]);
      const h = tanh(matmul(x, W1, { transposeB: true }).add(b1));
      const logits = matmul(h, W2, { transposeB: true }).add(b2);
      const loss = crossEntropy(logits, targets);
      loss.backward();
      noGrad(() => {
        for (const p of [W1, b1, W2, b2]) {
          const g = p.grad!.data;
          const w = p.data;
          for (let i = 0; i < w.length; i++) w[i] -= LR * g[i]!;
          p.grad = null;
        }
        const sparse = table.sparseGrad!;
        const w = table.data;
        const values = sparse.values.data;
        for (let r = 0; r < sparse.indices.length; r++) {
          const offset = sparse.indices[r]! * DIM;
          for (let j = 0; j < DIM; j++) w[offset + j] -= LR * values[r * DIM + j]!;
        }
        table.grad = null;
      });
      return loss.item();
    },
  };
}
