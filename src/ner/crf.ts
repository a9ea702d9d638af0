/**
 * Sentence-level training of the window network (Collobert et al. 2011, "sentence-level log-likelihood"): a
 * linear-chain conditional random field whose per-token scores (emissions) are the window network's outputs.
 *
 * For a sentence of T tokens with emission scores E ∈ R^{T×K} (row t: the window network's K tag scores for
 * token t), learned transition scores A ∈ R^{K×K} (A[i, j]: tag i followed by tag j), start scores s ∈ R^K and
 * end scores e ∈ R^K, a tag path y = (y₀, …, y_{T−1}) scores
 *
 *     score(y) = s[y₀] + Σ_t E[t, y_t] + Σ_{t≥1} A[y_{t−1}, y_t] + e[y_{T−1}]
 *
 * and the model's probability of the gold path is p(y) = exp(score(y)) / Z with Z = Σ_{y'} exp(score(y'))
 * over every path. The loss is J = log Z − score(y_gold). Z comes from the forward algorithm, and the gradient
 * from forward–backward: ∂J/∂E[t, j] = P(y_t = j) − [y_t = j], ∂J/∂A[i, j] = Σ_t P(y_{t−1} = i, y_t = j) −
 * (gold count of i → j), ∂J/∂s = P(y₀) − onehot(y₀), ∂J/∂e = P(y_{T−1}) − onehot(y_{T−1}): expected counts
 * minus observed counts. Decoding takes the best path (Viterbi).
 *
 * Transitions a tag scheme forbids (`I-PER` after `O` in IOB2) can be masked out: their score is −∞ in
 * training and decoding alike, so the model never spends probability on impossible paths.
 *
 * {@link crfNegativeLogLikelihood} is a differentiable function of its tensor inputs built from public ops:
 * the fused forward–backward pass ({@link crfForwardBackward}) computes the loss and its gradients in double
 * precision, and the result is expressed as J = c + Σ E ∘ G_E + Σ A ∘ G_A + Σ s ∘ G_s + Σ e ∘ G_e with the
 * gradients G and the constant c = J − Σ E ∘ G_E − … held fixed. Its value is J and its gradient is exactly the
 * forward–backward one, at the cost of one product and one sum per input (second derivatives through it are
 * not available: G is a constant to the graph).
 */
import { ShapeError, ValueError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { add, mul, sum } from "../ops/index.js";
import type { TransitionTable } from "./decode.js";

/** The learned scores of a linear-chain CRF over K tags, as flat row-major arrays. */
export interface CrfScores {
  /** K. */
  readonly size: number;
  /** [K × K]: transitions[i * K + j] scores tag i followed by tag j. */
  readonly transitions: ArrayLike<number>;
  /** [K]: the score of a sentence starting with each tag. */
  readonly start: ArrayLike<number>;
  /** [K]: the score of a sentence ending with each tag. */
  readonly end: ArrayLike<number>;
  /** Optional constraints: a transition, start or end not allowed here scores −∞. */
  readonly allowed?: TransitionTable | null;
}

/** The loss and gradients of {@link crfForwardBackward} (summed over the sentences). */
export interface CrfForwardBackward {
  /** Σ over sentences of log Z − score(gold path). */
  loss: number;
  /** [rows × K] ∂J/∂E: tag marginals minus the gold tags' one-hot rows. */
  emissions: Float64Array;
  /** [K × K] ∂J/∂A: expected minus gold transition counts. */
  transitions: Float64Array;
  /** [K] ∂J/∂s. */
  start: Float64Array;
  /** [K] ∂J/∂e. */
  end: Float64Array;
  /** [rows × K] P(y_t = j): each token's tag marginals. */
  marginals: Float64Array;
}

function checkScores(scores: CrfScores, where: string): void {
  const { size } = scores;
  if (!Number.isInteger(size) || size <= 0) {
    throw new ValueError(`${where}: the tag count must be a positive integer, got ${String(size)}`);
  }
  if (scores.transitions.length !== size * size) {
    throw new ShapeError(
      `${where}: transitions must have ${size} × ${size} = ${size * size} values, got ${scores.transitions.length}`,
    );
  }
  if (scores.start.length !== size || scores.end.length !== size) {
    throw new ShapeError(
      `${where}: start and end scores must have ${size} values each, got ${scores.start.length} and ${scores.end.length}`,
    );
  }
  if (scores.allowed != null && scores.allowed.size !== size) {
    throw new ShapeError(
      `${where}: the allowed-transition table is for ${scores.allowed.size} tags, the scores for ${size}`,
    );
  }
}

function checkOffsets(offsets: ArrayLike<number>, rows: number, where: string): void {
  if (offsets.length < 1 || offsets[0] !== 0 || offsets[offsets.length - 1] !== rows) {
    throw new ValueError(
      `${where}: sentence offsets must run from 0 to the ${rows} emission rows, got [${offsets[0]}, …, ${offsets[offsets.length - 1]}]`,
    );
  }
  for (let s = 1; s < offsets.length; s++) {
    if (!(offsets[s]! >= offsets[s - 1]!)) {
      throw new ValueError(`${where}: sentence offsets must not decrease (offset ${s} is ${offsets[s]})`);
    }
  }
}

/** exp(x − shift) of each value, 0 where `mask` forbids it; returns the shift (the largest allowed value). */
function expShifted(values: ArrayLike<number>, mask: Uint8Array | null, out: Float64Array): number {
  let shift = -Infinity;
  for (let i = 0; i < out.length; i++)
    if ((mask === null || mask[i] === 1) && values[i]! > shift) shift = values[i]!;
  if (shift === -Infinity) shift = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = mask === null || mask[i] === 1 ? Math.exp(values[i]! - shift) : 0;
  }
  return shift;
}

