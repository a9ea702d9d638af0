/**
 * Training curves as SVG (browser-safe, no dependencies): a line chart with an x axis (epochs), a left y axis
 * and an optional right y axis, each with "nice" ticks and labels, gridlines, a title and a legend. The
 * usual use is the training loss (left axis) and the dev F1 (right axis) per epoch:
 *
 * ```ts
 * const svg = trainingCurveSvg(history); // history: [{ epoch, loss, dev: { f1 } | null }, …]
 * ```
 */
import { ValueError } from "../errors.js";

/** One line of a chart. */
export interface CurveSeries {
  /** Shown in the legend. */
  name: string;
  /** One value per x position; null (or a non-finite number) leaves a gap. */
  values: readonly (number | null)[];
  /** The axis the values are read against (default "left"). */
  axis?: "left" | "right";
  /** A CSS colour (default: from a palette). */
  color?: string;
  /** Dashed line (default false). */
  dashed?: boolean;
}

export interface LineChartOptions {
  /** The x positions (e.g. epochs 1, 2, …), increasing. */
  x: readonly number[];
  series: readonly CurveSeries[];
  title?: string;
  xLabel?: string;
  leftLabel?: string;
  rightLabel?: string;
  /** Pixel size (default 640 × 400). */
  width?: number;
  height?: number;
  /** Force a range for an axis (default: from the data, widened to nice ticks). */
  leftRange?: [number, number];
  rightRange?: [number, number];
  /** Ticks on the x axis only at whole numbers (e.g. epochs). */
  integerX?: boolean;
  /** A vertical line marking one x position (e.g. the best epoch), labelled at the top of the plot. */
  marker?: { x: number; label: string };
}

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

/** Escapes text for SVG content and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** A "nice" number near `value` (1, 2 or 5 times a power of ten), rounded or taken as a ceiling. */
function niceNumber(value: number, round: boolean): number {
  const exponent = Math.floor(Math.log10(value));
  const fraction = value / 10 ** exponent;
  let nice: number;
  if (round) nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
  else nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * 10 ** exponent;
}

/**
 * Tick values covering [min, max] with about `count` steps of a nice size; the first and last ticks enclose
 * the range. Returns the ticks and the step.
 */
export function niceTicks(min: number, max: number, count = 5): { ticks: number[]; step: number } {
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    throw new ValueError(`niceTicks: the range must be finite, got [${min}, ${max}]`);
  }
  if (min > max) [min, max] = [max, min];
  // A range too narrow to tell apart from its magnitude (or empty) is widened around its centre, so that
  // the ticks stay a handful of representable numbers.
  const magnitude = Math.max(Math.abs(min), Math.abs(max));
  if (max - min <= magnitude * 1e-9) {
    const centre = (min + max) / 2;
    const pad = magnitude === 0 ? 1 : magnitude * 0.1;
    min = centre - pad;
    max = centre + pad;
  }
  const step = niceNumber(niceNumber(max - min, false) / Math.max(1, count), true);
  // Whole multiples of the step, counted by integers so that rounding errors cannot drop the last tick.
  const first = Math.floor(min / step + 1e-9);
  const last = Math.ceil(max / step - 1e-9);
  const ticks: number[] = [];
  for (let k = 0; k <= last - first && k <= 1000; k++) ticks.push(roundTo((first + k) * step, step));
  return { ticks, step };
}

function roundTo(value: number, step: number): number {
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  return Number(value.toFixed(Math.min(20, decimals)));
}

/** A tick label: as few decimals as the step needs. */
export function formatTick(value: number, step: number): string {
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const text = value.toFixed(Math.min(20, decimals));
  return text === "-0" ? "0" : text;
}

function finiteValues(series: readonly CurveSeries[], axis: "left" | "right"): number[] {
  const out: number[] = [];
  for (const s of series) {
    if ((s.axis ?? "left") !== axis) continue;
    for (const v of s.values) if (v !== null && Number.isFinite(v)) out.push(v);
  }
  return out;
}

