/**
 * Where a benchmark process's memory goes: the profile `bench/ner-step.ts --memory` prints beside its peak.
 *
 * - {@link residentMap} reads Linux's /proc/self/smaps and adds up the resident memory of each kind of mapping:
 *   the Node executable's pages, other files, glibc's main heap (the main thread's malloc, where the backing
 *   stores of ArrayBuffers live), glibc's heaps of other threads (worker and engine threads), the WebAssembly
 *   memories, and the rest (V8's heaps and code, stacks, large single mallocs).
 * - {@link MemoryProbe} samples what the benchmark loop can see between steps: the resident size at named
 *   stages, the largest ArrayBuffer total (live arrays and dead ones the collector has not freed yet), and how
 *   many collections ran.
 *
 * - Run on its own (`node --import tsx bench/memory.ts`), it measures how many MB of dead ArrayBuffers the
 *   engine lets accumulate before it collects them ({@link deadArrayBuffersPeak}).
 *
 * Figures only, for docs/compile.md ("Memory of the step"); nothing here is asserted.
 */
import { readFileSync } from "node:fs";
import { PerformanceObserver, constants } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

/** Resident memory in MB by kind of mapping (see {@link residentMap}). */
export interface ResidentMap {
  /** The pages of the Node executable itself (its code and data, read from the file as they are used). */
  executable: number;
  /** Other file-backed mappings: shared libraries, data files. */
  files: number;
  /** glibc's main heap (`[heap]`): the main thread's allocations, ArrayBuffers' backing stores among them. */
  mainHeap: number;
  /**
   * glibc's heaps of other threads: each thread that allocates (a worker thread, the engine's compiler and
   * collector threads) gets one, a 64 MB reservation at a 64 MB boundary of which only the used part is resident.
   */
  threadHeaps: number;
  /** WebAssembly memories: the used part of a reservation of several GiB (V8 guards a memory with one). */
  webAssembly: number;
  /** Every other anonymous mapping: V8's heaps and code, thread stacks, large single allocations. */
  other: number;
  /** The whole resident size (the sum of the above). */
  total: number;
}

const MB = 1024 * 1024;
const HEAP_RESERVATION = 64 * MB;
const GIB = 1024 * MB;

interface Mapping {
  start: number;
  end: number;
  perms: string;
  name: string;
  residentKB: number;
}

/** The mappings of a smaps text; lines it does not understand are skipped, so any text gives a (maybe empty) list. */
export function parseSmaps(text: string): Mapping[] {
  const mappings: Mapping[] = [];
  let current: Mapping | null = null;
  for (const line of text.split("\n")) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) ([-rwxsp]{4}) [0-9a-f]+ [0-9a-f]+:[0-9a-f]+ \d+\s*(.*)$/.exec(
      line,
    );
    if (header !== null) {
      const start = Number.parseInt(header[1]!, 16);
      const end = Number.parseInt(header[2]!, 16);
      current =
        Number.isFinite(start) && Number.isFinite(end) && end >= start
          ? { start, end, perms: header[3]!, name: header[4]!.trim(), residentKB: 0 }
          : null;
      if (current !== null) mappings.push(current);
      continue;
    }
    const resident = /^Rss:\s+(\d+) kB$/.exec(line.trim());
    if (resident !== null && current !== null) current.residentKB = Number(resident[1]);
  }
  return mappings;
}

/**
 * Adds up the resident memory of each kind of mapping in a smaps text. `executable` is the path of the Node
 * binary (`process.execPath`). An anonymous mapping and the inaccessible one right after it form a reservation:
 * of 64 MB at a 64 MB boundary, a glibc thread heap; of more than 4 GiB, a WebAssembly memory.
 */
export function residentMap(text: string, executable: string): ResidentMap {
  const map: ResidentMap = {
    executable: 0,
    files: 0,
    mainHeap: 0,
    threadHeaps: 0,
    webAssembly: 0,
    other: 0,
    total: 0,
  };
  const mappings = parseSmaps(text);
  for (let i = 0; i < mappings.length; i++) {
    const m = mappings[i]!;
    const mb = m.residentKB / 1024;
    map.total += mb;
    if (m.name === "[heap]") map.mainHeap += mb;
    else if (m.name === executable) map.executable += mb;
    else if (m.name.startsWith("/")) map.files += mb;
    else if (m.name !== "") map.other += mb;
    else {
      const next = mappings[i + 1];
      const guard =
        next !== undefined && next.start === m.end && next.perms.startsWith("---") && next.name === "";
      const reserved = (guard ? next.end : m.end) - m.start;
      if (reserved > 4 * GIB && m.perms.startsWith("rw")) map.webAssembly += mb;
      else if (reserved === HEAP_RESERVATION && m.start % HEAP_RESERVATION === 0 && m.perms.startsWith("rw"))
        map.threadHeaps += mb;
      else map.other += mb;
    }
  }
  return map;
}

