/**
 * A table of word vectors stored compactly as safetensors (browser-safe): the words, as a JSON array in the
 * `words` metadata entry, and the vectors as one [words, dimension] tensor named `vectors`, in half precision
 * (`F16`, the default: 2 bytes per value, ample for pretrained vectors) or `F32`. This is how the small GloVe
 * table shipped in `data/glove/` is stored; `parse` (and any safetensors reader) reads it.
 */
import { FormatError, ValueError } from "../errors.js";
import { parse } from "../nn/safetensors.js";
import { Tensor } from "../tensor/tensor.js";
import type { EmbeddingTable } from "./embeddings.js";
import { checkFiniteWeights } from "./model-config.js";

/** Options of {@link embeddingTableFromSafetensors}. */
export interface EmbeddingTableOptions {
  /** Accept NaN and infinite values in the vectors (default false: refuse them with a FormatError). */
  allowNonFinite?: boolean;
}

const float32 = new Float32Array(1);
const bits32 = new Uint32Array(float32.buffer);

/** The IEEE 754 half-precision bits nearest to a number (ties to even; overflow gives ±infinity). */
export function floatToHalf(value: number): number {
  float32[0] = value;
  const x = bits32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // A subnormal half: m · 2⁻²⁴ with m = (1.mantissa · 2²³) >> (14 − e), rounded to nearest even.
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

/** Serialises a table as safetensors bytes: `vectors` [n, d] in F16 (default) or F32, `words` in the metadata. */
export function embeddingTableToSafetensors(
  table: EmbeddingTable,
  options: { dtype?: "F16" | "F32"; metadata?: Record<string, string> } = {},
): Uint8Array {
  const dtype = options.dtype ?? "F16";
  if (dtype !== "F16" && dtype !== "F32")
    throw new ValueError(`embeddingTableToSafetensors: dtype must be F16 or F32`);
  const { words, dimension, vectors } = table;
  if (!Number.isInteger(dimension) || dimension <= 0 || vectors.length !== words.length * dimension) {
    throw new ValueError(
      `embeddingTableToSafetensors: ${words.length} words of ${dimension} dimensions need ${words.length * dimension} values, got ${vectors.length}`,
    );
  }
  const bytesPerValue = dtype === "F16" ? 2 : 4;
  const dataLength = vectors.length * bytesPerValue;
  const metadata: Record<string, string> = { ...(options.metadata ?? {}), words: JSON.stringify(words) };
  const sortedMetadata = Object.fromEntries(
    Object.entries(metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  const header = JSON.stringify({
    __metadata__: sortedMetadata,
    vectors: { dtype, shape: [words.length, dimension], data_offsets: [0, dataLength] },
  });
  let headerBytes = new TextEncoder().encode(header);
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  if (padded !== headerBytes.length) {
    const withSpaces = new Uint8Array(padded).fill(0x20);
    withSpaces.set(headerBytes);
    headerBytes = withSpaces;
  }
  const out = new Uint8Array(8 + headerBytes.length + dataLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerBytes.length, true);
  view.setUint32(4, 0, true);
  out.set(headerBytes, 8);
  const start = 8 + headerBytes.length;
  for (let i = 0; i < vectors.length; i++) {
    if (dtype === "F16") view.setUint16(start + 2 * i, floatToHalf(vectors[i]!), true);
    else view.setFloat32(start + 4 * i, vectors[i]!, true);
  }
  return out;
}

/** Reads a table written by {@link embeddingTableToSafetensors} (any float dtype safetensors reads). */
export function embeddingTableFromSafetensors(
  bytes: Uint8Array,
  file = "<bytes>",
  options: EmbeddingTableOptions = {},
): EmbeddingTable {
  const { tensors, metadata } = parse(bytes, { file });
  const vectors = tensors.vectors;
  if (vectors === undefined || vectors.ndim !== 2 || vectors.dtype === "int32") {
    throw new FormatError(`${file}: expected a float tensor "vectors" of shape [words, dimension]`, 8, file);
  }
  let words: unknown;
  try {
    words = JSON.parse(metadata.words ?? "null");
  } catch {
    words = null;
  }
  if (!Array.isArray(words) || !words.every((w) => typeof w === "string" && w.length > 0)) {
    throw new FormatError(
      `${file}: expected the metadata entry "words" to be a JSON array of words`,
      8,
      file,
    );
  }
  const [rows, dimension] = vectors.shape as [number, number];
  if (words.length !== rows) {
    throw new FormatError(`${file}: ${words.length} words but ${rows} vectors`, 8, file);
  }
  if (dimension === 0) throw new FormatError(`${file}: the vectors have no dimensions`, 8, file);
  const values = Float32Array.from(vectors.data);
  // NaN or ±Infinity in a vector (also a float64 value beyond float32's range) would give every sentence using
  // the word a NaN loss: refused as a model's weights are (and as GloVe text refuses them), unless allowed.
  const asRead = new Tensor(values, vectors.shape, "float32");
  checkFiniteWeights({ vectors: asRead }, { file, allowNonFinite: options.allowNonFinite });
  return { words: words as string[], dimension, vectors: values };
}
