/**
 * The safetensors format, read and written in memory (no Node APIs: this file runs in a browser).
 *
 * Layout: 8 bytes holding N, the header length (unsigned 64-bit little-endian); N bytes of UTF-8 JSON,
 * `{ "<name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }, …, "__metadata__": {
 * "<key>": "<string>" } }`; then the data: each tensor's values, row-major and little-endian, at
 * [begin, end) counted from the first byte after the header. The tensors' byte ranges cover the data
 * exactly, without gaps or overlaps.
 *
 * Writing follows the reference implementation byte for byte: tensors ordered by dtype alignment
 * (largest first) and then by name, the header as compact JSON with `__metadata__` first, padded with spaces
 * to a multiple of 8 bytes so that every tensor's data is aligned.
 *
 * Reading trusts nothing: every defect is a {@link FormatError} carrying the byte offset where it was found,
 * nothing is allocated from a size the header claims before that size has been checked against the file,
 * and the header is parsed by a small strict JSON reader (bounded nesting, duplicate keys refused).
 */
import { FormatError, ValueError, quoteInput } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import type { DType, TypedArray } from "../tensor/dtype.js";
import { Module, tensorEntries, type AnyModule, type TensorMap } from "./module.js";
import {
  HeaderReader,
  JsonObject,
  firstInvalidUtf8,
  type JsonEntry,
  type JsonValue,
} from "./safetensors-json.js";

/** The largest header accepted (the reference implementation's bound): 100 MB. */
export const MAX_HEADER_LENGTH = 100_000_000;

interface DTypeInfo {
  /** Bytes per element. */
  size: number;
  /** The reference's alignment order (larger is written first). */
  rank: number;
  /** The chainrule dtype it is read into, or null if chainrule cannot read it. */
  reads: DType | null;
}

/** Every dtype of the format, in the reference implementation's alignment order. */
const DTYPES: Record<string, DTypeInfo> = {
  BOOL: { size: 1, rank: 0, reads: "int32" },
  U8: { size: 1, rank: 1, reads: "int32" },
  I8: { size: 1, rank: 2, reads: "int32" },
  F8_E5M2: { size: 1, rank: 3, reads: null },
  F8_E4M3: { size: 1, rank: 4, reads: null },
  I16: { size: 2, rank: 5, reads: "int32" },
  U16: { size: 2, rank: 6, reads: "int32" },
  F16: { size: 2, rank: 7, reads: "float32" },
  BF16: { size: 2, rank: 8, reads: "float32" },
  I32: { size: 4, rank: 9, reads: "int32" },
  U32: { size: 4, rank: 10, reads: "int32" },
  F32: { size: 4, rank: 11, reads: "float32" },
  F64: { size: 8, rank: 12, reads: "float64" },
  I64: { size: 8, rank: 13, reads: "int32" },
  U64: { size: 8, rank: 14, reads: "int32" },
};

const WIDE_INTEGERS = new Set(["U32", "I64", "U64"]);

/** Options of {@link parse}. */
export interface ParseOptions {
  /**
   * How integers wider than int32 (I64, U64, U32) are read: "int32" (default), where a value outside the
   * int32 range is a FormatError, or "float64", where a value beyond ±2^53 (not exactly representable) is.
   * chainrule stores indices and counts as int32, so int32 is the natural home of the I64 tensors other
   * tools write for them; "float64" is there for the occasional wide value.
   */
  wideIntegers?: "int32" | "float64";
  /** A file name to carry in errors. */
  file?: string;
}

/** What {@link parse} reads from a safetensors file. */
export interface SafetensorsContent {
  /** The tensors by name, in the order of their data in the file (an object without prototype). */
  tensors: Record<string, Tensor>;
  /** The `__metadata__` strings ({} if none). */
  metadata: Record<string, string>;
  /** Each tensor's dtype as the file gave it ("F32", "I64", …). */
  dtypes: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------------------
// Reading

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
  /** Byte offset of the entry's key in the file. */
  at: number;
}

