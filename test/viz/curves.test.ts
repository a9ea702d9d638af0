import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ValueError } from "../../src/index.js";
import {
  bestEpochOf,
  escapeXml,
  formatTick,
  lineChartSvg,
  niceTicks,
  trainingCurveCsv,
  trainingCurveSvg,
} from "../../src/viz/curves.js";

interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

/**
 * A strict reader for the XML subset an SVG file uses (elements, attributes in double quotes, text, the five
 * predefined entities); throws on anything malformed: unbalanced or crossed tags, duplicate attributes,
 * unescaped `<` or `&`.
 */
function parseXml(source: string): XmlElement {
  let i = 0;
  const fail = (message: string): never => {
    throw new Error(`${message} at offset ${i}: ${JSON.stringify(source.slice(i, i + 40))}`);
  };
  const checkText = (text: string) => {
    if (/&(?!(amp|lt|gt|quot|apos);)/.test(text)) fail("bare &");
    if (text.includes("<")) fail("bare <");
  };
  const skipSpace = () => {
    while (i < source.length && /\s/.test(source[i]!)) i++;
  };
  const name = () => {
    const match = /^[A-Za-z_][\w.-]*/.exec(source.slice(i));
    if (!match) fail("expected a name");
    i += match![0].length;
    return match![0];
  };
  const element = (): XmlElement => {
    if (source[i] !== "<") fail("expected <");
    i++;
    const tag = name();
    const attributes: Record<string, string> = {};
    for (;;) {
      skipSpace();
      if (source.startsWith("/>", i)) {
        i += 2;
        return { name: tag, attributes, children: [], text: "" };
      }
      if (source[i] === ">") {
        i++;
        break;
      }
      const attribute = name();
      if (attribute in attributes) fail(`duplicate attribute ${attribute}`);
      if (source[i] !== "=" || source[i + 1] !== '"') fail('expected ="');
      const end = source.indexOf('"', i + 2);
      if (end < 0) fail("unterminated attribute");
      const value = source.slice(i + 2, end);
      checkText(value);
      attributes[attribute] = value;
      i = end + 1;
    }
    const children: XmlElement[] = [];
    let text = "";
    for (;;) {
      const next = source.indexOf("<", i);
      if (next < 0) fail(`unclosed <${tag}>`);
      const chunk = source.slice(i, next);
      checkText(chunk);
      text += chunk;
      i = next;
      if (source.startsWith("</", i)) {
        i += 2;
        const closing = name();
        if (closing !== tag) fail(`</${closing}> closes <${tag}>`);
        skipSpace();
        if (source[i] !== ">") fail("expected >");
        i++;
        return { name: tag, attributes, children, text };
      }
      children.push(element());
    }
  };
  skipSpace();
  const root = element();
  skipSpace();
  if (i !== source.length) fail("content after the root element");
  return root;
}

function all(root: XmlElement, name: string): XmlElement[] {
  const out: XmlElement[] = [];
  const visit = (e: XmlElement) => {
    if (e.name === name) out.push(e);
    e.children.forEach(visit);
  };
  visit(root);
  return out;
}

