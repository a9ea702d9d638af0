/**
 * The long fuzz pass (`npm run fuzz -- [--runs N] [--seed S] [--only a,b] [--out DIR]`): N inputs (default
 * 100,000) for each reader of test/fuzz/readers.ts, and per reader the inputs tried, accepted, refused cleanly
 * (a ChainruleError) and defects (a crash, more than a second per KB, or an accepted input that does not
 * round-trip). Each defect's input is saved under DIR (default `fuzz-defects/`) with a `.txt` saying what
 * happened; the exit code is 1 if there was any.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { judge, prepareFuzzReaders } from "../test/fuzz/readers.js";

function option(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const runs = Number(option("--runs") ?? 100_000);
const seed = Number(option("--seed") ?? Date.now() % 2 ** 31);
const only = option("--only")?.split(",");
const out = option("--out") ?? "fuzz-defects";
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed)) {
  console.error("usage: npm run fuzz -- [--runs N] [--seed S] [--only reader,…] [--out DIR]");
  process.exit(2);
}

const readers = (await prepareFuzzReaders()).filter((r) => only === undefined || only.includes(r.name));
console.log(`fuzzing ${readers.map((r) => r.name).join(", ")}: ${runs} inputs each, seed ${seed}`);
const rows: string[][] = [];
let defectTotal = 0;
for (const reader of readers) {
  const counts = { inputs: 0, accepted: 0, refused: 0, defects: 0 };
  let slowest = 0;
  const started = performance.now();
  fc.check(
    fc.property(reader.inputs, (input) => {
      const outcome = judge(reader, input, { timed: true });
      counts.inputs++;
      slowest = Math.max(slowest, outcome.milliseconds);
      if (outcome.kind === "defect") {
        counts.defects++;
        if (counts.defects <= 20) {
          mkdirSync(out, { recursive: true });
          const base = join(out, `${reader.name}-${seed}-${counts.inputs}`);
          writeFileSync(`${base}.input`, reader.serialize(input));
          writeFileSync(`${base}.txt`, `${outcome.problem}\n`);
          console.log(
            `  defect in ${reader.name}: ${outcome.problem.split("\n")[0]} (saved as ${base}.input)`,
          );
        }
      } else counts[outcome.kind === "accepted" ? "accepted" : "refused"]++;
      return true;
    }),
    { numRuns: runs, seed, endOnFailure: true },
  );
  defectTotal += counts.defects;
  const seconds = (performance.now() - started) / 1000;
  rows.push([
    reader.name,
    String(counts.inputs),
    String(counts.accepted),
    String(counts.refused),
    String(counts.defects),
    slowest.toFixed(0),
    seconds.toFixed(0),
  ]);
  console.log(
    `  ${reader.name}: ${counts.inputs} inputs, ${counts.accepted} accepted, ${counts.refused} clean errors, ${counts.defects} defects (${seconds.toFixed(0)} s)`,
  );
}

const header = ["reader", "inputs", "accepted", "clean errors", "defects", "slowest (ms)", "time (s)"];
const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
console.log("");
for (const row of [header, ...rows]) {
  console.log(
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "),
  );
}
process.exitCode = defectTotal > 0 ? 1 : 0;
