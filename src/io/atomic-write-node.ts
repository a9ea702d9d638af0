/**
 * Node-only: writes a file atomically. The data goes to a temporary file in the same folder (so the rename
 * stays on one file system), which is flushed to disk and then renamed over the target: a reader never sees a
 * half-written file, and a crash or an error leaves the old file (or none) in place and no temporary behind.
 * Reached only from the Node entry points (`chainrule/node`, and `chainrule` under Node's "node" condition).
 */
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Writes `data` to `path` atomically: a temporary file in the same folder, flushed, then renamed over `path`.
 * `data` may also be pieces written one after the other: a list of byte arrays (a file's parts, see
 * `serializeParts`), or an async iterable (text made as it is written). An error while making them leaves the
 * old file in place, as any other error does.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array | readonly Uint8Array[] | AsyncIterable<string | Uint8Array>,
): Promise<void> {
  const unique = `${process.pid}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 10)}`;
  const temporary = join(dirname(path), `.${basename(path)}.${unique}.tmp`);
  let handle: Awaited<ReturnType<typeof open>> | null = null;
  try {
    handle = await open(temporary, "wx");
    if (typeof data === "string" || data instanceof Uint8Array) await handle.writeFile(data);
    // writeFile on a handle writes all of a piece from the current position on.
    else for await (const piece of data) await handle.writeFile(piece);
    await handle.sync();
    await handle.close();
    handle = null;
    await rename(temporary, path);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
}
