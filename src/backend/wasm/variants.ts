import { KERNELS_WASM_BASE64 } from "./kernels.generated.js";
import { nodeProcess } from "./host.js";
import { RELAXED_WASM_BASE64, SHARED_RELAXED_WASM_BASE64, SHARED_WASM_BASE64 } from "./variants.generated.js";

/**
 * The builds of the kernels (scripts/build-wasm.ts) and the choice among them at run time. Each comes in two
 * flavours: plain SIMD, and relaxed SIMD, whose float32 matmul uses `f32x4.relaxed_madd` (a fused multiply-add
 * on CPUs with FMA). Node 20 has relaxed SIMD behind V8's `--experimental-wasm-relaxed-simd`, and chainrule turns
 * that flag on before it validates the builds (see {@link allowRelaxedSimd}); where both validate, a short timed
 * product picks one (see {@link pickVariant}). `CHAINRULE_RELAXED_SIMD=0` keeps to the plain builds.
 */

/** Largest shared memory the threaded builds declare, in 64 KiB pages (1 GiB, as wasmThresholds.maxBytes). */
export const SHARED_MAXIMUM_PAGES = 16384;

export interface Variant {
  name: string;
  bytes: Uint8Array<ArrayBuffer>;
}

/** A compiled variant, ready to instantiate. */
export interface CompiledVariant {
  name: string;
  module: WebAssembly.Module;
}

/** Decodes base64 without Node's Buffer (runs in browsers too). */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function lazyVariant(name: string, base64: string): () => Variant {
  let bytes: Uint8Array<ArrayBuffer> | null = null;
  return () => ({ name, bytes: (bytes ??= decodeBase64(base64)) });
}

/** The V8 flag that turns relaxed SIMD on in Node 20 (Node 22 and later, and Chromium from 114, have it on). */
export const RELAXED_SIMD_FLAG = "--experimental-wasm-relaxed-simd";

let relaxedAllowed: boolean | undefined;

/**
 * Whether the relaxed-SIMD builds may run: false where the environment variable `CHAINRULE_RELAXED_SIMD` is `0`,
 * `false` or `off` (the plain builds then run everywhere, as in Node 20 without the flag), true otherwise. On the first
 * call in Node, when the engine refuses relaxed SIMD (Node 20: relaxed SIMD is standard WebAssembly, but V8
 * 11.3 ships it behind a flag), it turns V8's {@link RELAXED_SIMD_FLAG} on for the process, through
 * `v8.setFlagsFromString`: the float32 matmul then runs a fused multiply-add, and the NER network's compiled
 * training step ran 15–20 % faster. Modules compiled before keep what they had; nothing else changes. Browsers
 * are left as they are.
 */
export function allowRelaxedSimd(probe: Uint8Array<ArrayBuffer> = plainVariants[1]!().bytes): boolean {
  if (relaxedAllowed !== undefined) return relaxedAllowed;
  const host = nodeProcess();
  const setting = host?.env?.CHAINRULE_RELAXED_SIMD?.trim().toLowerCase();
  relaxedAllowed = !(setting === "0" || setting === "false" || setting === "off");
  if (relaxedAllowed && typeof WebAssembly === "object" && !WebAssembly.validate(probe)) {
    try {
      const v8 = host?.getBuiltinModule?.("v8") as
        { setFlagsFromString?: (flags: string) => void } | undefined;
      v8?.setFlagsFromString?.(RELAXED_SIMD_FLAG);
    } catch {
      // An engine without the flag (or without `v8`) keeps the plain builds.
    }
  }
  return relaxedAllowed;
}

/** The builds `allowRelaxedSimd` lets run, of a list with the plain build first. */
function allowed(candidates: readonly Variant[]): Variant[] {
  return allowRelaxedSimd() ? [...candidates] : candidates.filter((c) => c.name !== "relaxed-simd");
}

/** The single-thread builds (every kernel, the module owns its memory), plain first. */
export const plainVariants = [
  lazyVariant("simd", KERNELS_WASM_BASE64),
  lazyVariant("relaxed-simd", RELAXED_WASM_BASE64),
];
/** The thread pool's builds (every kernel, over an imported shared memory), plain first. */
export const sharedVariants = [
  lazyVariant("simd", SHARED_WASM_BASE64),
  lazyVariant("relaxed-simd", SHARED_RELAXED_WASM_BASE64),
];

/**
 * Picks a variant: the ones the engine validates, and among several the last (the relaxed-SIMD build) unless
 * another is faster by more than `margin` (a fraction) in `speed` (calls per second, higher is better; the best of
 * the measurements of each, taken in turn so that a disturbance of a shared machine falls on all). Null when none
 * validates.
 *
 * The engine first runs a new module's code unoptimised (V8's Liftoff, 3–4 times slower here) and swaps in its
 * optimised code after some calls, compiled in the background: on a busy machine that can take several rounds,
 * and a trial that compared one build's optimised code with the other's unoptimised code picked the plain build
 * in 2 of 60 processes. So the trial takes at least `rounds` rounds and goes on (up to `maxRounds`) while the
 * fastest candidate is more than `settled` times as fast as the slowest, which two builds of the same kernels,
 * both optimised, never are. And the relaxed build is never slower by design (without FMA the engine runs its
 * fused multiply-add as a multiply and an add, as the plain build does), so it is kept within the margin.
 */