function isLittleEndianHost(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * Reads a safetensors file from its bytes. Every defect (a header length beyond the file or above
 * {@link MAX_HEADER_LENGTH}, invalid UTF-8 or JSON, an unknown dtype, a bad shape, offsets out of range,
 * overlapping or leaving gaps, a size that disagrees with the shape) throws a FormatError with the byte
 * offset. The tensors own copies of their data.
 */
export function parse(input: Uint8Array | ArrayBuffer, options: ParseOptions = {}): SafetensorsContent {
  const file = options.file;
  const wide = options.wideIntegers ?? "int32";
  if (wide !== "int32" && wide !== "float64") {
    throw new ValueError(
      `safetensors.parse: wideIntegers must be "int32" or "float64", got ${quoteInput(wide)}`,
    );
  }
  // A plain Uint8Array view (a Node Buffer's slice() would share memory instead of copying).
  const bytes =
    input instanceof Uint8Array
      ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
      : input instanceof ArrayBuffer
        ? new Uint8Array(input)
        : null;
  if (bytes === null) throw new ValueError("safetensors.parse: expected a Uint8Array or an ArrayBuffer");
  const fail = (message: string, offset: number): never => {
    throw new FormatError(`safetensors: ${message} (at byte ${offset})`, offset, file);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fileSize = bytes.length;

  if (fileSize < 8) fail(`the file has ${fileSize} bytes, too few for the 8-byte header length`, 0);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  if (high !== 0 || low > MAX_HEADER_LENGTH) {
    fail(`the header length ${high * 2 ** 32 + low} is above the limit of ${MAX_HEADER_LENGTH} bytes`, 0);
  }
  const headerLength = low;
  if (8 + headerLength > fileSize) {
    fail(`the header length ${headerLength} runs past the end of the file (${fileSize} bytes)`, 0);
  }
  const dataStart = 8 + headerLength;
  const dataLength = fileSize - dataStart;

  const invalid = firstInvalidUtf8(bytes, 8, dataStart);
  if (invalid >= 0) fail("the header is not valid UTF-8", invalid);
  const reader = new HeaderReader(bytes, 8, dataStart, file);
  const header = reader.document();
  if (!(header instanceof JsonObject)) fail("the header must be a JSON object", 8);
  const top = header as JsonObject;

  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  const entries: Entry[] = [];
  for (const [name, { value, keyOffset, valueOffset }] of top.entries) {
    if (name === "__metadata__") {
      if (!(value instanceof JsonObject)) fail("__metadata__ must be an object of strings", valueOffset);
      for (const [key, item] of (value as JsonObject).entries) {
        if (typeof item.value !== "string") {
          fail(`__metadata__ entry ${JSON.stringify(key)} must be a string`, item.valueOffset);
        }
        metadata[key] = item.value as string;
      }
      continue;
    }
    entries.push(readEntry(name, value, keyOffset, valueOffset, dataLength, fail));
  }

  // The byte ranges, in order, must tile [0, dataLength) exactly.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: Entry | null = null;
  for (const entry of entries) {
    if (entry.begin < covered) {
      fail(
        `tensor ${JSON.stringify(entry.name)} (bytes ${entry.begin}–${entry.end} of the data) overlaps tensor ${JSON.stringify(previous!.name)} (bytes ${previous!.begin}–${previous!.end})`,
        dataStart + entry.begin,
      );
    }
    if (entry.begin > covered) {
      fail(`bytes ${covered}–${entry.begin} of the data belong to no tensor`, dataStart + covered);
    }
    covered = entry.end;
    previous = entry;
  }
  if (covered < dataLength) {
    fail(
      `bytes ${covered}–${dataLength} of the data (to the end of the file) belong to no tensor`,
      dataStart + covered,
    );
  }

  const tensors: Record<string, Tensor> = Object.create(null) as Record<string, Tensor>;
  const dtypes: Record<string, string> = Object.create(null) as Record<string, string>;
  const littleEndian = isLittleEndianHost();
  for (const entry of entries) {
    tensors[entry.name] = readTensor(entry, bytes, view, dataStart, wide, littleEndian, fail);
    dtypes[entry.name] = entry.dtype;
  }
  return { tensors, metadata, dtypes };
}

function readEntry(
  name: string,
  value: JsonValue,
  keyOffset: number,
  valueOffset: number,
  dataLength: number,
  fail: (message: string, offset: number) => never,
): Entry {
  const what = `tensor ${JSON.stringify(name)}`;
  if (!(value instanceof JsonObject)) {
    return fail(`${what} must be described by an object {dtype, shape, data_offsets}`, valueOffset);
  }
  const field = (key: string): JsonEntry => {
    const found = value.entries.get(key);
    if (found === undefined) return fail(`${what} has no "${key}"`, valueOffset);
    return found;
  };
  const dtypeField = field("dtype");
  const dtype = dtypeField.value;
  if (typeof dtype !== "string") return fail(`the dtype of ${what} must be a string`, dtypeField.valueOffset);
  const info = Object.prototype.hasOwnProperty.call(DTYPES, dtype) ? DTYPES[dtype]! : null;
  if (info === null) {
    return fail(`${what} has the unknown dtype ${JSON.stringify(dtype)}`, dtypeField.valueOffset);
  }
  if (info.reads === null) {
    return fail(`${what} has the dtype ${dtype}, which chainrule cannot read`, dtypeField.valueOffset);
  }
  const shapeField = field("shape");
  const shapeValue = shapeField.value;
  if (!Array.isArray(shapeValue))
    return fail(`the shape of ${what} must be an array`, shapeField.valueOffset);
  const shape: number[] = [];
  let count = 1;
  for (const d of shapeValue) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      return fail(`the shape of ${what} must hold non-negative integers`, shapeField.valueOffset);
    }
    shape.push(d);
    count *= d;
    if (count > Number.MAX_SAFE_INTEGER) {
      return fail(`the shape of ${what} has more elements than can be counted`, shapeField.valueOffset);
    }
  }
  const offsetsField = field("data_offsets");
  const offsets = offsetsField.value;
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => typeof o === "number" && Number.isSafeInteger(o) && o >= 0)
  ) {
    return fail(`the data_offsets of ${what} must be two non-negative integers`, offsetsField.valueOffset);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) {
    return fail(
      `the data_offsets [${begin}, ${end}] of ${what} end before they begin`,
      offsetsField.valueOffset,
    );
  }
  if (end > dataLength) {
    return fail(
      `the data_offsets [${begin}, ${end}] of ${what} run past the end of the data (${dataLength} bytes)`,
      offsetsField.valueOffset,
    );
  }
  const expected = count * info.size;
  if (expected !== end - begin) {
    return fail(
      `${what} has shape [${shape.join(", ")}] of ${dtype}, which needs ${expected} bytes, but its data_offsets [${begin}, ${end}] hold ${end - begin}`,
      keyOffset,
    );
  }
  return { name, dtype, shape, begin, end, at: keyOffset };
}