function fmt(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/** A line chart as a standalone SVG document. */
export function lineChartSvg(options: LineChartOptions): string {
  const { x, series } = options;
  if (!Array.isArray(x) || x.length === 0)
    throw new ValueError("lineChartSvg: needs at least one x position");
  if (!x.every((v, i) => Number.isFinite(v) && (i === 0 || v > x[i - 1]!))) {
    throw new ValueError("lineChartSvg: the x positions must be finite and increasing");
  }
  if (!Array.isArray(series) || series.length === 0)
    throw new ValueError("lineChartSvg: needs at least one series");
  for (const s of series) {
    if (s.values.length !== x.length) {
      throw new ValueError(
        `lineChartSvg: the series ${JSON.stringify(s.name)} has ${s.values.length} values for ${x.length} x positions`,
      );
    }
  }
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  const hasRight = series.some((s) => s.axis === "right");
  const margin = { top: 48, right: hasRight ? 72 : 24, bottom: 76, left: 72 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  if (plotWidth <= 0 || plotHeight <= 0) throw new ValueError("lineChartSvg: the chart is too small");

  const axisTicks = (axis: "left" | "right", forced?: [number, number]) => {
    const values = forced ?? finiteValues(series, axis);
    if (values.length === 0) return niceTicks(0, 1);
    return niceTicks(Math.min(...values), Math.max(...values));
  };
  const left = axisTicks("left", options.leftRange);
  const right = hasRight ? axisTicks("right", options.rightRange) : null;
  const xMin = x[0]!;
  const xMax = x[x.length - 1]!;
  let xTicks = xMin === xMax ? { ticks: [xMin], step: 1 } : niceTicks(xMin, xMax, Math.min(10, x.length));
  if (options.integerX && xTicks.step < 1) {
    const ticks: number[] = [];
    for (let v = Math.floor(xMin); v <= Math.ceil(xMax); v++) ticks.push(v);
    xTicks = { ticks, step: 1 };
  }
  const xStart = xMin === xMax ? xMin - 1 : Math.min(xMin, xTicks.ticks[0]!);
  const xEnd = xMin === xMax ? xMax + 1 : Math.max(xMax, xTicks.ticks[xTicks.ticks.length - 1]!);
  const px = (v: number) => margin.left + ((v - xStart) / (xEnd - xStart)) * plotWidth;
  const scaleY = (ticks: number[]) => {
    const lo = ticks[0]!;
    const hi = ticks[ticks.length - 1]!;
    return (v: number) => margin.top + plotHeight - ((v - lo) / (hi - lo)) * plotHeight;
  };
  const leftY = scaleY(left.ticks);
  const rightY = right === null ? leftY : scaleY(right.ticks);

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="white"/>`);
  if (options.title) {
    parts.push(
      `<text x="${fmt(width / 2)}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
    );
  }
  // Gridlines and the left axis ticks.
  parts.push(`<g class="axis left">`);
  for (const tick of left.ticks) {
    const y = fmt(leftY(tick));
    parts.push(
      `<line x1="${margin.left}" y1="${y}" x2="${margin.left + plotWidth}" y2="${y}" stroke="#e5e5e5"/>`,
      `<line x1="${margin.left - 5}" y1="${y}" x2="${margin.left}" y2="${y}" stroke="black"/>`,
      `<text x="${margin.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatTick(tick, left.step)}</text>`,
    );
  }
  parts.push(`</g>`);
  if (right !== null) {
    parts.push(`<g class="axis right">`);
    const x0 = margin.left + plotWidth;
    for (const tick of right.ticks) {
      const y = fmt(rightY(tick));
      parts.push(
        `<line x1="${x0}" y1="${y}" x2="${x0 + 5}" y2="${y}" stroke="black"/>`,
        `<text x="${x0 + 8}" y="${y}" text-anchor="start" dominant-baseline="middle">${formatTick(tick, right.step)}</text>`,
      );
    }
    parts.push(`</g>`);
  }
  parts.push(`<g class="axis bottom">`);
  for (const tick of xTicks.ticks) {
    if (tick < xStart || tick > xEnd) continue;
    const xp = fmt(px(tick));
    const y0 = margin.top + plotHeight;
    parts.push(
      `<line x1="${xp}" y1="${y0}" x2="${xp}" y2="${y0 + 5}" stroke="black"/>`,
      `<text x="${xp}" y="${y0 + 18}" text-anchor="middle">${formatTick(tick, xTicks.step)}</text>`,
    );
  }
  parts.push(`</g>`);
  // The frame (axes lines).
  parts.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="black"/>`,
  );
  // Axis labels.
  if (options.xLabel) {
    parts.push(
      `<text x="${fmt(margin.left + plotWidth / 2)}" y="${height - 40}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    );
  }
  if (options.leftLabel) {
    const cy = fmt(margin.top + plotHeight / 2);
    parts.push(
      `<text x="18" y="${cy}" text-anchor="middle" transform="rotate(-90 18 ${cy})">${escapeXml(options.leftLabel)}</text>`,
    );
  }
  if (options.rightLabel && right !== null) {
    const cy = fmt(margin.top + plotHeight / 2);
    const cx = width - 14;
    parts.push(
      `<text x="${cx}" y="${cy}" text-anchor="middle" transform="rotate(90 ${cx} ${cy})">${escapeXml(options.rightLabel)}</text>`,
    );
  }
  // The series: polylines broken at gaps, with a marker at each point.
  series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length]!;
    const y = (s.axis ?? "left") === "right" ? rightY : leftY;
    parts.push(`<g class="series" data-name="${escapeXml(s.name)}">`);
    let run: string[] = [];
    const flush = () => {
      if (run.length > 1) {
        parts.push(
          `<polyline fill="none" stroke="${escapeXml(color)}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""} points="${run.join(" ")}"/>`,
        );
      }
      run = [];
    };
    s.values.forEach((v: number | null, i: number) => {
      if (v === null || !Number.isFinite(v)) {
        flush();
        return;
      }
      const point = `${fmt(px(x[i]!))},${fmt(y(v))}`;
      run.push(point);
      parts.push(`<circle cx="${fmt(px(x[i]!))}" cy="${fmt(y(v))}" r="3" fill="${escapeXml(color)}"/>`);
    });
    flush();
    parts.push(`</g>`);
  });
  // The marker: a vertical line at its x position, labelled above the plot.
  const marker = options.marker;
  if (marker !== undefined && Number.isFinite(marker.x) && marker.x >= xStart && marker.x <= xEnd) {
    const xp = fmt(px(marker.x));
    parts.push(
      `<g class="marker">`,
      `<line x1="${xp}" y1="${margin.top}" x2="${xp}" y2="${margin.top + plotHeight}" stroke="#2ca02c" stroke-width="1.5" stroke-dasharray="2 3"/>`,
      `<text x="${xp}" y="${margin.top - 6}" text-anchor="middle" fill="#2ca02c">${escapeXml(marker.label)}</text>`,
      `</g>`,
    );
  }
  // The legend: one row of entries centred under the plot, where it never hides a point.
  const entryWidths = series.map((s) => 38 + s.name.length * 7 + 16);
  const legendWidth = entryWidths.reduce((a, b) => a + b, 0);
  let legendX = Math.max(4, margin.left + plotWidth / 2 - legendWidth / 2);
  const legendY = height - 16;
  parts.push(`<g class="legend">`);
  series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length]!;
    parts.push(
      `<line x1="${fmt(legendX)}" y1="${legendY}" x2="${fmt(legendX + 24)}" y2="${legendY}" stroke="${escapeXml(color)}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`,
      `<text x="${fmt(legendX + 30)}" y="${legendY}" dominant-baseline="middle">${escapeXml(s.name)}</text>`,
    );
    legendX += entryWidths[k]!;
  });
  parts.push(`</g>`);
  parts.push(`</svg>`);
  return parts.join("\n") + "\n";
}

