import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { FormatError, Tensor, ValueError, nn, seed, tensor } from "../../src/index.js";

const { parse, serialize, MAX_HEADER_LENGTH } = nn;
const text = new TextEncoder();

/** A file from a header string and data bytes, with the header length written as given (default: exact). */
function file(header: string, data: number[] = [], length?: number): Uint8Array {
  const json = text.encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, length ?? json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function formatErrorOf(bytes: Uint8Array, options?: nn.ParseOptions): FormatError {
  try {
    parse(bytes, options);
  } catch (error) {
    expect(error).toBeInstanceOf(FormatError);
    return error as FormatError;
  }
  throw new Error("expected a FormatError");
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

describe("safetensors: writing", () => {
  it("matches a fixture derived by hand from the format description", () => {
    // Tensors: w = float32 [1, −2] (shape [2]) and n = int32 7 (shape []), metadata {k: "v"}.
    // Order: by dtype alignment, largest first (F32 before I32), then by name → w, then n.
    // Data offsets: w holds 2 × 4 bytes → [0, 8]; n holds 1 × 4 bytes → [8, 12].
    // Header (compact JSON, __metadata__ first):
    //   {"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
    //    "n":{"dtype":"I32","shape":[],"data_offsets":[8,12]}}
    // Length: "{" 1 + "\"__metadata__\":" 15 + "{\"k\":\"v\"}" 9 + "," 1 + "\"w\":" 4 + "{\"dtype\":\"F32\"," 15 +
    //   "\"shape\":[2]," 12 + "\"data_offsets\":[0,8]}" 21 + "," 1 + "\"n\":" 4 + "{\"dtype\":\"I32\"," 15 +
    //   "\"shape\":[]," 11 + "\"data_offsets\":[8,12]}" 22 + "}" 1 = 132 bytes, padded with 4 spaces to 136 = 0x88.
    // Bytes: 88 00 00 00 00 00 00 00 (u64 LE 136), the 136 header bytes, then the data little-endian:
    //   1.0f = 0x3F800000 → 00 00 80 3F; −2.0f = 0xC0000000 → 00 00 00 C0; 7 → 07 00 00 00.
    const header =
      '{"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"n":{"dtype":"I32","shape":[],"data_offsets":[8,12]}}';
    expect(header.length).toBe(132);
    const expected = [
      ...[0x88, 0, 0, 0, 0, 0, 0, 0],
      ...Array.from(text.encode(header)),
      ...[0x20, 0x20, 0x20, 0x20],
      ...[0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0],
      ...[0x07, 0x00, 0x00, 0x00],
    ];
    expect(expected.length).toBe(156);
    const bytes = serialize({ n: tensor(7, { dtype: "int32" }), w: tensor([1, -2]) }, { k: "v" });
    expect(Array.from(bytes)).toEqual(expected);
    const back = parse(bytes);
    expect(Array.from(back.tensors.w!.data)).toEqual([1, -2]);
    expect(back.tensors.n!.shape).toEqual([]);
    expect(back.tensors.n!.item()).toBe(7);
    expect({ ...back.metadata }).toEqual({ k: "v" });
  });

  it("is byte-identical to the reference implementation", () => {
    // Written by the reference implementation (Python `safetensors` 0.8.0, `safetensors.numpy.save`) from
    // b = float32 [[1.5, −2], [0.25, 3]], a = float64 [1, −0.5, 2], c = int32 [7, −1], d = int64 [3, −4],
    // "e.weight" = float32 0.5 (0-d), Z = float32 of shape [0, 3], metadata {format: "pt"}.
    const reference =
      "78010000000000007b225f5f6d657461646174615f5f223a7b22666f726d6174223a227074227d2c2264223a7b226474797065223a" +
      "22493634222c227368617065223a5b325d2c22646174615f6f666673657473223a5b302c31365d7d2c2261223a7b22647479706522" +
      "3a22463634222c227368617065223a5b335d2c22646174615f6f666673657473223a5b31362c34305d7d2c225a223a7b2264747970" +
      "65223a22463332222c227368617065223a5b302c335d2c22646174615f6f666673657473223a5b34302c34305d7d2c2262223a7b22" +
      "6474797065223a22463332222c227368617065223a5b322c325d2c22646174615f6f666673657473223a5b34302c35365d7d2c2265" +
      "2e776569676874223a7b226474797065223a22463332222c227368617065223a5b5d2c22646174615f6f666673657473223a5b3536" +
      "2c36305d7d2c2263223a7b226474797065223a22493332222c227368617065223a5b325d2c22646174615f6f666673657473223a5b" +
      "36302c36385d7d7d20202020200300000000000000fcffffffffffffff000000000000f03f000000000000e0bf0000000000000040" +
      "0000c03f000000c00000803e000040400000003f07000000ffffffff";
    const tensors = {
      b: tensor([
        [1.5, -2],
        [0.25, 3],
      ]),
      a: tensor([1, -0.5, 2], { dtype: "float64" }),
      c: tensor([7, -1], { dtype: "int32" }),
      d: tensor([3, -4], { dtype: "int32" }),
      "e.weight": tensor(0.5),
      Z: tensor([], { shape: [0, 3] }),
    };
    expect(hex(serialize(tensors, { format: "pt" }, { int64: ["d"] }))).toBe(reference);
    // And reading the reference's bytes gives the tensors back (I64 read into int32).
    const bytes = Uint8Array.from(reference.match(/../g)!.map((h) => parseInt(h, 16)));
    const back = parse(bytes);
    expect(Object.keys(back.tensors)).toEqual(["d", "a", "Z", "b", "e.weight", "c"]);
    for (const [name, t] of Object.entries(tensors)) {
      expect(back.tensors[name]!.shape).toEqual(t.shape);
      expect(back.tensors[name]!.dtype).toBe(t.dtype);
      expect(Array.from(back.tensors[name]!.data)).toEqual(Array.from(t.data));
    }
    expect(back.dtypes.d).toBe("I64");
  });

  it("writes a module's state dict, an empty file, and refuses bad names and metadata", () => {
    seed(21);
    const model = new nn.Sequential(new nn.Linear(3, 2), new nn.Tanh(), new nn.Linear(2, 1));
    const back = parse(serialize(model)).tensors;
    const copy = new nn.Sequential(new nn.Linear(3, 2), new nn.Tanh(), new nn.Linear(2, 1));
    copy.loadStateDict(back);
    const x = tensor([[0.5, -1, 2]]);
    expect(Array.from(copy.forward(x).data)).toEqual(Array.from(model.forward(x).data));
    // A Map of tensors is written like the record it stands for.
    const asMap = new Map(Object.entries(model.stateDict()));
    expect(Array.from(serialize(asMap))).toEqual(Array.from(serialize(model)));
    // The empty file: "{}" padded to 8 bytes.
    expect(Array.from(serialize({}))).toEqual([
      8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    ]);
    expect(() => serialize({ __metadata__: tensor([1]) })).toThrow(ValueError);
    expect(() => serialize({ "\ud800": tensor([1]) })).toThrow(/not valid Unicode/);
    expect(() => serialize({ a: tensor([1]) }, { k: 5 as never })).toThrow(/must be a string/);
    expect(() => serialize({ a: [1] as never })).toThrow(/not a Tensor/);
    expect(() => serialize({ a: tensor([1]) }, {}, { int64: ["a"] })).toThrow(/only int32/);
  });

  it("round-trips every dtype it writes, names with any characters, and NaN/∞/−0 bit for bit", () => {
    const values = new Float32Array([Number.NaN, Infinity, -Infinity, -0, 1e-45, 3.4e38]);
    const tensors: Record<string, Tensor> = {
      'ünïcode ✓ "quoted" \\ \n': tensor(values),
      "emoji 🚀": tensor([1, 2], { dtype: "float64" }),
      "": tensor([-2147483648, 2147483647], { dtype: "int32" }),
    };
    const back = parse(serialize(tensors, { ключ: "значение", "": "" }));
    expect(new Uint32Array(Float32Array.from(back.tensors['ünïcode ✓ "quoted" \\ \n']!.data).buffer)).toEqual(
      new Uint32Array(values.buffer),
    );
    expect(Array.from(back.tensors["emoji 🚀"]!.data)).toEqual([1, 2]);
    expect(Array.from(back.tensors[""]!.data)).toEqual([-2147483648, 2147483647]);
    expect({ ...back.metadata }).toEqual({ ключ: "значение", "": "" });
  });
});

describe("safetensors: reading other dtypes", () => {
  function oneTensor(dtype: string, shape: number[], data: number[]): Uint8Array {
    return file(`{"t":{"dtype":"${dtype}","shape":[${shape}],"data_offsets":[0,${data.length}]}}`, data);
  }

  it("reads F16, BF16, small integers and BOOL", () => {
    // F16: 0x3C00 = 1, 0xC000 = −2, 0x0001 = 2⁻²⁴ (smallest subnormal), 0x7C00 = ∞
    const half = parse(oneTensor("F16", [4], [0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0x00, 0x7c])).tensors.t!;
    expect(half.dtype).toBe("float32");
    expect(Array.from(half.data)).toEqual([1, -2, 2 ** -24, Infinity]);
    // BF16 is the top half of a float32: 0x3F80 = 1, 0xC040 = −3
    expect(Array.from(parse(oneTensor("BF16", [2], [0x80, 0x3f, 0x40, 0xc0])).tensors.t!.data)).toEqual([
      1, -3,
    ]);
    expect(Array.from(parse(oneTensor("U8", [2], [0, 255])).tensors.t!.data)).toEqual([0, 255]);
    expect(Array.from(parse(oneTensor("I8", [2], [0x7f, 0x80])).tensors.t!.data)).toEqual([127, -128]);
    expect(Array.from(parse(oneTensor("I16", [1], [0x00, 0x80])).tensors.t!.data)).toEqual([-32768]);
    expect(Array.from(parse(oneTensor("U16", [1], [0xff, 0xff])).tensors.t!.data)).toEqual([65535]);
    expect(Array.from(parse(oneTensor("BOOL", [3], [0, 1, 2])).tensors.t!.data)).toEqual([0, 1, 1]);
  });

  it("reads I64 into int32 with a range check, or into float64 on request", () => {
    // 2³¹ = 0x0000000080000000 does not fit int32; −2³¹ = 0xFFFFFFFF80000000 does
    const fits = [0x00, 0x00, 0x00, 0x80, 0xff, 0xff, 0xff, 0xff];
    const tooBig = [0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00];
    expect(Array.from(parse(oneTensor("I64", [1], fits)).tensors.t!.data)).toEqual([-2147483648]);
    const bytes = oneTensor("I64", [2], [...fits, ...tooBig]);
    const error = formatErrorOf(bytes);
    const dataStart = bytes.length - 16;
    expect(error.offset).toBe(dataStart + 8);
    expect(error.message).toMatch(/I64 value 2147483648 at element 1 .* outside the int32 range/);
    const wide = parse(bytes, { wideIntegers: "float64" }).tensors.t!;
    expect(wide.dtype).toBe("float64");
    expect(Array.from(wide.data)).toEqual([-2147483648, 2147483648]);
    // 2⁵³ + 1 is not a float64
    const huge = oneTensor("I64", [1], [0x01, 0, 0, 0, 0, 0, 0x20, 0]);
    expect(formatErrorOf(huge, { wideIntegers: "float64" }).message).toMatch(/beyond ±2\^53/);
    expect(Array.from(parse(oneTensor("U32", [1], [0xff, 0xff, 0xff, 0x7f])).tensors.t!.data)).toEqual([
      2147483647,
    ]);
    expect(formatErrorOf(oneTensor("U64", [1], [0, 0, 0, 0x80, 0, 0, 0, 0])).message).toMatch(
      /U64 value 2147483648/,
    );
  });
});

describe("safetensors: malformed files", () => {
  const good = '{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const data8 = [0, 0, 128, 63, 0, 0, 0, 64];

  it("a file shorter than the header length field", () => {
    const error = formatErrorOf(new Uint8Array(5));
    expect(error.offset).toBe(0);
    expect(error.message).toMatch(/5 bytes, too few/);
  });

  it("a header length above the bound or beyond the file", () => {
    const big = file(good, data8, MAX_HEADER_LENGTH + 1);
    expect(formatErrorOf(big).message).toMatch(/above the limit of 100000000 bytes/);
    const high = file(good, data8);
    high[4] = 1; // the upper 32 bits of the u64 (bytes 4–7)
    expect(formatErrorOf(high).offset).toBe(0);
    const past = formatErrorOf(file(good, data8, 1000));
    expect(past.offset).toBe(0);
    expect(past.message).toMatch(/header length 1000 runs past the end of the file \(70 bytes\)/);
  });

  it("a header that is not UTF-8 or not JSON, with the offending byte", () => {
    const bytes = file(good, data8);
    bytes[8 + 6] = 0xff; // inside the name "t"… → invalid UTF-8
    expect(formatErrorOf(bytes).offset).toBe(14);
    expect(formatErrorOf(bytes).message).toMatch(/not valid UTF-8/);
    // {"t":} — the '}' at header position 5 (file offset 13) is not a value
    expect(formatErrorOf(file('{"t":}')).offset).toBe(13);
    expect(formatErrorOf(file('{"t" 1}')).message).toMatch(/expected ':' but found '1'/);
    expect(formatErrorOf(file('{"t":1')).message).toMatch(
      /expected ',' or '}' but found the end of the header/,
    );
    expect(formatErrorOf(file("")).message).toMatch(/ends early/);
    expect(formatErrorOf(file('{"a":"\\q"}')).offset).toBe(8 + 6);
    expect(formatErrorOf(file('{"a":"\\ud800"}')).message).toMatch(/lone high surrogate/);
    expect(formatErrorOf(file('{"a":01}')).message).toMatch(/unexpected '1' in the header|expected ','/);
    expect(formatErrorOf(file('{"a":1}x')).message).toMatch(/unexpected 'x' after/);
    expect(formatErrorOf(file('{"a":"\u0001"}')).message).toMatch(/control character/);
    expect(formatErrorOf(file("[1]")).message).toMatch(/must be a JSON object/);
    expect(formatErrorOf(file("[".repeat(100) + "]".repeat(100))).message).toMatch(/nests deeper than 64/);
    expect(formatErrorOf(file('{"a":{},"a":{}}')).message).toMatch(/"a" appears twice/);
  });

  it("unknown or unsupported dtypes, bad shapes and missing fields", () => {
    const header = '{"t":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}';
    const unknown = formatErrorOf(file(header, data8));
    expect(unknown.message).toMatch(/unknown dtype "F33"/);
    expect(unknown.offset).toBe(8 + header.indexOf('"F33"'));
    expect(formatErrorOf(file(good.replace("F32", "F8_E4M3"), data8)).message).toMatch(
      /F8_E4M3, which chainrule cannot read/,
    );
    expect(formatErrorOf(file(good.replace("[2]", "[-2]"), data8)).message).toMatch(/non-negative integers/);
    expect(formatErrorOf(file(good.replace("[2]", "[2.5]"), data8)).message).toMatch(/non-negative integers/);
    expect(formatErrorOf(file(good.replace("[2]", "2"), data8)).message).toMatch(/must be an array/);
    expect(formatErrorOf(file(good.replace('"shape":[2],', ""), data8)).message).toMatch(/has no "shape"/);
    expect(formatErrorOf(file('{"t":5}', [])).message).toMatch(/must be described by an object/);
    expect(formatErrorOf(file('{"__metadata__":{"k":1}}')).message).toMatch(
      /__metadata__ entry "k" must be a string/,
    );
    expect(formatErrorOf(file('{"__metadata__":[]}')).message).toMatch(/__metadata__ must be an object/);
  });

  it("offsets out of range, reversed, overlapping or leaving gaps", () => {
    const outOfRange = formatErrorOf(file(good.replace("[0,8]", "[0,16]"), data8));
    expect(outOfRange.message).toMatch(/run past the end of the data \(8 bytes\)/);
    expect(formatErrorOf(file(good.replace("[0,8]", "[8,0]"), data8)).message).toMatch(
      /end before they begin/,
    );
    expect(formatErrorOf(file(good.replace("[0,8]", "[0]"), data8)).message).toMatch(
      /two non-negative integers/,
    );
    const two = (a: string, b: string) =>
      `{"a":{"dtype":"F32","shape":[1],"data_offsets":${a}},"b":{"dtype":"F32","shape":[1],"data_offsets":${b}}}`;
    const overlapHeader = two("[0,4]", "[2,6]");
    const overlap = formatErrorOf(file(overlapHeader, [0, 0, 0, 0, 0, 0]));
    expect(overlap.message).toMatch(/tensor "b" .* overlaps tensor "a"/);
    expect(overlap.offset).toBe(8 + overlapHeader.length + 2);
    const gapHeader = two("[0,4]", "[6,10]");
    const gap = formatErrorOf(file(gapHeader, new Array(10).fill(0)));
    expect(gap.message).toMatch(/bytes 4–6 of the data belong to no tensor/);
    expect(gap.offset).toBe(8 + gapHeader.length + 4);
    const trailing = formatErrorOf(file(good, [...data8, 1, 2, 3]));
    expect(trailing.message).toMatch(/bytes 8–11 of the data \(to the end of the file\) belong to no tensor/);
    expect(trailing.offset).toBe(8 + good.length + 8);
  });

  it("a shape whose size disagrees with its byte range, without allocating what it claims", () => {
    const wrong = formatErrorOf(file(good.replace("[2]", "[3]"), data8));
    expect(wrong.message).toMatch(
      /shape \[3\] of F32, which needs 12 bytes, but its data_offsets \[0, 8\] hold 8/,
    );
    expect(wrong.offset).toBe(8 + 1);
    // A shape claiming 10¹² values in a 72-byte file fails on the size check, not in an allocation.
    const huge = formatErrorOf(file(good.replace("[2]", "[1000000,1000000]"), data8));
    expect(huge.message).toMatch(/needs 4000000000000 bytes/);
    expect(
      formatErrorOf(file(good.replace("[2]", "[9007199254740991,9007199254740991]"), data8)).message,
    ).toMatch(/more elements than can be counted/);
  });

  it("reads from a view into a larger buffer and from an ArrayBuffer, copying the data out", () => {
    const bytes = serialize({ w: tensor([1, -2, 3]) });
    const big = new Uint8Array(bytes.length + 13);
    big.set(bytes, 5);
    const view = big.subarray(5, 5 + bytes.length);
    const fromView = parse(view).tensors.w!;
    expect(Array.from(fromView.data)).toEqual([1, -2, 3]);
    big.fill(0);
    expect(Array.from(fromView.data)).toEqual([1, -2, 3]);
    expect(Array.from(parse(bytes.slice().buffer).tensors.w!.data)).toEqual([1, -2, 3]);
  });

  it("carries the file name when given", () => {
    const error = formatErrorOf(new Uint8Array(3), { file: "model.safetensors" });
    expect(error.file).toBe("model.safetensors");
    expect(() => parse("bytes" as never)).toThrow(ValueError);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Property-based tests

const dtypeArbitrary = fc.constantFrom("float32", "float64", "int32") as fc.Arbitrary<
  "float32" | "float64" | "int32"
>;

const tensorArbitrary = fc
  .tuple(dtypeArbitrary, fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }))
  .chain(([dtype, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const values =
      dtype === "int32"
        ? fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: size, maxLength: size })
        : fc.array(fc.double({ noNaN: true }), { minLength: size, maxLength: size });
    return values.map((v) => tensor(v, { dtype, shape }));
  });

const filesArbitrary = fc
  .tuple(
    fc.dictionary(fc.string({ maxLength: 6 }), tensorArbitrary, { maxKeys: 4 }),
    fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 6 }), { maxKeys: 2 }),
  )
  .filter(([tensors]) => !("__metadata__" in tensors));

