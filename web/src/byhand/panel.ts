/**
 * The second tab: the same expression goes to `derive`, which works as the lecture does on paper (pieces →
 * local Jacobians with shapes → chain rule → simplified result with δ). The steps are typeset with KaTeX;
 * "Check" evaluates the symbolic gradients against chainrule's backprop and finite differences, here in the
 * page, and the generated TypeScript is shown.
 */
import { exampleButtons, field, h, messageOf, replace } from "../dom.js";
import { clearFieldErrors, expressionField, showFieldError } from "../expression-field.js";
import { formatNumber, formatValue } from "../format.js";
import { checkDerivation, derive, type Derivation, type NestedArray } from "../lib.js";
import {
  FieldError,
  locateError,
  parseFieldExpression,
  parseShapes,
  parseSizes,
  runBackprop,
} from "../backprop/model.js";
import { expressionVariables } from "../lib.js";
import type { Store } from "../state.js";
import { EXAMPLES } from "../backprop/panel.js";

type Katex = typeof import("katex").default;
let katexModule: Promise<Katex> | null = null;

function loadKatex(): Promise<Katex> {
  const loading =
    katexModule ??
    Promise.all([import("katex"), import("katex/dist/katex.min.css")]).then(([m]) => m.default);
  katexModule = loading;
  loading.catch(() => (katexModule = null));
  return loading;
}

function math(katex: Katex, latex: string, display = false): HTMLElement {
  const span = h("span", { class: display ? "math-display" : "math-inline" });
  katex.render(latex, span, { throwOnError: false, displayMode: display, output: "htmlAndMathml" });
  return span;
}

function shapeLatex(shape: string): string {
  return shape === "scalar" ? "\\text{scalar}" : shape.replace(/×/g, "\\times");
}

