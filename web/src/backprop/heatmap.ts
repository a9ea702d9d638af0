/** A small heatmap of a vector or matrix: blue for negative, red for positive, white at zero. */
import { s } from "../dom.js";
import { asMatrix, formatNumber } from "../format.js";
import type { NestedArray } from "../lib.js";

function colour(v: number, scale: number): string {
  if (!Number.isFinite(v)) return "#888";
  const t = scale === 0 ? 0 : Math.max(-1, Math.min(1, v / scale));
  // Interpolate white → red (#c0392b) or white → blue (#2c6fbb).
  const [r, g, b] = t >= 0 ? [192, 57, 43] : [44, 111, 187];
  const a = Math.abs(t);
  const mix = (c: number) => Math.round(255 + (c - 255) * a);
  return `rgb(${mix(r)}, ${mix(g)}, ${mix(b)})`;
}

/**
 * An SVG heatmap at most `maxWidth` × `maxHeight` pixels; each cell's value is in its tooltip. Vectors are
 * drawn as columns (the lecture's convention), unless `row` is set.
 */
export function heatmap(
  value: NestedArray,
  label: string,
  options: { maxWidth?: number; maxHeight?: number; row?: boolean } = {},
): SVGSVGElement {
  const matrix = asMatrix(value);
  const data = matrix.data;
  let { rows, cols } = matrix;
  if (options.row && cols === 1) [rows, cols] = [cols, rows];
  const maxWidth = options.maxWidth ?? 64;
  const maxHeight = options.maxHeight ?? 64;
  const cell = Math.max(
    2,
    Math.min(14, Math.floor(maxWidth / Math.max(1, cols)), Math.floor(maxHeight / Math.max(1, rows))),
  );
  const scale = data.reduce((m, v) => (Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 0);
  const min = Math.min(...data);
  const max = Math.max(...data);
  const svg = s("svg", {
    class: "heatmap",
    width: cols * cell,
    height: rows * cell,
    viewBox: `0 0 ${cols * cell} ${rows * cell}`,
    role: "img",
    "aria-label": `${label}: ${rows} × ${cols}, from ${formatNumber(min)} to ${formatNumber(max)}`,
  });
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = data[r * cols + c]!;
      svg.appendChild(
        s(
          "rect",
          { x: c * cell, y: r * cell, width: cell, height: cell, fill: colour(v, scale) },
          s(
            "title",
            {},
            `${label}[${rows > 1 && cols > 1 ? `${r + 1}, ${c + 1}` : r * cols + c + 1}] = ${formatNumber(v)}`,
          ),
        ),
      );
    }
  }
  svg.appendChild(
    s("rect", {
      x: 0,
      y: 0,
      width: cols * cell,
      height: rows * cell,
      fill: "none",
      stroke: "#999",
      "stroke-width": 1,
    }),
  );
  return svg;
}