/**
 * The CRF loss J = Σ_sentences (log Z − score(gold)) and its gradient with respect to the emissions,
 * transitions, start and end scores, by the forward–backward algorithm in scaled probability space (each
 * forward vector normalised to sum 1, log Z = Σ log of the normalisers), in double precision.
 *
 * `emissions` is [rows × K] row-major; sentence s is rows offsets[s] … offsets[s + 1] − 1; `tags` holds the
 * gold tag id of every row. With `tags` null there is no gold path: `loss` is Σ log Z and the gradients are
 * the expected counts alone (the marginals of {@link crfMarginals}).
 */
export function crfForwardBackward(
  emissions: ArrayLike<number>,
  offsets: ArrayLike<number>,
  tags: ArrayLike<number> | null,
  scores: CrfScores,
): CrfForwardBackward {
  const where = "crfForwardBackward";
  checkScores(scores, where);
  const K = scores.size;
  if (emissions.length % K !== 0) {
    throw new ShapeError(`${where}: ${emissions.length} emission scores are not rows of ${K} tags`);
  }
  const rows = emissions.length / K;
  checkOffsets(offsets, rows, where);
  if (tags !== null && tags.length !== rows) {
    throw new ShapeError(`${where}: ${rows} emission rows but ${tags.length} tags`);
  }
  const allowed = scores.allowed ?? null;
  // M = exp(A − a), S = exp(s − σ), F = exp(e − ε): forbidden entries are 0.
  const M = new Float64Array(K * K);
  const S = new Float64Array(K);
  const F = new Float64Array(K);
  const transitionShift = expShifted(scores.transitions, allowed?.allowed ?? null, M);
  const startShift = expShifted(scores.start, allowed?.start ?? null, S);
  const endShift = expShifted(scores.end, allowed?.end ?? null, F);

  const dE = new Float64Array(rows * K);
  const marginals = new Float64Array(rows * K);
  const dA = new Float64Array(K * K);
  const dStart = new Float64Array(K);
  const dEnd = new Float64Array(K);
  let loss = 0;

  let capacity = 0;
  let e = new Float64Array(0); // exp(E_t − max_t), per row of the sentence
  let alpha = new Float64Array(0); // scaled forward vectors â_t
  let beta = new Float64Array(0); // scaled backward vectors b̂_t
  let norms = new Float64Array(0); // c_0 … c_T

  for (let s = 0; s + 1 < offsets.length; s++) {
    const first = offsets[s]!;
    const T = offsets[s + 1]! - first;
    if (T === 0) continue;
    if (T > capacity) {
      capacity = Math.max(T, 2 * capacity);
      e = new Float64Array(capacity * K);
      alpha = new Float64Array(capacity * K);
      beta = new Float64Array(capacity * K);
      norms = new Float64Array(capacity + 1);
    }
    // The gold path's score (log space) and a check that the constraints allow it.
    let gold = 0;
    for (let t = 0; t < T && tags !== null; t++) {
      const y = tags[first + t]!;
      if (!Number.isInteger(y) || y < 0 || y >= K) {
        throw new ValueError(`${where}: tag id ${y} at row ${first + t} is outside [0, ${K})`);
      }
      gold += emissions[(first + t) * K + y]!;
      if (t === 0) {
        if (allowed !== null && allowed.start[y] === 0) throw forbidden(where, s, "start with", y);
        gold += scores.start[y]!;
      } else {
        const previous = tags[first + t - 1]!;
        if (allowed !== null && allowed.allowed[previous * K + y] === 0) {
          throw forbidden(where, s, `follow tag ${previous} with`, y);
        }
        gold += scores.transitions[previous * K + y]!;
      }
      if (t === T - 1) {
        if (allowed !== null && allowed.end[y] === 0) throw forbidden(where, s, "end with", y);
        gold += scores.end[y]!;
      }
    }
    // Emission factors e_t(j) = exp(E[t, j] − max_j E[t, j]).
    let logZ = startShift + endShift + (T - 1) * transitionShift;
    for (let t = 0; t < T; t++) {
      const row = (first + t) * K;
      let max = -Infinity;
      for (let j = 0; j < K; j++) max = Math.max(max, emissions[row + j]!);
      if (!Number.isFinite(max)) {
        throw new ValueError(`${where}: the emission scores of row ${first + t} are not finite`);
      }
      logZ += max;
      for (let j = 0; j < K; j++) e[t * K + j] = Math.exp(emissions[row + j]! - max);
    }
    // Forward: a_0(j) = S(j) e_0(j); a_t(j) = Σ_i â_{t−1}(i) M(i, j) e_t(j); â_t = a_t / c_t.
    let c = 0;
    for (let j = 0; j < K; j++) {
      const v = S[j]! * e[j]!;
      alpha[j] = v;
      c += v;
    }
    norms[0] = c;
    for (let j = 0; j < K; j++) alpha[j]! /= c;
    for (let t = 1; t < T; t++) {
      const previous = (t - 1) * K;
      const current = t * K;
      c = 0;
      for (let j = 0; j < K; j++) {
        let total = 0;
        for (let i = 0; i < K; i++) total += alpha[previous + i]! * M[i * K + j]!;
        const v = total * e[current + j]!;
        alpha[current + j] = v;
        c += v;
      }
      norms[t] = c;
      for (let j = 0; j < K; j++) alpha[current + j]! /= c;
    }
    // The end: c_T = Σ_j â_{T−1}(j) F(j).
    const last = (T - 1) * K;
    c = 0;
    for (let j = 0; j < K; j++) c += alpha[last + j]! * F[j]!;
    norms[T] = c;
    for (let t = 0; t <= T; t++) logZ += Math.log(norms[t]!);
    if (!Number.isFinite(logZ)) {
      throw new ValueError(`${where}: sentence ${s} has no path with a finite score (log Z = ${logZ})`);
    }
    loss += logZ - gold;

    // Backward: b̂_{T−1}(j) = F(j) / c_T; b̂_t(i) = Σ_j M(i, j) e_{t+1}(j) b̂_{t+1}(j) / c_{t+1}.
    for (let j = 0; j < K; j++) beta[last + j] = F[j]! / norms[T]!;
    for (let t = T - 2; t >= 0; t--) {
      const current = t * K;
      const next = (t + 1) * K;
      const scale = norms[t + 1]!;
      for (let i = 0; i < K; i++) {
        let total = 0;
        for (let j = 0; j < K; j++) total += M[i * K + j]! * e[next + j]! * beta[next + j]!;
        beta[current + i] = total / scale;
      }
    }
    // Marginals γ_t(j) = â_t(j) b̂_t(j); pair marginals ξ_t(i, j) = â_{t−1}(i) M(i, j) e_t(j) b̂_t(j) / c_t.
    for (let t = 0; t < T; t++) {
      const row = (first + t) * K;
      for (let j = 0; j < K; j++) {
        const g = alpha[t * K + j]! * beta[t * K + j]!;
        marginals[row + j] = g;
        dE[row + j] = g;
      }
      if (tags !== null) dE[row + tags[first + t]!]! -= 1;
      if (t > 0) {
        const previous = (t - 1) * K;
        const scale = norms[t]!;
        for (let i = 0; i < K; i++) {
          const a = alpha[previous + i]! / scale;
          if (a === 0) continue;
          for (let j = 0; j < K; j++) dA[i * K + j]! += a * M[i * K + j]! * e[t * K + j]! * beta[t * K + j]!;
        }
        if (tags !== null) dA[tags[first + t - 1]! * K + tags[first + t]!]! -= 1;
      }
    }
    const firstRow = first * K;
    const lastRow = (first + T - 1) * K;
    for (let j = 0; j < K; j++) {
      dStart[j]! += marginals[firstRow + j]!;
      dEnd[j]! += marginals[lastRow + j]!;
    }
    if (tags !== null) {
      dStart[tags[first]!]! -= 1;
      dEnd[tags[first + T - 1]!]! -= 1;
    }
  }
  return { loss, emissions: dE, transitions: dA, start: dStart, end: dEnd, marginals };
}