export function byHandPanel(store: Store): HTMLElement {
  const exprInput = expressionField("byhand-expr", store.state.expr);
  const wrtInput = h("input", {
    id: "byhand-wrt",
    type: "text",
    value: store.state.wrt,
    spellcheck: "false",
    autocomplete: "off",
    "data-field": "wrt",
  });
  const shapesInput = h("input", {
    id: "byhand-shapes",
    type: "text",
    value: store.state.shapes,
    spellcheck: "false",
    autocomplete: "off",
    "data-field": "shapes",
  });
  const sizesInput = h("input", {
    id: "byhand-sizes",
    type: "text",
    value: store.state.sizes,
    spellcheck: "false",
    autocomplete: "off",
    "data-field": "sizes",
  });
  const output = h("div", { class: "byhand-output", "aria-live": "polite" });
  let derivation: Derivation | null = null;

  const form = h(
    "form",
    {
      onsubmit: (event: Event) => {
        event.preventDefault();
        void run();
      },
    },
    exprInput.element,
    h(
      "div",
      { class: "row" },
      field("With respect to", wrtInput, "e.g. W, b (empty: every variable)"),
      field("Shapes", shapesInput, "e.g. W: n×m, x: m, b: n, u: n (undeclared: scalar)"),
      field("Sizes for the check", sizesInput, "e.g. n=3, m=4 (others: 3, 4, 2, …)"),
    ),
    h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, "Derive")),
  );

  function declaredShapes(variables: readonly string[]): Record<string, string> {
    const shapes: Record<string, string> = {};
    const declared = new Map<string, string>();
    parseShapes(shapesInput.value); // reports a malformed field
    for (const entry of shapesInput.value.split(/[,;]/)) {
      const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*[:=]\s*(.*?)\s*$/.exec(entry);
      if (match) declared.set(match[1]!, match[2]!);
    }
    for (const name of variables) shapes[name] = declared.get(name) ?? "scalar";
    return shapes;
  }

  async function run(): Promise<void> {
    clearFieldErrors(form);
    store.update({
      expr: exprInput.input.value,
      wrt: wrtInput.value,
      shapes: shapesInput.value,
      sizes: sizesInput.value,
    });
    derivation = null;
    try {
      const parsed = parseFieldExpression(exprInput.input.value);
      const variables = expressionVariables(parsed);
      const wrt = wrtInput.value.split(/[\s,;]+/).filter((w) => w !== "");
      for (const w of wrt) {
        if (!variables.includes(w))
          throw new FieldError(
            "wrt",
            `${w} does not occur in the expression (its variables: ${variables.join(", ")})`,
          );
      }
      try {
        derivation = derive(exprInput.input.value, {
          wrt: wrt.length > 0 ? wrt : variables,
          shapes: declaredShapes(variables),
        });
      } catch (error) {
        const { message, start, end } = locateError(messageOf(error));
        throw new FieldError(
          /shape/i.test(message) && start === null ? "shapes" : "expr",
          message,
          start,
          end,
        );
      }
      replace(output, h("p", { class: "loading" }, "Typesetting…"));
      const katex = await loadKatex();
      render(katex, derivation);
    } catch (error) {
      replace(output);
      if (error instanceof FieldError)
        showFieldError(form, error.field, error.message, error.start, error.end);
      else showFieldError(form, "expr", messageOf(error), null, null);
    }
  }

  function render(katex: Katex, d: Derivation): void {
    const checkResult = h("div", { class: "check-area", "aria-live": "polite" });
    const results = h(
      "section",
      { class: "derivation results-math", "aria-label": "Result" },
      h("h3", {}, "Result"),
      h("div", { class: "line" }, math(katex, `${d.output.name} = ${d.output.latex}`, true)),
      d.definitions.map((def) =>
        h(
          "div",
          { class: "line", "data-definition": def.name },
          math(
            katex,
            `${def.latex.startsWith(def.name) ? "" : ""}${latexName(def.name)} = ${def.latex} \\quad (${shapeLatex(def.shape)})`,
            true,
          ),
        ),
      ),
      Object.values(d.gradients).map((g) =>
        h(
          "div",
          { class: "line", "data-gradient": g.variable },
          math(katex, `${g.labelLatex} = ${g.latex} \\quad (${shapeLatex(g.shape)})`, true),
        ),
      ),
    );
    const steps = h(
      "section",
      { class: "derivation steps", "aria-label": "Steps" },
      h("h3", {}, "The steps"),
      h(
        "ol",
        {},
        d.steps.map((step) =>
          h(
            "li",
            {},
            h("strong", {}, step.title),
            step.lines.map((line) => h("div", { class: "line" }, math(katex, line.latex))),
          ),
        ),
      ),
    );
    const checkButton = h(
      "button",
      { type: "button", class: "primary", onclick: () => check(d, checkResult) },
      "Check against backprop and finite differences",
    );
    replace(
      output,
      results,
      h("div", { class: "buttons" }, checkButton),
      checkResult,
      steps,
      h(
        "details",
        {},
        h("summary", {}, "The generated TypeScript"),
        h(
          "pre",
          { class: "code", tabindex: "0", "aria-label": "Generated TypeScript" },
          h("code", {}, d.code),
        ),
      ),
    );
  }

  function check(d: Derivation, area: HTMLElement): void {
    try {
      const sizes = Object.fromEntries(parseSizes(sizesInput.value));
      const report = checkDerivation(d, { sizes });
      const sizeText = Object.entries(report.sizes)
        .map(([k, v]) => `${k} = ${v}`)
        .join(", ");
      const rows = report.variables.map((v) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, v.variable),
          h("td", {}, formatNumber(v.backprop)),
          h("td", {}, formatNumber(v.finiteDifference)),
        ),
      );
      replace(
        area,
        h(
          "div",
          {
            class: `check-report ${report.passed ? "passed" : "failed"}`,
            "data-check": report.passed ? "passed" : "failed",
          },
          h(
            "p",
            { class: "verdict" },
            report.passed
              ? "✓ The derivation agrees with backprop and finite differences"
              : "✗ The derivation disagrees",
          ),
          h(
            "p",
            {},
            `At random values${sizeText ? ` (${sizeText})` : ""}, float64: largest difference from backprop ${formatNumber(report.maxBackpropDifference)}, from finite differences ${formatNumber(report.maxFiniteDifference)}.`,
          ),
          h(
            "table",
            { class: "step-table" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { scope: "col" }, "variable"),
                h("th", { scope: "col" }, "vs backprop"),
                h("th", { scope: "col" }, "vs finite differences"),
              ),
            ),
            h("tbody", {}, rows),
          ),
          atYourValues(d),
        ),
      );
    } catch (error) {
      if (error instanceof FieldError)
        showFieldError(form, error.field, error.message, error.start, error.end);
      else
        replace(
          area,
          h("p", { class: "error", role: "alert" }, `The check failed to run: ${messageOf(error)}`),
        );
    }
  }

  /** The symbolic gradients at the values of the first tab, beside backprop's. */
  function atYourValues(d: Derivation): HTMLElement | null {
    if (store.state.at.trim() === "") return null;
    try {
      const run = runBackprop(d.expression, store.state.at, store.state.shapes, store.state.sizes);
      const values: Record<string, NestedArray> = Object.fromEntries(run.values);
      const evaluated = d.evaluate(values);
      const items = Object.entries(evaluated.gradients).map(([name, t]) => {
        const leaf = run.nodes.find((n) => n.node.op === "leaf" && n.name === name);
        const symbolic = t.shape.length === 0 ? formatNumber(t.item()) : `[${t.shape.join("×")}]`;
        const backprop = t.shape.length === 0 ? formatValue(leaf?.node.grad ?? null) : "";
        return h(
          "li",
          {},
          `∂${d.output.name}/∂${name}: by hand ${symbolic}${backprop ? `, by backprop ${backprop}` : ""}`,
        );
      });
      return h(
        "div",
        {},
        h("p", {}, `At the values of the first tab (${store.state.at}):`),
        h("ul", {}, items),
      );
    } catch {
      return null;
    }
  }

  const examples = exampleButtons(
    "Examples",
    [
      ...EXAMPLES.slice(0, 2),
      {
        label: "Softmax cross-entropy",
        expr: "lse(W*x) - y'*(W*x)",
        shapes: "W: c×d, x: d, y: c",
        sizes: "",
        at: "",
      },
      { label: "A quadratic form", expr: "x'*A*x", shapes: "A: n×n, x: n", sizes: "", at: "" },
    ],
    (example) => {
      exprInput.input.value = example.expr;
      shapesInput.value = example.shapes;
      sizesInput.value = example.sizes;
      wrtInput.value = "";
      store.update({ at: example.at });
      void run();
    },
  );

  const panel = h(
    "div",
    { class: "byhand" },
    h("h2", {}, "Gradients by hand"),
    h(
      "p",
      { class: "intro" },
      "Break the expression into simple pieces, write each local Jacobian with its shape, chain them, simplify and name the error signal δ; then check the result against backpropagation and finite differences.",
    ),
    examples,
    form,
    output,
  );
  void run();
  return panel;
}

function latexName(name: string): string {
  return name === "δ" ? "\\delta" : name;
}
