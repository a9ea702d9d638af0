import { describe, expect, it } from "vitest";
import { ProgressBar, formatCount, formatDuration, renderProgressLine } from "../../src/cli/progress.js";

function stream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, isTTY, columns: 100, write: (text: string) => writes.push(text) };
}

describe("progress bar", () => {
  it("renders the fraction done, the rate, the loss and the time left", () => {
    // 500 of 2,000 examples at 250 examples/s: 25 %, 1,500 left ⇒ 6 s.
    const line = renderProgressLine("epoch 1/3", 500, 2000, { rate: 250, loss: 0.12345 }, 100);
    expect(line).toMatch(/^epoch 1\/3 \[=+> +\] {2}25% 250 ex\/s {2}loss 0\.1235 {2}ETA 0:06$/);
    expect(renderProgressLine("e", 2000, 2000, { rate: 1000 }, 100)).toMatch(
      /\[=+\] 100% 1,000 ex\/s {2}ETA 0:00$/,
    );
    expect(renderProgressLine("e", 0, 10, {}, 60)).toMatch(/^e \[ +\] {3}0% $/);
  });

  it("shows a full bar only when the work is done", () => {
    for (const width of [40, 60, 80, 100, 200]) {
      for (const done of [950, 990, 999]) {
        const line = renderProgressLine("epoch 1/1", done, 1000, {}, width);
        expect(line, `${done} at width ${width}`).toMatch(/\[=*> *\]|\[=* +\]/);
        expect(line).not.toMatch(/\[=+\]/);
      }
      expect(renderProgressLine("epoch 1/1", 1000, 1000, {}, width)).toMatch(/\[=+\] 100%/);
    }
  });

  it("redraws in place on a terminal, throttled, and prints nothing elsewhere", () => {
    let time = 0;
    const terminal = stream(true);
    const bar = new ProgressBar(terminal, { now: () => time, interval: 100 });
    bar.update("epoch 1/1", 1, 10, { rate: 10 });
    time = 50;
    bar.update("epoch 1/1", 2, 10, { rate: 10 });
    time = 150;
    bar.update("epoch 1/1", 3, 10, { rate: 10 });
    expect(terminal.writes).toHaveLength(2);
    expect(terminal.writes.every((w) => w.startsWith("\r") && w.endsWith("\x1b[K"))).toBe(true);
    bar.clear();
    expect(terminal.writes.at(-1)).toBe("\r\x1b[K");

    const pipe = stream(false);
    const quiet = new ProgressBar(pipe);
    quiet.update("epoch 1/1", 5, 10, { rate: 10 }, true);
    quiet.clear();
    expect(pipe.writes).toEqual([]);
    expect(new ProgressBar(stream(true), { live: false }).live).toBe(false);
  });

  it("formats durations and counts", () => {
    expect(formatDuration(0)).toBe("0:00");
    expect(formatDuration(75)).toBe("1:15");
    expect(formatDuration(3725)).toBe("1:02:05");
    expect(formatDuration(Infinity)).toBe("--:--");
    expect(formatCount(203621)).toBe("203,621");
  });
});
