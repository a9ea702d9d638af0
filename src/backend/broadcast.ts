import { broadcastStrides } from "../tensor/shape.js";

/** A broadcast binary operation reduced to as few dimensions as possible, with each operand's strides. */
export interface CollapsedBroadcast {
  shape: number[];
  aStrides: number[];
  bStrides: number[];
}

/**
 * Collapses the broadcast of shapes `aShape` and `bShape` to `outShape`: size-1 dimensions are dropped and
 * neighbouring dimensions that are contiguous in both operands are merged, so a bias add over [N, C] + [C]
 * becomes two dimensions whatever the rank. Broadcast dimensions have stride 0. Shared by every backend.
 */
export function collapseBroadcast(
  aShape: readonly number[],
  bShape: readonly number[],
  outShape: readonly number[],
): CollapsedBroadcast {
  const as = broadcastStrides(aShape, outShape);
  const bs = broadcastStrides(bShape, outShape);
  const shape: number[] = [];
  const aStrides: number[] = [];
  const bStrides: number[] = [];
  for (let d = 0; d < outShape.length; d++) {
    const dim = outShape[d]!;
    if (dim === 1) continue;
    const last = shape.length - 1;
    if (last >= 0 && aStrides[last] === as[d]! * dim && bStrides[last] === bs[d]! * dim) {
      shape[last] = shape[last]! * dim;
      aStrides[last] = as[d]!;
      bStrides[last] = bs[d]!;
    } else {
      shape.push(dim);
      aStrides.push(as[d]!);
      bStrides.push(bs[d]!);
    }
  }
  return { shape, aStrides, bStrides };
}
