/** Small helpers shared by the benchmarks: timing loops, table printing and bundling. */

/**
 * esbuild's options for one plain JavaScript file that Node 20 runs or imports (bench/side-by-side.ts runs the
 * step in a child process, bench/ab.ts imports two builds of it): no TypeScript loader in the process measured.
 */
export const NODE_BUNDLE = { bundle: true, format: "esm", platform: "node", target: "node20" } as const;

/**
 * Runs `fn` repeatedly for about `ms` milliseconds (after a warm-up of `warmup` calls and at least `warmupMs`
 * milliseconds, then `afterWarmup`) and returns calls per second.
 */
export function rate(fn: () => void, ms = 1500, warmup = 3, afterWarmup?: () => void, warmupMs = 0): number {
  const warming = performance.now();
  for (let i = 0; i < warmup || performance.now() - warming < warmupMs; i++) fn();
  afterWarmup?.();
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    fn();
    calls++;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return calls / (elapsed / 1000);
}

/** The best of `repeats` measurements (the least disturbed by other work on a shared machine). */
export function best(measure: () => number, repeats = 3): number {
  let top = 0;
  for (let i = 0; i < repeats; i++) top = Math.max(top, measure());
  return top;
}

export async function bestAsync(measure: () => Promise<number>, repeats = 3): Promise<number> {
  let top = 0;
  for (let i = 0; i < repeats; i++) top = Math.max(top, await measure());
  return top;
}

export function printTable(title: string, header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? "").length)));
  console.log(`\n${title}`);
  cells.forEach((row, i) => {
    console.log(
      row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "),
    );
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  });
}

export function format(value: number, digits = 2): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(digits)}M`;
  if (value >= 1e4) return `${Math.round(value).toLocaleString("en-US")}`;
  // Small rates keep a couple of significant digits (a peer doing 1.3 examples/s is not "1").
  return value.toFixed(value < 100 && digits === 0 ? 1 : digits);
}

/** Loads an optional peer package; undefined when it is not installed. */
export async function optional<T>(name: string): Promise<T | undefined> {
  try {
    return (await import(name)) as T;
  } catch {
    return undefined;
  }
}
