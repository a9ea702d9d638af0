/**
 * Keeping a training run's memory down where Node's defaults waste it.
 *
 * V8 collects short-lived objects in a young generation of two semi-spaces. Whenever many objects survive a
 * collection (reading a corpus, building a vocabulary) it doubles them, up to 16 MB each in Node 20, and it
 * does not give that memory back while the process runs: 32 MB of resident memory for a training loop whose
 * live young objects take one or two. With a growth factor of 1 (set at run time; V8 reads it when the space
 * would grow) the space grows far later: one epoch of `ner train` on CoNLL-2003 peaked at 123 MB instead of
 * 160, at the same CPU time (a scavenge of a small space is as cheap as one of a big space, only more
 * frequent). It is not a hard limit: over ten epochs V8 still doubled the space twice. The entry point
 * (`cli/main.ts`) sets it for the `ner` commands before the tool's modules load, since loading them alone grew
 * the space to 4 MB; the commands set it again, for a program that runs them through `program.ts`.
 */
import { setFlagsFromString } from "node:v8";

/** The V8 flag set by {@link keepYoungGenerationSmall}. */
export const YOUNG_GENERATION_FLAG = "--semi-space-growth-factor=1";

/**
 * Slows the growth of V8's young generation for the rest of the process (see above), unless the user chose its size
 * (`--max-semi-space-size`, `--semi-space-growth-factor` on Node's command line or in `NODE_OPTIONS`).
 * Returns whether the flag was set.
 */
export function keepYoungGenerationSmall(): boolean {
  const given = `${process.execArgv.join(" ")} ${process.env.NODE_OPTIONS ?? ""}`;
  if (/semi[-_]space/.test(given)) return false;
  setFlagsFromString(YOUNG_GENERATION_FLAG);
  return true;
}

/**
 * Returns a function to call often during training (after each batch) that sets the flag of
 * {@link keepYoungGenerationSmall} again, 0.2 s after the first call, then after intervals that double (0.4 s,
 * 0.8 s, …, at most a minute). Starting a worker thread (the matrix-product pool starts its workers when a
 * run's first large product needs them, early in the first epoch) puts the flag back to V8's default for the
 * whole process, in Node 20: after a `Worker` started, the main thread's young generation grew to 32 MB as if
 * the flag had never been set, while with one thread it stayed at its 1 MB semi-spaces. Setting the flag is not
 * free, though: every 0.2 s throughout, it made a 3-epoch run 3 % slower; a dozen times a run costs nothing
 * measurable.
 */
export function youngGenerationKeeper(
  now: () => number = () => performance.now(),
  apply: () => unknown = keepYoungGenerationSmall,
): () => void {
  let interval = 200;
  let next = now() + interval;
  return () => {
    const time = now();
    if (time < next) return;
    interval = Math.min(2 * interval, 60_000);
    next = time + interval;
    apply();
  };
}
