/**
 * TensorFlow.js as a peer in the benchmarks: the full package (every gradient, the CPU backend) and the wasm
 * backend, installed apart from the library in bench/peers/ (`npm run bench:peers`) and loaded only if there.
 */

export interface Tf {
  setBackend(name: string): Promise<boolean>;
  getBackend(): string;
  ready(): Promise<void>;
  tidy<T>(fn: () => T): T;
  env(): { getAsync(flag: string): Promise<unknown> };
  [name: string]: unknown;
}
export type TfTensor = { dataSync(): ArrayLike<number>; dispose(): void };

interface TfTensorInfo {
  shape: number[];
  dtype: string;
}
interface TfWasmBackend {
  makeOutput(shape: number[], dtype: string): TfTensorInfo;
  typedArrayFromHeap(info: TfTensorInfo): Float32Array | Int32Array;
}

/** Imports a package from bench/peers/node_modules (the import resolves from this file's folder). */
async function peer<T>(name: string): Promise<T | undefined> {
  try {
    return (await import(name)) as T;
  } catch {
    return undefined;
  }
}

/**
 * TensorFlow.js 4.22's wasm backend has no kernel for UnsortedSegmentSum, the gradient of `gather`, so out of
 * the box it cannot train an embedding table ("Kernel 'UnsortedSegmentSum' not registered for backend
 * 'wasm'"). The benchmark supplies one, written in JavaScript over the wasm heap: out[ids[i]] += x[i].
 */
function registerSegmentSum(tf: Tf): boolean {
  const registry = tf as unknown as {
    getKernel(name: string, backend: string): unknown;
    registerKernel(config: {
      kernelName: string;
      backendName: string;
      kernelFunc: (args: never) => unknown;
    }): void;
  };
  if (registry.getKernel("UnsortedSegmentSum", "wasm") !== undefined) return false;
  registry.registerKernel({
    kernelName: "UnsortedSegmentSum",
    backendName: "wasm",
    kernelFunc: ({
      inputs,
      backend,
      attrs,
    }: {
      inputs: { x: TfTensorInfo; segmentIds: TfTensorInfo };
      backend: TfWasmBackend;
      attrs: { numSegments: number };
    }) => {
      const { x, segmentIds } = inputs;
      const rows = segmentIds.shape.reduce((a, b) => a * b, 1);
      const tail = x.shape.slice(segmentIds.shape.length);
      const rowSize = tail.reduce((a, b) => a * b, 1);
      const out = backend.makeOutput([attrs.numSegments, ...tail], x.dtype);
      const values = backend.typedArrayFromHeap(out);
      values.fill(0);
      const input = backend.typedArrayFromHeap(x);
      const ids = backend.typedArrayFromHeap(segmentIds);
      for (let i = 0; i < rows; i++) {
        const base = ids[i]! * rowSize;
        for (let j = 0; j < rowSize; j++) values[base + j] += input[i * rowSize + j]!;
      }
      return out;
    },
  });
  return true;
}

/**
 * Loads TensorFlow.js and its wasm backend; undefined when not installed. `supplied` tells whether the bench had
 * to register the wasm backend's missing gather-gradient kernel (see `registerSegmentSum`).
 */
export async function loadTensorflow(): Promise<{ tf: Tf; supplied: boolean } | undefined> {
  const tf = await peer<Tf>("@tensorflow/tfjs");
  if (!tf) return undefined;
  await peer("@tensorflow/tfjs-backend-wasm");
  return { tf, supplied: registerSegmentSum(tf) };
}

/**
 * Selects a TensorFlow.js backend and waits until it is ready; returns a description ("wasm, SIMD") or null
 * when the backend cannot start here.
 */
export async function useTensorflowBackend(tf: Tf, name: string): Promise<string | null> {
  if (!(await tf.setBackend(name).catch(() => false))) return null;
  await tf.ready();
  if (tf.getBackend() !== name) return null;
  if (name !== "wasm") return name;
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  const threads = await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT");
  return `wasm, ${simd ? "SIMD" : "no SIMD"}, ${threads ? "threads" : "one thread"}`;
}

export const TENSORFLOW_INSTALL_HINT = "not installed (npm run bench:peers)";