export function pickVariant(
  candidates: readonly Variant[],
  validate: (bytes: Uint8Array<ArrayBuffer>) => boolean,
  speed: (variant: Variant) => number,
  rounds = 4,
  margin = 0.1,
  settled = 1.5,
  maxRounds = 24,
): Variant | null {
  const valid = candidates.filter((c) => {
    try {
      return validate(c.bytes);
    } catch {
      return false;
    }
  });
  if (valid.length <= 1) return valid[0] ?? null;
  const speeds = valid.map(() => 0);
  for (let round = 0; round < maxRounds; round++) {
    valid.forEach((candidate, i) => (speeds[i] = Math.max(speeds[i]!, speed(candidate))));
    if (round + 1 >= rounds && Math.max(...speeds) <= settled * Math.min(...speeds)) break;
  }
  let best = valid.length - 1;
  for (let i = 0; i < valid.length - 1; i++) if (speeds[i]! > speeds[best]! * (1 + margin)) best = i;
  return valid[best]!;
}

/** The matmul exports a speed trial calls (both kinds of build have them). */
interface MatmulExports {
  heapBase(): number;
  matmulScratchBytes(elementBytes: number): number;
  matmulPackedBytes(n: number, k: number, elementBytes: number): number;
  matmulPackF32(b: number, n: number, k: number, transB: number, packedB: number): void;
  matmulRowsF32(...args: number[]): void;
}

/**
 * Products of 96 × 256 · 256 × 96 per millisecond in an instance, over about a millisecond: with the rounds of
 * `pickVariant`, enough to tell a fused multiply-add from a multiply and an add.
 */
export function matmulSpeed(exports: MatmulExports, memory: WebAssembly.Memory): number {
  const m = 96;
  const n = 96;
  const k = 256;
  const base = (exports.heapBase() + 63) & ~63;
  const b = base + m * k * 4;
  const out = b + k * n * 4;
  const packed = out + m * n * 4;
  const scratch = packed + exports.matmulPackedBytes(n, k, 4);
  const end = scratch + exports.matmulScratchBytes(4);
  if (memory.buffer.byteLength < end) memory.grow(Math.ceil((end - memory.buffer.byteLength) / 65536));
  const values = new Float32Array(memory.buffer, base, m * k + k * n);
  for (let i = 0; i < values.length; i++) values[i] = ((i * 7919) % 17) / 17 - 0.5;
  exports.matmulPackF32(b, n, k, 0, packed);
  const start = performance.now();
  let calls = 0;
  do {
    exports.matmulRowsF32(base, packed, out, m, n, k, 0, 0, m, scratch);
    calls++;
  } while (performance.now() - start < 1);
  return calls / (performance.now() - start);
}

/**
 * A `speed` function for `pickVariant` that instantiates each variant once (with `instantiate`) and times its
 * matmul at each call; a build that cannot be instantiated here (e.g. synchronously) scores 0, never picked over
 * another.
 */
function trial(
  instantiate: (v: Variant) => { exports: MatmulExports; memory: WebAssembly.Memory },
): (v: Variant) => number {
  const instances = new Map<string, { exports: MatmulExports; memory: WebAssembly.Memory } | null>();
  return (v) => {
    if (!instances.has(v.name)) {
      try {
        instances.set(v.name, instantiate(v));
      } catch {
        instances.set(v.name, null);
      }
    }
    const instance = instances.get(v.name);
    return instance ? matmulSpeed(instance.exports, instance.memory) : 0;
  };
}

let chosenShared: CompiledVariant | null | undefined;

/** The thread pool's build for this engine (compiled), or null if none validates. */
export function chooseSharedVariant(): CompiledVariant | null {
  if (chosenShared !== undefined) return chosenShared;
  const compiled = new Map<string, WebAssembly.Module>();
  const compile = (v: Variant) => {
    let module = compiled.get(v.name);
    if (!module) compiled.set(v.name, (module = new WebAssembly.Module(v.bytes)));
    return module;
  };
  try {
    const candidates = allowed(sharedVariants.map((v) => v()));
    // The kind of build the calling thread runs, so that results do not depend on the number of threads; a
    // trial of its own only where that one is not available over shared memory.
    const plain = choosePlainVariant()?.name;
    const same = candidates.find((c) => c.name === plain && WebAssembly.validate(c.bytes));
    const picked =
      same ??
      pickVariant(
        candidates,
        (bytes) => WebAssembly.validate(bytes),
        trial((v) => {
          const memory = new WebAssembly.Memory({ initial: 1, maximum: SHARED_MAXIMUM_PAGES, shared: true });
          const instance = new WebAssembly.Instance(compile(v), { env: { memory } });
          return { exports: instance.exports as unknown as MatmulExports, memory };
        }),
      );
    chosenShared = picked ? { name: picked.name, module: compile(picked) } : null;
  } catch {
    chosenShared = null;
  }
  return chosenShared;
}

let chosenPlain: Variant | null | undefined;

/**
 * The single-thread build for this engine: relaxed SIMD where it validates and the plain build is not clearly
 * faster (see {@link pickVariant}), else plain SIMD;
 * null if neither validates (no WebAssembly SIMD). Chosen once.
 */
export function choosePlainVariant(): Variant | null {
  if (chosenPlain !== undefined) return chosenPlain;
  return (chosenPlain = pickVariant(
    allowed(plainVariants.map((v) => v())),
    (bytes) => typeof WebAssembly === "object" && WebAssembly.validate(bytes),
    trial((v) => {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(v.bytes), {});
      return {
        exports: instance.exports as unknown as MatmulExports,
        memory: instance.exports.memory as WebAssembly.Memory,
      };
    }),
  ));
}
