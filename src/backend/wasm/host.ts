/**
 * What the backend asks of the host without importing any Node module (so that the same code loads in browsers):
 * Node's `process`, when there is one, and its built-in modules through `process.getBuiltinModule` (Node 20.16+).
 */

/** The parts of Node's `process` the backend reads. */
export interface NodeProcess {
  env?: Record<string, string | undefined>;
  getBuiltinModule?: (name: string) => unknown;
}

/** Node's `process`, or undefined outside Node. */
export function nodeProcess(): NodeProcess | undefined {
  const candidate = (globalThis as { process?: NodeProcess }).process;
  return typeof candidate === "object" && candidate !== null ? candidate : undefined;
}
