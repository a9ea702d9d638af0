import { ValueError } from "../errors.js";
import type { Backend } from "./backend.js";
import { jsBackend } from "./js/index.js";

export type { Backend, BinaryKernel, MatmulDesc, ReduceKernel, UnaryKernel, AxisView } from "./backend.js";
export { jsBackend };

const backends = new Map<string, Backend>([["js", jsBackend]]);
let current: Backend = jsBackend;

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

export function listBackends(): string[] {
  return [...backends.keys()];
}
