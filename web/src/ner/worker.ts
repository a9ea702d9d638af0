/**
 * Trains the lecture's window classifier in a Web Worker, so that the page stays responsive: the shipped
 * Wikigold data and GloVe table are fetched, `trainNer` runs on chainrule's WebAssembly kernels, and progress,
 * epochs, each better model and a checkpoint per epoch (to continue after a stop) are posted back.
 */
import {
  checkpointFromBytes,
  checkpointToBytes,
  embeddingTableFromSafetensors,
  getBackend,
  initWasm,
  parseConll,
  trainNer,
} from "../lib.js";
import type { StartMessage, WorkerMessage } from "./protocol.js";

function post(message: WorkerMessage, transfer: Transferable[] = []): void {
  (self as unknown as Worker).postMessage(message, transfer);
}

async function fetchBytes(url: string, what: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not load ${what} (${response.status} ${response.statusText})`);
  return new Uint8Array(await response.arrayBuffer());
}

async function start(message: StartMessage): Promise<void> {
  post({ type: "status", text: "Loading the Wikigold data and the GloVe vectors…" });
  // The WebAssembly kernels (the JavaScript ones if this browser cannot compile them).
  await initWasm().catch(() => undefined);
  const [trainBytes, devBytes, gloveBytes] = await Promise.all([
    fetchBytes(message.urls.train, "the training data"),
    fetchBytes(message.urls.dev, "the dev data"),
    fetchBytes(message.urls.glove, "the GloVe table"),
  ]);
  const decoder = new TextDecoder();
  const train = parseConll(decoder.decode(trainBytes), { file: "wikigold/train.conll" });
  const dev = parseConll(decoder.decode(devBytes), { file: "wikigold/dev.conll" });
  const pretrained = embeddingTableFromSafetensors(gloveBytes, "glove-wikigold-100d.safetensors");
  const count = (sentences: readonly { tokens: readonly string[] }[]) => ({
    sentences: sentences.length,
    tokens: sentences.reduce((n, s) => n + s.tokens.length, 0),
  });
  post({
    type: "data",
    train: count(train.sentences),
    dev: count(dev.sentences),
    vectors: pretrained.words.length,
    backend: getBackend().name,
  });
  post({
    type: "status",
    text: message.resume
      ? "Continuing from the last completed epoch…"
      : "Building the vocabulary and the windows…",
  });
  let lastBatch = 0;
  const result = await trainNer({ train: train.sentences, dev: dev.sentences, pretrained }, message.options, {
    resume: message.resume ? checkpointFromBytes(message.resume, "checkpoint") : null,
    onBatch: (progress) => {
      const now = performance.now();
      if (now - lastBatch < 120 && progress.batch !== progress.batches) return;
      lastBatch = now;
      post({ type: "batch", progress });
    },
    onEpoch: (record) => post({ type: "epoch", record }),
    onImprovement: (tagger, record) => {
      const { config, weights } = tagger.toBytes();
      post({ type: "model", config, weights, epoch: record.epoch }, [weights.buffer]);
    },
    onCheckpoint: (checkpoint) => {
      const bytes = checkpointToBytes(checkpoint);
      post({ type: "checkpoint", bytes, epoch: checkpoint.state.epochsCompleted }, [bytes.buffer]);
    },
  });
  post({
    type: "done",
    bestEpoch: result.bestEpoch,
    stoppedEarly: result.stoppedEarly,
    epochs: result.history.length,
  });
}

self.addEventListener("message", (event: MessageEvent<StartMessage>) => {
  if (event.data?.type !== "start") return;
  start(event.data).catch((error: unknown) => {
    post({ type: "error", message: error instanceof Error ? error.message : String(error) });
  });
});
