// The derivatives of the activations a compiled step's backward pass runs (src/compile/lowering.ts), with
// WebAssembly SIMD on float32 arrays at byte addresses. Each rounds to float32 exactly where the eager rule's
// ops store a float32 tensor (every f32x4 operation rounds once), so that they give the eager gradient's bits.

/** out = g ∘ (1 − y²), y = tanh(x): the rule's y·y, 1 − that and g · that, each rounded to float32. */
export function tanhBackwardF32(y: usize, g: usize, out: usize, n: i32): void {
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = (<usize>i) << 2;
    const t = v128.load(y + at);
    v128.store(out + at, f32x4.mul(v128.load(g + at), f32x4.sub(one, f32x4.mul(t, t))));
  }
  for (; i < n; i++) {
    const at = (<usize>i) << 2;
    const t = load<f32>(y + at);
    store<f32>(out + at, load<f32>(g + at) * (<f32>1 - t * t));
  }
}

/** out = g ∘ y(1 − y), y = σ(x): the rule's 1 − y, y · that and g · that, each rounded to float32. */
export function sigmoidBackwardF32(y: usize, g: usize, out: usize, n: i32): void {
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const at = (<usize>i) << 2;
    const s = v128.load(y + at);
    v128.store(out + at, f32x4.mul(v128.load(g + at), f32x4.mul(s, f32x4.sub(one, s))));
  }
  for (; i < n; i++) {
    const at = (<usize>i) << 2;
    const s = load<f32>(y + at);
    store<f32>(out + at, load<f32>(g + at) * (s * (<f32>1 - s)));
  }
}