/** This process's {@link residentMap}, or null off Linux. */
export function ownResidentMap(): ResidentMap | null {
  try {
    return residentMap(readFileSync("/proc/self/smaps", "utf8"), process.execPath);
  } catch {
    return null;
  }
}

/**
 * The number in the field `name` of this process's /proc/self/status (`VmRSS` and `VmHWM` in kB, `Threads` a
 * count), or null off Linux or where the field is missing.
 */
export function statusField(name: string): number | null {
  try {
    const match = new RegExp(`^${name}:\\s*(\\d+)`, "m").exec(readFileSync("/proc/self/status", "utf8"));
    return match ? Number(match[1]) : null;
  } catch {
    return null; // not Linux
  }
}

/** This process's resident size in MB now (VmRSS), or its `process.memoryUsage().rss` off Linux. */
export function residentMB(): number {
  const kB = statusField("VmRSS");
  return kB !== null ? kB / 1024 : process.memoryUsage().rss / MB;
}

/** The number of threads of this process (Linux), or null. */
export function threadCount(): number | null {
  return statusField("Threads");
}

/** What a {@link MemoryProbe} saw, in MB (and counts). */
export interface MemoryProfile {
  /** The resident size at each stage named by `stage`, in order. */
  stages: Record<string, number>;
  /** The largest `process.memoryUsage().arrayBuffers` seen after a step: live arrays and uncollected dead ones. */
  arrayBuffersPeak: number;
  /** The smallest seen after a step: about what the step keeps alive. */
  arrayBuffersLow: number;
  /** Collections of the main thread's heap while the probe observed: young generation and full. */
  collections: { young: number; full: number };
}

/**
 * Samples memory between a benchmark's steps: `stage(name)` notes the resident size, `step()` (after each
 * step) the ArrayBuffer total, and `finish()` (async: the engine reports collections between tasks) gives the
 * profile. Sampling costs a few µs a step, so a run with a probe is not a timing run.
 */
export class MemoryProbe {
  private readonly stages: Record<string, number> = {};
  private peak = 0;
  private low = Infinity;
  private young = 0;
  private full = 0;
  private readonly observer: PerformanceObserver;

  constructor() {
    this.observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
        if (kind === constants.NODE_PERFORMANCE_GC_MINOR) this.young++;
        else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) this.full++;
      }
    });
    this.observer.observe({ entryTypes: ["gc"] });
  }

  stage(name: string): void {
    this.stages[name] = residentMB();
  }

  step(): void {
    const bytes = process.memoryUsage().arrayBuffers / MB;
    if (bytes > this.peak) this.peak = bytes;
    if (bytes < this.low) this.low = bytes;
  }

  async finish(): Promise<MemoryProfile> {
    // Entries reach the observer in a task of their own, after the synchronous loop that ran the steps.
    await new Promise((resolve) => setTimeout(resolve, 50));
    this.observer.disconnect();
    return {
      stages: { ...this.stages },
      arrayBuffersPeak: this.peak,
      arrayBuffersLow: Number.isFinite(this.low) ? this.low : 0,
      collections: { young: this.young, full: this.full },
    };
  }
}

/**
 * The engine's collection of dead ArrayBuffers, alone: allocates `bytes`-byte Float32Arrays and drops each at
 * once, for `ms` milliseconds, and returns the largest ArrayBuffer total seen, in MB. That is what a loop that
 * makes new arrays leaves behind at most, whatever their sizes: the engine collects the young generation when
 * the new backing stores reach a number of bytes, and frees the dead ones then.
 */
export function deadArrayBuffersPeak(bytes: number, ms = 1000): number {
  let peak = 0;
  let sink = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    const array = new Float32Array(bytes / 4);
    array[0] = sink;
    sink += array.length;
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  }
  return Math.round((peak / MB) * 10) / 10;
}

// Run as a script (node --import tsx bench/memory.ts): the engine's threshold, for arrays of the sizes a NER step
// makes. Only from this file: in a bundle of bench/ner-step.ts (as `npm run bench` runs it) every module's
// import.meta.url is the bundle's, which is the script run.
if (
  process.argv[1] &&
  import.meta.url === pathToFileURL(process.argv[1]).href &&
  import.meta.url.endsWith("/memory.ts")
) {
  for (const kb of [16, 64, 256, 1024]) {
    console.log(JSON.stringify({ arrayKB: kb, deadArrayBuffersPeakMB: deadArrayBuffersPeak(kb * 1024) }));
  }
}
