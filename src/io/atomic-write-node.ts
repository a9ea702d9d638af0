/**
 * Node-only: writes a file atomically. The data goes to a temporary file in the same folder (so the rename
 * stays on one file system), which is flushed to disk and then renamed over the target: a reader never sees a
 * half-written file, and a crash or an error leaves the old file (or none) in place and no temporary behind.
 * The Node modules are imported on first call, so importing this file in a browser bundle is harmless.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const fs = await import("node:fs/promises");
  const { basename, dirname, join } = await import("node:path");
  const unique = `${process.pid}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 10)}`;
  const temporary = join(dirname(path), `.${basename(path)}.${unique}.tmp`);
  let handle: Awaited<ReturnType<typeof fs.open>> | null = null;
  try {
    handle = await fs.open(temporary, "wx");
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = null;
    await fs.rename(temporary, path);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await fs.rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
}
