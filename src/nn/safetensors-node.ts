/**
 * Node-only safetensors file I/O, offered by the Node entry points (`chainrule/nn/node`, `chainrule/node`, and
 * `chainrule` / `chainrule/nn` under Node's "node" condition). In a browser, use `parse` and `serialize`.
 */
import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "../io/atomic-write-node.js";
import type { AnyModule, TensorMap } from "./module.js";
import {
  parse,
  serialize,
  type ParseOptions,
  type SafetensorsContent,
  type SerializeOptions,
} from "./safetensors.js";

/**
 * Writes tensors (or a module's `stateDict()`) and optional string metadata to `path` atomically: the bytes
 * go to a temporary file in the same folder, which is flushed to disk and then renamed over `path`, so a
 * crash or an error never leaves a half-written file behind.
 */
export async function save(
  path: string,
  tensorsOrModule: TensorMap | AnyModule,
  metadata?: Record<string, string>,
  options: SerializeOptions = {},
): Promise<void> {
  const bytes = serialize(tensorsOrModule, metadata, options);
  await writeFileAtomic(path, bytes);
}

/** Reads a safetensors file; a malformed file throws a FormatError naming the file and the byte offset. */
export async function load(
  path: string,
  options: Omit<ParseOptions, "file"> = {},
): Promise<SafetensorsContent> {
  const bytes = await readFile(path);
  return parse(bytes, { ...options, file: path });
}
