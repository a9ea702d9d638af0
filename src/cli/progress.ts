/**
 * A progress bar for long loops (an epoch of training): on a terminal it redraws one line in place, at most
 * every `interval` ms, with the fraction done, the rate, the loss and the estimated time left; elsewhere (a
 * pipe, a file, or with --quiet) it prints nothing while running, and callers print one plain line at the end.
 *
 * Hand-written rather than cli-progress: the line is a pure function of (label, done, total, fields, width)
 * that tests check character by character, the clock is injected (redraws are throttled and testable without
 * timers), nothing at all is written off a terminal, and `clear()` hands the line over to the per-epoch lines;
 * with cli-progress the same needs a custom format, a stream shim and its own timer, for one bar.
 */

/** Where the bar is drawn: a stream with `write`, and `isTTY` / `columns` when it is a terminal. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Draw in place (default: the stream is a terminal). */
  live?: boolean;
  /** Minimum milliseconds between redraws (default 100). */
  interval?: number;
  /** Clock in milliseconds (default `performance.now`). */
  now?: () => number;
}

/** Seconds as `m:ss` (or `h:mm:ss`). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

/** An integer with thousands separators. */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/** One line of a progress bar for `done` of `total` items. */
export function renderProgressLine(
  label: string,
  done: number,
  total: number,
  fields: { rate?: number; loss?: number; seconds?: number },
  width = 80,
): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 0;
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const parts: string[] = [];
  if (fields.rate !== undefined && fields.rate > 0) parts.push(`${formatCount(fields.rate)} ex/s`);
  if (fields.loss !== undefined && Number.isFinite(fields.loss)) parts.push(`loss ${fields.loss.toFixed(4)}`);
  if (fields.rate !== undefined && fields.rate > 0)
    parts.push(`ETA ${formatDuration((total - done) / fields.rate)}`);
  const tail = ` ${percent} ${parts.join("  ")}`;
  const barWidth = Math.max(10, Math.min(40, width - label.length - tail.length - 4));
  // Rounded down, so that the bar is full only when the work is done (99.9 % is not a full bar).
  const filled = Math.floor(fraction * barWidth);
  const bar = "=".repeat(Math.max(0, filled - 1)) + (filled > 0 ? (filled === barWidth ? "=" : ">") : "");
  return `${label} [${bar.padEnd(barWidth)}]${tail}`;
}

/** A single in-place progress line. */
export class ProgressBar {
  private readonly stream: ProgressStream;
  readonly live: boolean;
  private readonly interval: number;
  private readonly now: () => number;
  private lastDraw = -Infinity;
  private drawn = false;

  constructor(stream: ProgressStream, options: ProgressOptions = {}) {
    this.stream = stream;
    this.live = options.live ?? stream.isTTY === true;
    this.interval = options.interval ?? 100;
    this.now = options.now ?? (() => performance.now());
  }

  /** Redraws the line (throttled; `force` draws now). Does nothing when not live. */
  update(
    label: string,
    done: number,
    total: number,
    fields: { rate?: number; loss?: number; seconds?: number } = {},
    force = false,
  ): void {
    if (!this.live) return;
    const time = this.now();
    if (!force && time - this.lastDraw < this.interval && done < total) return;
    this.lastDraw = time;
    const width = Math.max(40, (this.stream.columns ?? 80) - 1);
    this.stream.write(`\r${renderProgressLine(label, done, total, fields, width)}\x1b[K`);
    this.drawn = true;
  }

  /** Clears the line (on a terminal) so that a plain line can take its place. */
  clear(): void {
    if (this.live && this.drawn) this.stream.write("\r\x1b[K");
    this.drawn = false;
    this.lastDraw = -Infinity;
  }
}
