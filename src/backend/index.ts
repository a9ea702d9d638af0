import { ValueError } from "../errors.js";
import type { Backend } from "./backend.js";
import { jsBackend } from "./js/index.js";
import { loadKernels, loadKernelsSync, wasmBackend } from "./wasm/index.js";

export type {
  ActivationKernel,
  Backend,
  BinaryKernel,
  MatmulDesc,
  ReduceKernel,
  UnaryKernel,
  AxisView,
} from "./backend.js";
export { jsBackend, wasmBackend };
export { wasmThresholds } from "./wasm/thresholds.js";
export { setThreads, getThreads } from "./wasm/threads.js";
export { wasmKernelBuild } from "./wasm/runtime.js";

const backends = new Map<string, Backend>([
  ["js", jsBackend],
  ["wasm", wasmBackend],
]);
// The default is the WebAssembly backend wherever it can be instantiated synchronously (Node, web workers): it is
// several times faster and gives the same results up to float32 rounding (docs/backends.md). Elsewhere (a
// browser's main thread, engines without WebAssembly SIMD) it is "js" until `await initWasm()`.
let current: Backend = loadKernelsSync() ? wasmBackend : jsBackend;

/** The backend every op runs its kernels on. */
export function getBackend(): Backend {
  return current;
}

/** Registers a backend under its name, so that `setBackend(name)` can select it. */
export function registerBackend(backend: Backend): void {
  backends.set(backend.name, backend);
}

/** Selects the backend by name (or object) for all following ops. */
export function setBackend(backend: string | Backend): void {
  if (typeof backend !== "string") {
    registerBackend(backend);
    current = backend;
    return;
  }
  const found = backends.get(backend);
  if (!found)
    throw new ValueError(
      `setBackend: unknown backend "${backend}" (known: ${[...backends.keys()].join(", ")})`,
    );
  current = found;
}

/** Loads the WebAssembly kernels asynchronously (as a browser's main thread requires) and selects "wasm". */
export async function initWasm(): Promise<Backend> {
  await loadKernels();
  current = wasmBackend;
  return wasmBackend;
}

/** The names of the registered backends ("js" and "wasm", and any added with `registerBackend`). */
export function listBackends(): string[] {
  return [...backends.keys()];
}