function readTensor(
  entry: Entry,
  bytes: Uint8Array,
  view: DataView,
  dataStart: number,
  wide: "int32" | "float64",
  littleEndian: boolean,
  fail: (message: string, offset: number) => never,
): Tensor {
  const info = DTYPES[entry.dtype]!;
  const start = dataStart + entry.begin;
  const n = (entry.end - entry.begin) / info.size;
  const what = `tensor ${JSON.stringify(entry.name)}`;
  let data: TypedArray;
  let dtype: DType = info.reads!;
  switch (entry.dtype) {
    case "F32":
    case "I32":
    case "F64": {
      const copy = bytes.slice(start, start + n * info.size).buffer;
      if (littleEndian) {
        data =
          entry.dtype === "F32"
            ? new Float32Array(copy)
            : entry.dtype === "I32"
              ? new Int32Array(copy)
              : new Float64Array(copy);
      } else {
        data =
          entry.dtype === "F32"
            ? new Float32Array(n)
            : entry.dtype === "I32"
              ? new Int32Array(n)
              : new Float64Array(n);
        for (let i = 0; i < n; i++) {
          const at = start + i * info.size;
          data[i] =
            entry.dtype === "F32"
              ? view.getFloat32(at, true)
              : entry.dtype === "I32"
                ? view.getInt32(at, true)
                : view.getFloat64(at, true);
        }
      }
      break;
    }
    case "F16":
    case "BF16": {
      const out = new Float32Array(n);
      const scratch = new Float32Array(1);
      const scratchBits = new Uint32Array(scratch.buffer);
      for (let i = 0; i < n; i++) {
        const bits = view.getUint16(start + 2 * i, true);
        if (entry.dtype === "F16") out[i] = halfToFloat(bits);
        else {
          scratchBits[0] = bits << 16;
          out[i] = scratch[0]!;
        }
      }
      data = out;
      break;
    }
    case "BOOL":
    case "U8":
    case "I8":
    case "I16":
    case "U16": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const at = start + i * info.size;
        out[i] =
          entry.dtype === "BOOL"
            ? bytes[at] === 0
              ? 0
              : 1
            : entry.dtype === "U8"
              ? view.getUint8(at)
              : entry.dtype === "I8"
                ? view.getInt8(at)
                : entry.dtype === "I16"
                  ? view.getInt16(at, true)
                  : view.getUint16(at, true);
      }
      data = out;
      break;
    }
    default: {
      // U32, I64 and U64: wider than int32.
      if (!WIDE_INTEGERS.has(entry.dtype)) return fail(`${what}: unhandled dtype ${entry.dtype}`, entry.at);
      const toInt32 = wide === "int32";
      const out = toInt32 ? new Int32Array(n) : new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const at = start + i * info.size;
        const value =
          entry.dtype === "U32"
            ? BigInt(view.getUint32(at, true))
            : entry.dtype === "I64"
              ? view.getBigInt64(at, true)
              : view.getBigUint64(at, true);
        if (toInt32 && (value > 2147483647n || value < -2147483648n)) {
          return fail(
            `${what}: the ${entry.dtype} value ${value} at element ${i} is outside the int32 range (read with { wideIntegers: "float64" } to keep it)`,
            at,
          );
        }
        if (!toInt32 && (value > 9007199254740992n || value < -9007199254740992n)) {
          return fail(
            `${what}: the ${entry.dtype} value ${value} at element ${i} is beyond ±2^53, so a float64 cannot hold it exactly`,
            at,
          );
        }
        out[i] = Number(value);
      }
      data = out;
      dtype = toInt32 ? "int32" : "float64";
      break;
    }
  }
  return new Tensor(data, entry.shape, dtype);
}