/** P(y_t = j) for every row of the [rows × K] emissions under the CRF (sentences as in crfForwardBackward). */
export function crfMarginals(
  emissions: ArrayLike<number>,
  offsets: ArrayLike<number>,
  scores: CrfScores,
): Float64Array {
  return crfForwardBackward(emissions, offsets, null, scores).marginals;
}

function forbidden(where: string, sentence: number, what: string, tag: number): ValueError {
  return new ValueError(
    `${where}: the gold tags of sentence ${sentence} ${what} tag ${tag}, which the transition constraints forbid`,
  );
}

/** The tensors of a CRF layer: transitions [K, K], start [K] and end [K] scores. */
export interface CrfParameters {
  /** Scores of moving from tag i to tag j, shape [tags, tags]. */
  transitions: Tensor;
  /** Scores of starting a sentence with each tag, shape [tags]. */
  start: Tensor;
  /** Scores of ending a sentence with each tag, shape [tags]. */
  end: Tensor;
}

export interface CrfLossOptions {
  /** Transitions the tag scheme allows (the others score −∞); default: all allowed. */
  allowed?: TransitionTable | null;
  /** "mean" (default): the summed loss divided by the number of tokens; "sum": summed over sentences. */
  reduction?: "mean" | "sum";
}

function checkCrfTensor(t: unknown, name: string, shape: readonly number[], dtype: string): Tensor {
  if (!(t instanceof Tensor)) throw new ValueError(`crfNegativeLogLikelihood: ${name} must be a Tensor`);
  if (t.shape.length !== shape.length || t.shape.some((n, i) => n !== shape[i])) {
    throw new ShapeError(
      `crfNegativeLogLikelihood: ${name} must have shape [${shape.join(", ")}], got [${t.shape.join(", ")}]`,
    );
  }
  if (t.dtype !== dtype) {
    throw new ValueError(`crfNegativeLogLikelihood: ${name} is ${t.dtype} but the emissions are ${dtype}`);
  }
  return t;
}