function unescape(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

const HISTORY = [
  {
    epoch: 1,
    loss: 0.47,
    dev: { f1: 30.7, precision: 34.6, recall: 27.5, accuracy: 90 },
    lr: 0.1,
    examplesPerSecond: 5388,
    seconds: 6,
  },
  {
    epoch: 2,
    loss: 0.35,
    dev: { f1: 34.4, precision: 36.7, recall: 32.4, accuracy: 91 },
    lr: 0.1,
    examplesPerSecond: 7790,
    seconds: 4.1,
  },
  {
    epoch: 3,
    loss: 0.32,
    dev: { f1: 38.4, precision: 39.1, recall: 37.8, accuracy: 92 },
    lr: 0.1,
    examplesPerSecond: 10962,
    seconds: 2.9,
  },
  {
    epoch: 4,
    loss: 0.29,
    dev: { f1: 42.1, precision: 41.4, recall: 42.8, accuracy: 93 },
    lr: 0.1,
    examplesPerSecond: 12975,
    seconds: 2.5,
  },
];

describe("trainingCurveSvg", () => {
  it("is a well-formed SVG document with axes, ticks, labels and a legend", () => {
    const svg = trainingCurveSvg(HISTORY, { title: "Loss & F1 <test>" });
    const root = parseXml(svg);
    expect(root.name).toBe("svg");
    expect(root.attributes.xmlns).toBe("http://www.w3.org/2000/svg");
    const texts = all(root, "text").map((t) => unescape(t.text));
    expect(texts).toContain("Loss & F1 <test>");
    expect(texts).toEqual(
      expect.arrayContaining(["epoch", "mean training loss", "dev F1 (%)", "train loss"]),
    );
    // x ticks at each epoch; left ticks enclose the losses; right ticks enclose the F1 values.
    for (const epoch of ["1", "2", "3", "4"]) expect(texts).toContain(epoch);
    const groups = all(root, "g");
    const tickValues = (cls: string) =>
      all(
        groups.find((g) => g.attributes.class === cls)!,
        "text",
      ).map((t) => Number(t.text));
    const left = tickValues("axis left");
    expect(Math.min(...left)).toBeLessThanOrEqual(0.29);
    expect(Math.max(...left)).toBeGreaterThanOrEqual(0.47);
    const right = tickValues("axis right");
    expect(Math.min(...right)).toBeLessThanOrEqual(30.7);
    expect(Math.max(...right)).toBeGreaterThanOrEqual(42.1);
    // Two series, each a polyline through one point per epoch, and a legend entry for each.
    const series = groups.filter((g) => g.attributes.class === "series");
    expect(series.map((g) => g.attributes["data-name"])).toEqual(["train loss", "dev F1 (%)"]);
    const legend = groups.find((g) => g.attributes.class === "legend")!;
    expect(all(legend, "text").map((t) => t.text)).toEqual(["train loss", "dev F1 (%)"]);
    for (const g of series) {
      expect(all(g, "circle")).toHaveLength(4);
      expect(all(g, "polyline")[0]!.attributes.points!.split(" ")).toHaveLength(4);
    }
  });

  it("places points by value: a falling loss goes down the page, a rising F1 goes up", () => {
    const root = parseXml(trainingCurveSvg(HISTORY));
    const [loss, f1] = all(root, "g").filter((g) => g.attributes.class === "series");
    const ys = (g: XmlElement) => all(g, "circle").map((c) => Number(c.attributes.cy));
    const xs = (g: XmlElement) => all(g, "circle").map((c) => Number(c.attributes.cx));
    // SVG's y grows downwards: a smaller loss has a larger y.
    expect(ys(loss!)).toEqual([...ys(loss!)].sort((a, b) => a - b));
    expect(ys(f1!)).toEqual([...ys(f1!)].sort((a, b) => b - a));
    expect(xs(loss!)).toEqual([...xs(loss!)].sort((a, b) => a - b));
    // Equal steps in epochs are equal steps in x.
    const x = xs(loss!);
    expect(x[2]! - x[1]!).toBeCloseTo(x[1]! - x[0]!, 1);
  });

  it("draws the F1 axis over 0–100, so that noise looks like noise, and marks the best epoch", () => {
    // Dev F1 between 63 and 68: the axis still spans 0–100 (a zoomed 63–68 axis makes a point look like ten).
    const noisy = [65.1, 67.9, 63.2, 66.4].map((f1, i) => ({
      epoch: i + 1,
      loss: 0.5 - i * 0.05,
      dev: { f1 },
    }));
    const root = parseXml(trainingCurveSvg(noisy));
    const groups = all(root, "g");
    const right = all(
      groups.find((g) => g.attributes.class === "axis right")!,
      "text",
    ).map((t) => Number(t.text));
    expect(Math.min(...right)).toBe(0);
    expect(Math.max(...right)).toBe(100);
    // The best epoch (2, F1 67.9) is marked by a vertical line at its x, labelled.
    const marker = groups.find((g) => g.attributes.class === "marker")!;
    expect(all(marker, "text")[0]!.text).toBe("best: epoch 2");
    const f1Points = all(groups.filter((g) => g.attributes.class === "series")[1]!, "circle");
    expect(Number(all(marker, "line")[0]!.attributes.x1)).toBeCloseTo(Number(f1Points[1]!.attributes.cx), 1);
    expect(bestEpochOf(noisy)).toBe(2);
    // A chosen range and a chosen (or no) marker; no marker without dev scores.
    const zoomed = parseXml(trainingCurveSvg(noisy, { f1Range: [60, 70], bestEpoch: null }));
    const zoomedGroups = all(zoomed, "g");
    expect(zoomedGroups.some((g) => g.attributes.class === "marker")).toBe(false);
    const zoomedRight = all(
      zoomedGroups.find((g) => g.attributes.class === "axis right")!,
      "text",
    ).map((t) => Number(t.text));
    expect(Math.min(...zoomedRight)).toBe(60);
    const lossOnly = parseXml(trainingCurveSvg(noisy.map((r) => ({ ...r, dev: null }))));
    expect(all(lossOnly, "g").some((g) => g.attributes.class === "marker")).toBe(false);
  });

  it("plots the loss alone without a dev set, and a single epoch", () => {
    const root = parseXml(trainingCurveSvg([{ epoch: 1, loss: 0.5, dev: null }]));
    expect(all(root, "g").filter((g) => g.attributes.class === "series")).toHaveLength(1);
    expect(all(root, "g").some((g) => g.attributes.class === "axis right")).toBe(false);
  });

  it("leaves gaps for missing values and refuses bad input", () => {
    const root = parseXml(
      lineChartSvg({ x: [1, 2, 3, 4], series: [{ name: "a", values: [1, null, 3, 4] }] }),
    );
    expect(all(root, "polyline")).toHaveLength(1);
    expect(all(root, "circle")).toHaveLength(3);
    expect(() => trainingCurveSvg([])).toThrow(ValueError);
    expect(() => lineChartSvg({ x: [2, 1], series: [{ name: "a", values: [1, 2] }] })).toThrow(/increasing/);
    expect(() => lineChartSvg({ x: [1, 2], series: [{ name: "a", values: [1] }] })).toThrow(
      /1 values for 2 x positions/,
    );
  });

  it("stays well formed for any names and values", () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.array(fc.option(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { nil: null }), {
          minLength: 1,
          maxLength: 12,
        }),
        (name, values) => {
          const svg = lineChartSvg({
            x: values.map((_, i) => i + 1),
            series: [{ name, values }],
            title: name,
          });
          expect(() => parseXml(svg)).not.toThrow();
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("ticks", () => {
  it("chooses nice steps (1, 2 or 5 times a power of ten) that enclose the range", () => {
    expect(niceTicks(0, 1)).toEqual({ ticks: [0, 0.2, 0.4, 0.6, 0.8, 1], step: 0.2 });
    expect(niceTicks(30.7, 42.1).ticks).toEqual([30, 35, 40, 45]);
    fc.assert(
      fc.property(
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: 1e-3, max: 1e6, noNaN: true }),
        (low, width) => {
          const { ticks, step } = niceTicks(low, low + width);
          const mantissa = step / 10 ** Math.floor(Math.log10(step));
          expect([1, 2, 5, 10].some((m) => Math.abs(mantissa - m) < 1e-9)).toBe(true);
          expect(ticks[0]!).toBeLessThanOrEqual(low + step * 1e-6);
          expect(ticks[ticks.length - 1]!).toBeGreaterThanOrEqual(low + width - step * 1e-6);
          expect(ticks.length).toBeLessThanOrEqual(13);
        },
      ),
    );
  });

  it("labels ticks with the decimals the step needs", () => {
    expect(formatTick(0.4, 0.2)).toBe("0.4");
    expect(formatTick(30, 2)).toBe("30");
    expect(formatTick(0.05, 0.05)).toBe("0.05");
    expect(formatTick(-0, 1)).toBe("0");
  });

  it("escapes text for XML", () => {
    expect(escapeXml(`a<b & "c" 'd'>`)).toBe("a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
  });
});

describe("trainingCurveCsv", () => {
  it("writes one line per epoch under a header", () => {
    const csv = trainingCurveCsv(HISTORY.slice(0, 2)).trimEnd().split("\n");
    expect(csv[0]).toBe(
      "epoch,train_loss,dev_precision,dev_recall,dev_f1,dev_accuracy,lr,examples_per_second,seconds",
    );
    expect(csv[1]).toBe("1,0.47,34.6,27.5,30.7,90,0.1,5388,6");
    expect(trainingCurveCsv([{ epoch: 1, loss: 0.5, dev: null }]).split("\n")[1]).toBe("1,0.5,,,,,,,");
  });
});

describe("epoch axis", () => {
  it("puts ticks at whole epochs only", () => {
    const root = parseXml(trainingCurveSvg(HISTORY.slice(0, 3)));
    const bottom = all(root, "g").find((g) => g.attributes.class === "axis bottom")!;
    expect(all(bottom, "text").map((t) => t.text)).toEqual(["1", "2", "3"]);
  });
});

describe("degenerate ranges", () => {
  it("widens a range too narrow for its magnitude instead of making millions of ticks", () => {
    for (const [low, high] of [
      [1e6, 1e6 + 1e-10],
      [5, 5],
      [0, 0],
      [-1e300, -1e300],
    ] as const) {
      const { ticks } = niceTicks(low, high);
      expect(ticks.length, `${low}`).toBeGreaterThan(1);
      expect(ticks.length).toBeLessThan(15);
      expect(ticks[0]!).toBeLessThanOrEqual(low);
      expect(ticks[ticks.length - 1]!).toBeGreaterThanOrEqual(high);
    }
  });
});