// ---------------------------------------------------------------------------------------------------------
// Writing

/** Options of {@link serialize}. */
export interface SerializeOptions {
  /**
   * Write int32 tensors as I64 (all of them with `true`, or those named): what PyTorch expects of index
   * tensors. Otherwise int32 tensors are written as I32.
   */
  int64?: boolean | readonly string[];
}

const encoder = new TextEncoder();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function checkString(value: unknown, what: string): string {
  if (typeof value !== "string") throw new ValueError(`safetensors.serialize: ${what} must be a string`);
  if (LONE_SURROGATE.test(value)) {
    throw new ValueError(`safetensors.serialize: ${what} ${JSON.stringify(value)} is not valid Unicode`);
  }
  return value;
}

/** A tensor to write: its name, dtype in the file and size of an element there. */
interface WriteItem {
  readonly key: Uint8Array;
  readonly tensor: Tensor;
  readonly dtype: string;
  readonly info: DTypeInfo;
}

/** What serialize writes: the 8-byte length and header, then the items' data in order. */
interface SafetensorsLayout {
  readonly header: Uint8Array;
  readonly items: readonly WriteItem[];
  /** Bytes of the data section. */
  readonly dataBytes: number;
}

function layoutOf(
  tensors: TensorMap | AnyModule,
  metadata: Record<string, string> | undefined,
  options: SerializeOptions,
  where: string,
): SafetensorsLayout {
  // A module's parameters are read, not copied: their bytes are copied (or viewed) once, where they are written.
  const named = tensorEntries(
    tensors instanceof Module ? tensors.stateDict({ copy: false }) : tensors,
    where,
  );
  const int64 = options.int64 ?? false;
  const wideNames = new Set(Array.isArray(int64) ? int64 : []);
  const items = named.map(([name, t]) => {
    checkString(name, "a tensor name");
    if (name === "__metadata__") throw new ValueError(`${where}: "__metadata__" cannot name a tensor`);
    const dtype =
      t.dtype === "float32"
        ? "F32"
        : t.dtype === "float64"
          ? "F64"
          : int64 === true || wideNames.has(name)
            ? "I64"
            : "I32";
    if (wideNames.has(name) && t.dtype !== "int32") {
      throw new ValueError(
        `${where}: ${JSON.stringify(name)} is ${t.dtype}; only int32 tensors can be written as I64`,
      );
    }
    return { name, key: encoder.encode(name), tensor: t, dtype, info: DTYPES[dtype]! };
  });
  items.sort((a, b) => b.info.rank - a.info.rank || compareBytes(a.key, b.key));

  const parts: string[] = [];
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== "object" || Array.isArray(metadata)) {
      throw new ValueError(`${where}: metadata must be an object of strings`);
    }
    const keys = Object.keys(metadata)
      .map((k) => ({ k, bytes: encoder.encode(checkString(k, "a metadata key")) }))
      .sort((a, b) => compareBytes(a.bytes, b.bytes));
    if (keys.length > 0) {
      const fields = keys.map(
        ({ k }) =>
          `${JSON.stringify(k)}:${JSON.stringify(checkString(metadata[k], `metadata ${JSON.stringify(k)}`))}`,
      );
      parts.push(`"__metadata__":{${fields.join(",")}}`);
    }
  }
  let offset = 0;
  for (const item of items) {
    const bytes = item.tensor.size * item.info.size;
    parts.push(
      `${JSON.stringify(item.name)}:{"dtype":"${item.dtype}","shape":[${item.tensor.shape.join(",")}],"data_offsets":[${offset},${offset + bytes}]}`,
    );
    offset += bytes;
  }
  const json = encoder.encode(`{${parts.join(",")}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  if (headerLength > MAX_HEADER_LENGTH) {
    throw new ValueError(`${where}: the header would be ${headerLength} bytes, above ${MAX_HEADER_LENGTH}`);
  }
  const header = new Uint8Array(8 + headerLength);
  new DataView(header.buffer).setUint32(0, headerLength, true);
  header.set(json, 8);
  header.fill(0x20, 8 + json.length);
  return { header, items, dataBytes: offset };
}

/** Writes an item's data at `at` in `out` (little-endian, I64 widened). */
function writeItem(item: WriteItem, out: Uint8Array, at: number): void {
  const data = item.tensor.data;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (item.dtype === "I64") {
    for (let i = 0; i < data.length; i++) {
      view.setInt32(at + 8 * i, data[i]!, true);
      view.setInt32(at + 8 * i + 4, data[i]! < 0 ? -1 : 0, true);
    }
  } else if (isLittleEndianHost()) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
  } else {
    for (let i = 0; i < data.length; i++) {
      if (item.dtype === "F32") view.setFloat32(at + 4 * i, data[i]!, true);
      else if (item.dtype === "F64") view.setFloat64(at + 8 * i, data[i]!, true);
      else view.setInt32(at + 4 * i, data[i]!, true);
    }
  }
}

/**
 * Writes tensors (a record or Map of named tensors, or a module, whose `stateDict()` is written) and
 * optional string metadata as safetensors bytes. float32 → F32, float64 → F64, int32 → I32 (or I64).
 */
export function serialize(
  tensors: TensorMap | AnyModule,
  metadata?: Record<string, string>,
  options: SerializeOptions = {},
): Uint8Array {
  const { header, items, dataBytes } = layoutOf(tensors, metadata, options, "safetensors.serialize");
  const out = new Uint8Array(header.length + dataBytes);
  out.set(header);
  let at = header.length;
  for (const item of items) {
    writeItem(item, out, at);
    at += item.tensor.size * item.info.size;
  }
  return out;
}

/**
 * The bytes {@link serialize} gives, as pieces in order (the header, then each tensor's data), without
 * assembling them: a tensor whose bytes are the file's (float32, float64 or int32 written as I32, on a
 * little-endian host) is a view of its data, not a copy. Written one after the other (a file handle's
 * `writeFile` per piece, or `writeFileAtomic`), they make the same file, while memory holds no second copy
 * of the weights. The views change with the tensors: write them before the tensors change.
 */
export function serializeParts(
  tensors: TensorMap | AnyModule,
  metadata?: Record<string, string>,
  options: SerializeOptions = {},
): Uint8Array[] {
  const { header, items } = layoutOf(tensors, metadata, options, "safetensors.serializeParts");
  const pieces = [header];
  for (const item of items) {
    const data = item.tensor.data;
    if (item.dtype !== "I64" && isLittleEndianHost()) {
      pieces.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } else {
      const bytes = new Uint8Array(item.tensor.size * item.info.size);
      writeItem(item, bytes, 0);
      pieces.push(bytes);
    }
  }
  return pieces;
}