/**
 * The sentence-level negative log-likelihood of the gold tags as a differentiable scalar tensor: emissions
 * [rows, K] (the window network's scores for each token of the sentences, one after another), the CRF's
 * parameters, the gold tag ids [rows] and the sentence offsets [sentences + 1]. Gradients flow to the
 * emissions (and through them to the window network) and to the transition, start and end scores.
 */
export function crfNegativeLogLikelihood(
  emissions: Tensor,
  parameters: CrfParameters,
  tags: ArrayLike<number>,
  offsets: ArrayLike<number>,
  options: CrfLossOptions = {},
): Tensor {
  if (!(emissions instanceof Tensor) || emissions.ndim !== 2) {
    throw new ShapeError(
      `crfNegativeLogLikelihood: emissions must be a [rows, tags] tensor, got ${emissions instanceof Tensor ? `[${emissions.shape.join(", ")}]` : typeof emissions}`,
    );
  }
  const [rows, K] = emissions.shape as [number, number];
  const dtype = emissions.dtype;
  if (dtype !== "float32" && dtype !== "float64") {
    throw new ValueError(`crfNegativeLogLikelihood: emissions must be float32 or float64, got ${dtype}`);
  }
  const transitions = checkCrfTensor(parameters?.transitions, "transitions", [K, K], dtype);
  const start = checkCrfTensor(parameters.start, "start", [K], dtype);
  const end = checkCrfTensor(parameters.end, "end", [K], dtype);
  const reduction = options.reduction ?? "mean";
  if (reduction !== "mean" && reduction !== "sum") {
    throw new ValueError(
      `crfNegativeLogLikelihood: reduction must be "mean" or "sum", got ${String(reduction)}`,
    );
  }
  const result = crfForwardBackward(emissions.data, offsets, tags, {
    size: K,
    transitions: transitions.data,
    start: start.data,
    end: end.data,
    allowed: options.allowed ?? null,
  });
  const scale = reduction === "mean" ? 1 / Math.max(1, rows) : 1;
  const FloatArray = dtype === "float64" ? Float64Array : Float32Array;
  // J = c + Σ E ∘ G_E + Σ A ∘ G_A + Σ s ∘ G_s + Σ e ∘ G_e, with c chosen so that the value is J.
  const parts: [Tensor, Float64Array][] = [
    [emissions, result.emissions],
    [transitions, result.transitions],
    [start, result.start],
    [end, result.end],
  ];
  let constant = result.loss * scale;
  let total: Tensor | null = null;
  for (const [input, gradient] of parts) {
    const g = new FloatArray(gradient.length);
    let dot = 0;
    const values = input.data;
    for (let i = 0; i < gradient.length; i++) {
      g[i] = gradient[i]! * scale;
      dot += values[i]! * g[i]!;
    }
    constant -= dot;
    if (!input.requiresGrad) continue;
    const term = sum(mul(input, new Tensor(g, input.shape, dtype)));
    total = total === null ? term : add(total, term);
  }
  const c = new Tensor(FloatArray.of(constant), [], dtype);
  return total === null ? c : add(total, c);
}