/** The per-epoch figures {@link trainingCurveSvg} plots. */
export interface CurvePoint {
  epoch: number;
  /** Mean training loss of the epoch. */
  loss: number;
  /** Dev scores (F1 in percent), or null. */
  dev?: { f1: number } | null;
}

/** Options of {@link trainingCurveSvg}. */
export interface TrainingCurveOptions {
  title?: string;
  width?: number;
  height?: number;
  f1Label?: string;
  /**
   * The F1 axis' range (default [0, 100]: the whole scale, so that a wobble of a point or two looks like
   * one). Scores outside it widen it.
   */
  f1Range?: [number, number];
  /** The epoch to mark as the best (default: the first with the highest dev F1; none without dev scores). */
  bestEpoch?: number | null;
}

/** The epoch of the highest dev F1 (the first one on a tie), or null without dev scores. */
export function bestEpochOf(history: readonly CurvePoint[]): number | null {
  let best: CurvePoint | null = null;
  for (const r of history) {
    if (r.dev && Number.isFinite(r.dev.f1) && (best === null || r.dev.f1 > best.dev!.f1)) best = r;
  }
  return best === null ? null : best.epoch;
}

/**
 * The training loss (left axis) and, when present, the dev F1 (right axis, 0–100 by default) per epoch,
 * with the best epoch marked.
 */
