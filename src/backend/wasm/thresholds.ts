/**
 * Sizes below which the wasm backend hands a call to the JavaScript kernels: under them, copying into WebAssembly
 * memory and back costs more than the faster loop saves (measured with bench/kernels.ts; see docs/backends.md).
 * Mutable so that tests can set them to 0 and run every size through the WebAssembly kernels.
 */
export const wasmThresholds = {
  /** Multiply-adds per matrix (m·n·k) for matmul. */
  matmulFlops: 512,
  /** Values in the output of an elementwise op or in the input of a sum. */
  elementwise: 256,
  /**
   * Multiply-adds per matrix from which a product is split across threads (see setThreads); below it, waking the
   * workers and the slower copies into shared memory cost more than the second core saves.
   */
  threadFlops: 1 << 22,
  /**
   * The same for a product whose operands already live in the pool's shared memory (a compiled plan's, see
   * src/compile/arena.ts): with nothing to copy, splitting pays from smaller products. Measured on 2 cores, the
   * NER network's step at batch 32 (2.4 million multiply-adds per product; `bench/ner-step.ts --batch 32
   * --threads 2 [--compile] --thread-flops N --in-place-flops N`): compiled, 57,500 examples/s split against
   * 51,000 unsplit; eager, copied into the shared memory, 31,000 split against 35,700 unsplit. At batch 256 the
   * output layer's three products (0.69 million each) split too: 134,000–139,000 examples/s against
   * 131,000–134,000 with the threshold at 2²¹, alternating runs (2¹⁸ gained nothing more).
   */
  threadFlopsInPlace: 1 << 19,
  /**
   * Microseconds a thread of the pool keeps checking for the next product (or for the other threads' chunks)
   * before it sleeps in `Atomics.wait`: products follow each other closely in a training step, and waking a
   * sleeping thread takes tens of microseconds (much more on a busy machine). 0 sleeps at once.
   */
  spinMicroseconds: 200,
  /**
   * Values from which an optimiser's dense update in the pool's shared memory (a compiled plan's parameter) is
   * split across threads; below it, waking the workers costs more than the second core saves.
   */
  threadUpdateValues: 1 << 16,
  /**
   * Values from which a transcendental elementwise op (exp, tanh, σ) in the pool's shared memory (a compiled
   * plan's activation) is split across threads: such a value costs a few nanoseconds, so from a few thousand
   * values the second core saves more than the meeting of the threads costs.
   */
  threadUnaryValues: 1 << 13,
  /**
   * Values from which an activation's derivative in the pool's shared memory (a compiled plan's tanh or σ
   * backward: three float32 streams, a few operations a value) is split across threads. Split, its output is
   * half in the other core's cache, and the next kernel (the bias gradient's column sums, on the main thread)
   * pays for that: in the NER step at batch 256 (76,800 values) the derivative took 25–30 → 17–21 µs and the
   * column sums 15–21 → 29–30 µs; at batch 2048 (614,400) the two took 529 µs one after the other, 460 split.
   */
  threadDerivativeValues: 1 << 17,
  /**
   * Values (rows × row size) from which an optimiser's row-sparse update, or a lookup of rows, in the pool's
   * shared memory (a compiled plan's embedding table) is split across threads by rows.
   */
  threadRowValues: 1 << 13,
  /**
   * Values from which an eager op that may split across threads (an activation, its gradient, a lookup, the sums
   * of rows, an update of a resident parameter) splits even when the pool's workers are asleep
   * (`ThreadPool.worthSplitting`): below it, only while they still spin from the last task, since waking them
   * costs tens of µs. In the eager NER step at batch 2048 (614,400 values a layer) the tanh and its gradient,
   * preceded by a bias add of about a millisecond, found the workers asleep and ran on one thread.
   */
  wakeValues: 1 << 17,
  /**
   * Values from which an eager optimiser moves a parameter (and its state buffers) into the thread pool's shared
   * memory when two threads or more are set (src/backend/wasm/resident.ts): its products, lookups and updates
   * then read it in place instead of copying it in and out every step. Small ones (biases) stay where they are.
   */
  residentValues: 1 << 12,
  /** Bytes of WebAssembly memory one call may use; larger calls run in JavaScript (memory never shrinks). */
  maxBytes: 1 << 30,
};