/**
 * The best tag path of one sentence: rows `first … first + length − 1` of the [rows × K] emissions, under the
 * CRF's transition, start and end scores (and constraints, when given). Returns the tag ids.
 */
export function crfViterbi(
  emissions: ArrayLike<number>,
  first: number,
  length: number,
  scores: CrfScores,
): Int32Array {
  checkScores(scores, "crfViterbi");
  const K = scores.size;
  const out = new Int32Array(length);
  if (length === 0) return out;
  const allowed = scores.allowed ?? null;
  const transition = (i: number, j: number) =>
    allowed !== null && allowed.allowed[i * K + j] === 0 ? -Infinity : scores.transitions[i * K + j]!;
  let best = new Float64Array(K);
  let nextBest = new Float64Array(K);
  const back = new Int32Array(length * K);
  for (let j = 0; j < K; j++) {
    best[j] =
      allowed !== null && allowed.start[j] === 0 ? -Infinity : scores.start[j]! + emissions[first * K + j]!;
  }
  for (let t = 1; t < length; t++) {
    const row = (first + t) * K;
    for (let j = 0; j < K; j++) {
      let top = -Infinity;
      let arg = 0;
      for (let i = 0; i < K; i++) {
        const value = best[i]! + transition(i, j);
        if (value > top) {
          top = value;
          arg = i;
        }
      }
      nextBest[j] = top + emissions[row + j]!;
      back[t * K + j] = arg;
    }
    [best, nextBest] = [nextBest, best];
  }
  let top = -Infinity;
  let arg = 0;
  for (let j = 0; j < K; j++) {
    const value = allowed !== null && allowed.end[j] === 0 ? -Infinity : best[j]! + scores.end[j]!;
    if (value > top) {
      top = value;
      arg = j;
    }
  }
  for (let t = length - 1; t >= 0; t--) {
    out[t] = arg;
    arg = back[t * K + arg]!;
  }
  return out;
}
