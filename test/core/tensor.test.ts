import { describe, expect, it } from "vitest";
import {
  ChainruleError,
  DTypeError,
  ShapeError,
  Tensor,
  ValueError,
  arange,
  eye,
  full,
  linspace,
  ones,
  rand,
  randn,
  seed,
  tensor,
  zeros,
} from "../../src/index.js";

describe("tensor()", () => {
  it("makes a 0-d tensor from a number, float32 by default", () => {
    const t = tensor(2.5);
    expect(t.shape).toEqual([]);
    expect(t.ndim).toBe(0);
    expect(t.size).toBe(1);
    expect(t.dtype).toBe("float32");
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(t.item()).toBe(2.5);
    expect(t.toArray()).toBe(2.5);
  });

  it("infers the shape of nested arrays and lays them out row-major", () => {
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.shape).toEqual([2, 3]);
    expect(Array.from(t.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it("lays out a flat array with a shape row-major", () => {
    const t = tensor([1, 2, 3, 4, 5, 6], { shape: [3, 2], dtype: "float64" });
    expect(t.shape).toEqual([3, 2]);
    expect(t.dtype).toBe("float64");
    expect(t.toArray()).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
  });

  it("keeps the dtype of typed arrays unless told otherwise", () => {
    expect(tensor(new Float64Array([1, 2])).dtype).toBe("float64");
    expect(tensor(new Int32Array([1, 2])).dtype).toBe("int32");
    expect(tensor(new Float32Array([1, 2])).dtype).toBe("float32");
    expect(tensor(new Float64Array([1.5, 2]), { dtype: "int32" }).toArray()).toEqual([1, 2]);
    expect(tensor(new Float64Array([1, 2, 3, 4]), { shape: [2, 2] }).shape).toEqual([2, 2]);
  });

  it("copies its input", () => {
    const source = new Float32Array([1, 2]);
    const t = tensor(source);
    source[0] = 9;
    expect(t.data[0]).toBe(1);
  });

  it("rejects ragged arrays, wrong sizes, non-numbers and unknown dtypes", () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(ShapeError);
    expect(() => tensor([[1, 2], 3] as never)).toThrow(/ragged/);
    expect(() => tensor([1, 2, 3], { shape: [2, 2] })).toThrow(
      /3 values cannot be laid out in shape \[2, 2\]/,
    );
    expect(() => tensor(["a"] as never)).toThrow(ChainruleError);
    expect(() => tensor([1], { dtype: "float16" as never })).toThrow(DTypeError);
    expect(() => tensor(null as never)).toThrow(ValueError);
  });

  it("refuses requiresGrad on int32 tensors", () => {
    expect(() => tensor([1, 2], { dtype: "int32", requiresGrad: true })).toThrow(DTypeError);
    const t = tensor([1, 2], { dtype: "int32" });
    expect(() => {
      t.requiresGrad = true;
    }).toThrow(/only float32 and float64 tensors can require grad/);
  });

  it("handles empty tensors", () => {
    const t = tensor([]);
    expect(t.shape).toEqual([0]);
    expect(t.size).toBe(0);
    expect(zeros([2, 0]).toArray()).toEqual([[], []]);
  });
});

describe("creation functions", () => {
  it("zeros, ones, full, eye", () => {
    expect(zeros([2, 2]).toArray()).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect(ones([3], { dtype: "int32" }).toArray()).toEqual([1, 1, 1]);
    expect(full([2], 7, { dtype: "float64" }).toArray()).toEqual([7, 7]);
    expect(eye(2, 3).toArray()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
    ]);
    expect(zeros([2], { requiresGrad: true }).requiresGrad).toBe(true);
  });

  it("arange and linspace", () => {
    expect(arange(4).toArray()).toEqual([0, 1, 2, 3]);
    expect(arange(1, 2, 0.25, { dtype: "float64" }).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(arange(3, 0, -1).toArray()).toEqual([3, 2, 1]);
    expect(linspace(0, 1, 5, { dtype: "float64" }).toArray()).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(linspace(2, 2, 1).toArray()).toEqual([2]);
    expect(() => arange(0, 1, 0)).toThrow(ValueError);
    expect(() => linspace(0, 1, -1)).toThrow(ValueError);
  });

  it("rand and randn are reproducible through seed()", () => {
    seed(42);
    const a = randn([5], { dtype: "float64" });
    const u = rand([5]);
    seed(42);
    const b = randn([5], { dtype: "float64" });
    const v = rand([5]);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(u.data)).toEqual(Array.from(v.data));
    for (const x of u.data) expect(x >= 0 && x < 1).toBe(true);
    seed(43);
    expect(Array.from(randn([5], { dtype: "float64" }).data)).not.toEqual(Array.from(a.data));
  });

  it("randn has mean ≈ 0 and variance ≈ 1", () => {
    seed(7);
    const x = randn([20000], { dtype: "float64" });
    const mean = x.mean().item();
    const variance = x.sub(mean).square().mean().item();
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });

  it("rejects bad shapes", () => {
    expect(() => zeros([-1])).toThrow(ShapeError);
    expect(() => zeros([1.5])).toThrow(ShapeError);
    expect(() => ones("3" as never)).toThrow(ShapeError);
  });
});

describe("Tensor", () => {
  it("item() needs exactly one element", () => {
    expect(tensor([[3]]).item()).toBe(3);
    expect(() => tensor([1, 2]).item()).toThrow(/only a tensor with one element/);
  });

  it("prints like PyTorch", () => {
    expect(tensor([1, 2, 3]).toString()).toBe("tensor([1., 2., 3.])");
    expect(
      tensor(
        [
          [1.5, -2],
          [3, 4],
        ],
        { dtype: "float64" },
      ).toString(),
    ).toBe("tensor([[ 1.5000, -2.0000],\n        [ 3.0000,  4.0000]], dtype=float64)");
    expect(tensor(2, { requiresGrad: true }).toString()).toBe("tensor(2., requiresGrad=true)");
    expect(tensor([1, 2], { dtype: "int32" }).toString()).toBe("tensor([1, 2], dtype=int32)");
    expect(tensor([1e-6, 1]).toString()).toBe("tensor([1.0000e-6, 1.0000e+0])");
    const x = tensor([1, 2], { requiresGrad: true });
    expect(x.mul(2).toString()).toBe("tensor([2., 4.], gradFn=mul)");
    expect(arange(2000).toString()).toContain("...");
  });

  it("detach() cuts the graph but shares the values", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.mul(3);
    const d = y.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.isLeaf).toBe(true);
    expect(d.data).toBe(y.data);
  });

  it("astype converts between dtypes and is differentiable between floats", () => {
    const x = tensor([1.7, -2.2], { requiresGrad: true });
    const y = x.astype("float64");
    expect(y.dtype).toBe("float64");
    y.mul(y).sum().backward();
    // d(Σ y²)/dx = 2x, returned in x's dtype (float32)
    expect(x.grad!.dtype).toBe("float32");
    expect(x.grad!.data[0]).toBeCloseTo(3.4, 5);
    expect(x.grad!.data[1]).toBeCloseTo(-4.4, 5);
    expect(x.astype("int32").toArray()).toEqual([1, -2]);
    expect(x.astype("int32").requiresGrad).toBe(false);
  });

  it("requiresGrad cannot be switched off on a computed tensor", () => {
    const x = tensor([1], { requiresGrad: true });
    const y = x.mul(2);
    expect(y.requiresGrad).toBe(true);
    expect(y.isLeaf).toBe(false);
    expect(() => {
      y.requiresGrad = false;
    }).toThrow(/use detach/);
  });

  it("is a plain object with no dispose", () => {
    const t = tensor([1]);
    expect(t).toBeInstanceOf(Tensor);
    expect((t as unknown as Record<string, unknown>).dispose).toBeUndefined();
  });
});