/** Parses and checks that the only possible failure is a FormatError and that success allocated no more than the file. */
function parsesSafely(bytes: Uint8Array): boolean {
  try {
    const { tensors } = parse(bytes);
    let total = 0;
    for (const t of Object.values(tensors)) total += t.data.byteLength;
    // Every value came from the file (a wide or small integer type takes at most 8 bytes per element in memory
    // for every byte it took in the file: BOOL/U8 → int32 is the largest growth).
    expect(total).toBeLessThanOrEqual(4 * bytes.length);
    return true;
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    expect(error.offset).toBeGreaterThanOrEqual(0);
    expect(error.offset).toBeLessThanOrEqual(bytes.length);
    return false;
  }
}

describe("safetensors: property-based", () => {
  it("round-trips random tensor maps exactly, with the header padded to 8 bytes", () => {
    fc.assert(
      fc.property(filesArbitrary, ([tensors, metadata]) => {
        const bytes = serialize(tensors, metadata);
        const headerLength = new DataView(bytes.buffer).getUint32(0, true);
        expect(headerLength % 8).toBe(0);
        const back = parse(bytes);
        expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(tensors).sort());
        for (const [name, t] of Object.entries(tensors)) {
          const r = back.tensors[name]!;
          expect(r.dtype).toBe(t.dtype);
          expect(r.shape).toEqual(t.shape);
          expect(Array.from(new Uint8Array(r.data.buffer))).toEqual(
            Array.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)),
          );
        }
        expect({ ...back.metadata }).toEqual(metadata);
        // Writing what was read gives the same bytes.
        expect(Array.from(serialize(back.tensors, back.metadata))).toEqual(Array.from(bytes));
      }),
      { numRuns: 200 },
    );
  });

  it("serializeParts gives serialize's bytes in pieces, viewing the tensors' data rather than copying it", () => {
    const int64 = fc.oneof(fc.boolean(), fc.constant(null));
    fc.assert(
      fc.property(filesArbitrary, int64, ([tensors, metadata], wide) => {
        // Wide: every int32 tensor written as I64 (true), or only the first one by name (null).
        const firstInt = Object.keys(tensors).find((name) => tensors[name]!.dtype === "int32");
        const options = { int64: wide ?? (firstInt === undefined ? [] : [firstInt]) };
        const bytes = serialize(tensors, metadata, options);
        const parts = nn.serializeParts(tensors, metadata, options);
        const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        parts.reduce((at, p) => (joined.set(p, at), at + p.length), 0);
        expect(Array.from(joined)).toEqual(Array.from(bytes));
        expect(parts.length).toBe(1 + Object.keys(tensors).length);
        // A piece written as the tensor holds it (not widened to I64) is a view of its data.
        for (const piece of parts.slice(1)) {
          const owner = Object.values(tensors).find((t) => t.data.buffer === piece.buffer);
          if (owner !== undefined) expect(piece.byteLength).toBe(owner.data.byteLength);
        }
        const widened = (name: string) =>
          tensors[name]!.dtype === "int32" && (wide === true || (wide === null && name === firstInt));
        const views = parts.filter((piece) =>
          Object.values(tensors).some((t) => t.data.buffer === piece.buffer),
        );
        expect(views.length).toBe(Object.keys(tensors).filter((name) => !widened(name)).length);
      }),
      { numRuns: 150 },
    );
  });

  it("serializeParts of a module views its parameters; stateDict({ copy: false }) hands them out", () => {
    seed(3);
    const model = new nn.Linear(3, 2);
    const [weight, bias] = model.parameters();
    expect(model.stateDict({ copy: false })).toEqual({ weight, bias });
    expect(model.stateDict({ copy: false })["weight"]).toBe(weight);
    expect(model.stateDict()["weight"]).not.toBe(weight);
    const parts = nn.serializeParts(model, { format: "pt" });
    expect(
      parts.slice(1).every((p) => p.buffer === weight!.data.buffer || p.buffer === bias!.data.buffer),
    ).toBe(true);
    const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (joined.set(p, at), at + p.length), 0);
    expect(Array.from(joined)).toEqual(Array.from(serialize(model, { format: "pt" })));
    // The views follow the parameters.
    weight!.data[0] = 42;
    expect(parse(Uint8Array.from(parts.flatMap((p) => Array.from(p)))).tensors["weight"]!.data[0]).toBe(42);
  });

  it("random bytes give a FormatError or a valid result, never a crash", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        parsesSafely(bytes);
      }),
      { numRuns: 1000 },
    );
    // With a plausible header length, so that the header reader sees the random bytes.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), (body, n) => {
        const bytes = new Uint8Array(8 + body.length);
        new DataView(bytes.buffer).setUint32(0, body.length === 0 ? 0 : n % (body.length + 1), true);
        bytes.set(body, 8);
        parsesSafely(bytes);
      }),
      { numRuns: 1000 },
    );
  });

  it("mutated valid files give a FormatError or a valid result, never a crash, a hang or a huge allocation", () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
      fc.record({
        kind: fc.constant("append" as const),
        bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
      }),
      fc.record({
        kind: fc.constant("insert" as const),
        at: fc.nat(),
        bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
      }),
      fc.record({ kind: fc.constant("length" as const), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
      fc.record({
        kind: fc.constant("digit" as const),
        at: fc.nat(),
        digit: fc.constantFrom(...'0123456789-+.e[],{}"'.split("")),
      }),
    );
    fc.assert(
      fc.property(
        filesArbitrary,
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        ([tensors, metadata], mutations) => {
          let bytes = serialize(tensors, metadata);
          for (const m of mutations) {
            if (m.kind === "set" && bytes.length > 0) bytes[m.at % bytes.length] = m.value;
            else if (m.kind === "digit" && bytes.length > 8)
              bytes[8 + (m.at % (bytes.length - 8))] = m.digit.charCodeAt(0);
            else if (m.kind === "truncate") bytes = bytes.slice(0, m.at % (bytes.length + 1));
            else if (m.kind === "append") bytes = Uint8Array.from([...bytes, ...m.bytes]);
            else if (m.kind === "insert") {
              const at = m.at % (bytes.length + 1);
              bytes = Uint8Array.from([...bytes.subarray(0, at), ...m.bytes, ...bytes.subarray(at)]);
            } else if (m.kind === "length" && bytes.length >= 8) {
              new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(0, m.value, true);
            }
          }
          parsesSafely(bytes);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("headers with arbitrary JSON values in their entries give a FormatError or a valid result", () => {
    const entry = fc.record(
      {
        dtype: fc.oneof(
          fc.constantFrom("F32", "F64", "I32", "I64", "U8", "BF16", "F8_E5M2", "X"),
          fc.jsonValue(),
        ),
        shape: fc.oneof(fc.array(fc.integer({ min: -2, max: 5 }), { maxLength: 3 }), fc.jsonValue()),
        data_offsets: fc.oneof(
          fc.tuple(fc.integer({ min: -1, max: 40 }), fc.integer({ min: -1, max: 40 })),
          fc.jsonValue(),
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(entry, fc.jsonValue()), { maxKeys: 3 }),
        fc.integer({ min: 0, max: 40 }),
        (header, dataLength) => {
          parsesSafely(file(JSON.stringify(header), new Array(dataLength).fill(1)));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