export function trainingCurveSvg(history: readonly CurvePoint[], options: TrainingCurveOptions = {}): string {
  if (!Array.isArray(history) || history.length === 0) {
    throw new ValueError("trainingCurveSvg: needs at least one epoch");
  }
  const series: CurveSeries[] = [
    { name: "train loss", values: history.map((r) => r.loss), color: PALETTE[0]! },
  ];
  const hasDev = history.some((r) => r.dev !== null && r.dev !== undefined);
  const f1Label = options.f1Label ?? "dev F1 (%)";
  if (hasDev) {
    series.push({
      name: f1Label,
      values: history.map((r) => (r.dev ? r.dev.f1 : null)),
      axis: "right",
      color: PALETTE[1]!,
      dashed: true,
    });
  }
  let rightRange: [number, number] | undefined;
  if (hasDev) {
    const [low, high] = options.f1Range ?? [0, 100];
    const scores = history.flatMap((r) => (r.dev && Number.isFinite(r.dev.f1) ? [r.dev.f1] : []));
    rightRange = [Math.min(low, ...scores), Math.max(high, ...scores)];
  }
  const bestEpoch = options.bestEpoch === undefined ? bestEpochOf(history) : options.bestEpoch;
  return lineChartSvg({
    x: history.map((r) => r.epoch),
    series,
    title: options.title ?? "Training",
    xLabel: "epoch",
    integerX: true,
    leftLabel: "mean training loss",
    ...(hasDev ? { rightLabel: f1Label, rightRange: rightRange! } : {}),
    ...(bestEpoch !== null ? { marker: { x: bestEpoch, label: `best: epoch ${bestEpoch}` } } : {}),
    ...(options.width !== undefined ? { width: options.width } : {}),
    ...(options.height !== undefined ? { height: options.height } : {}),
  });
}

/** The per-epoch figures as CSV (header line, then one line per epoch). */
export function trainingCurveCsv(
  history: readonly (CurvePoint & {
    lr?: number;
    examplesPerSecond?: number;
    seconds?: number;
    dev?: { f1: number; precision?: number; recall?: number; accuracy?: number } | null;
  })[],
): string {
  const lines = [
    "epoch,train_loss,dev_precision,dev_recall,dev_f1,dev_accuracy,lr,examples_per_second,seconds",
  ];
  const cell = (v: number | undefined | null) => (v === undefined || v === null ? "" : String(v));
  for (const r of history) {
    lines.push(
      [
        r.epoch,
        cell(r.loss),
        cell(r.dev?.precision),
        cell(r.dev?.recall),
        cell(r.dev?.f1),
        cell(r.dev?.accuracy),
        cell(r.lr),
        cell(r.examplesPerSecond),
        cell(r.seconds),
      ].join(","),
    );
  }
  return lines.join("\n") + "\n";
}
