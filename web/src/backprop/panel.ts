/**
 * The first tab: type an expression, see its computation graph laid out left to right with every node's
 * forward value, then step backward one node at a time in reverse topological order. The current node shows
 * its upstream gradient, its local gradient for each input and the downstream gradient it sends
 * (downstream = upstream × local); where a value is used twice, the page shows the sum (`y: 3 + 2 = 5`).
 */
import { exampleButtons, field, h, messageOf, replace, s } from "../dom.js";
import { formatValue, isScalarValue } from "../format.js";
import type { NestedArray } from "../lib.js";
import type { Store } from "../state.js";
import { heatmap } from "./heatmap.js";
import { layoutGraph } from "./layout.js";
import {
  FieldError,
  runBackprop,
  valueToText,
  valuesFor,
  type BackpropRun,
  type GraphNode,
} from "./model.js";
import { expressionField, showFieldError, clearFieldErrors } from "../expression-field.js";

export const EXAMPLES: { label: string; expr: string; at: string; shapes: string; sizes: string }[] = [
  {
    label: "The lecture: (x + y) · max(y, z)",
    expr: "(x + y) * max(y, z)",
    at: "x=1, y=2, z=0",
    shapes: "",
    sizes: "",
  },
  {
    label: "A neural layer: s = uᵀ tanh(Wx + b)",
    expr: "u' * tanh(W*x + b)",
    at: "",
    shapes: "W: n×m, x: m, b: n, u: n",
    sizes: "n=3, m=4",
  },
  {
    label: "A sigmoid neuron",
    expr: "sigmoid(w0*x0 + w1*x1 + w2)",
    at: "w0=2, x0=-1, w1=-3, x1=-2, w2=-3",
    shapes: "",
    sizes: "",
  },
];

/** What the backward pass has done after `k` steps. */
interface StepState {
  /** Per node: the contributions that have arrived, as [from node, value]. */
  arrived: Map<number, { from: number; value: NestedArray }[]>;
  /** Nodes whose gradient is complete. */
  complete: Set<number>;
}

function stateAfter(run: BackpropRun, k: number): StepState {
  const { trace } = run;
  const arrived = new Map<number, { from: number; value: NestedArray }[]>();
  const complete = new Set<number>();
  if (k > 0) complete.add(trace.output);
  const pending = new Map<number, number>();
  for (const node of trace.nodes) {
    for (const input of node.inputs) pending.set(input, (pending.get(input) ?? 0) + 1);
  }
  const gradientFlows = new Set(trace.nodes.filter((n) => n.grad !== null).map((n) => n.id));
  for (const step of trace.steps.slice(0, k)) {
    const node = trace.nodes[step.node]!;
    node.inputs.forEach((input, i) => {
      const value = step.downstream[i];
      const left = (pending.get(input) ?? 1) - 1;
      pending.set(input, left);
      if (value === null || value === undefined) return;
      const list = arrived.get(input) ?? [];
      list.push({ from: step.node, value });
      arrived.set(input, list);
      if (left === 0 && gradientFlows.has(input)) complete.add(input);
    });
  }
  return { arrived, complete };
}

function gradientText(run: BackpropRun, node: GraphNode, state: StepState): string | null {
  const id = node.node.id;
  const label = `∂${run.outputName}/∂${node.name}`;
  if (id === run.trace.output)
    return state.complete.has(id) ? `${label} = ${formatValue(run.trace.seed)}` : null;
  const arrived = state.arrived.get(id) ?? [];
  if (arrived.length === 0) return null;
  if (!isScalarValue(node.node.value)) return state.complete.has(id) ? label : `${label} (partial)`;
  const parts = arrived.map((a) => formatValue(a.value));
  if (!state.complete.has(id)) return `${label} = ${parts.join(" + ")} + …`;
  if (parts.length === 1) return `${label} = ${parts[0]}`;
  return `${label} = ${parts.join(" + ")} = ${formatValue(node.node.grad)}`;
}

function nodeSize(node: GraphNode, finalGradient: string | null): { width: number; height: number } {
  const title = node.formula && node.formula !== node.name ? `${node.name} = ${node.formula}` : node.name;
  if (isScalarValue(node.node.value)) {
    const text = Math.max(8 * title.length + 28, 7 * (finalGradient ?? "").length + 24);
    return { width: Math.max(96, Math.min(260, text)), height: 62 };
  }
  const shape = ` [${node.node.shape.join("×")}]`;
  return { width: Math.max(150, Math.min(300, 8 * (title.length + shape.length) + 24)), height: 112 };
}

export function backpropPanel(store: Store): HTMLElement {
  const state = store.state;
  const exprInput = expressionField("backprop-expr", state.expr);
  const atInput = h("input", {
    id: "backprop-at",
    "data-field": "at",
    type: "text",
    value: state.at,
    spellcheck: "false",
    autocomplete: "off",
  });
  const shapesInput = h("input", {
    id: "backprop-shapes",
    "data-field": "shapes",
    type: "text",
    value: state.shapes,
    spellcheck: "false",
    autocomplete: "off",
  });
  const sizesInput = h("input", {
    id: "backprop-sizes",
    "data-field": "sizes",
    type: "text",
    value: state.sizes,
    spellcheck: "false",
    autocomplete: "off",
  });
  const note = h("p", { class: "note", "aria-live": "polite" });
  const graphArea = h("div", {
    class: "graph",
    tabindex: "0",
    role: "region",
    "aria-label": "Computation graph",
  });
  const stepInfo = h("section", {
    class: "step-info",
    "aria-live": "polite",
    "aria-label": "Current backward step",
  });
  const results = h("section", { class: "results", "aria-label": "Gradients" });
  const status = h("span", { class: "status", id: "step-status" });

  let run: BackpropRun | null = null;
  let k = 0;
  let renderToken = 0;

  const resetButton = h("button", { type: "button", onclick: () => go(0) }, "Reset");
  const backButton = h("button", { type: "button", onclick: () => go(k - 1) }, "◀ Step back");
  const stepButton = h("button", { type: "button", class: "primary", onclick: () => go(k + 1) }, "Step ▶");
  const endButton = h(
    "button",
    { type: "button", onclick: () => go(run?.trace.steps.length ?? 0) },
    "Run to the end ▶▶",
  );
  const controls = h(
    "div",
    { class: "controls", role: "group", "aria-label": "Backward pass" },
    resetButton,
    backButton,
    stepButton,
    endButton,
    status,
  );

  function go(target: number): void {
    if (!run) return;
    k = Math.max(0, Math.min(run.trace.steps.length, target));
    store.update({ step: k });
    void render();
  }

  function build(): void {
    clearFieldErrors(form);
    const expr = exprInput.input.value;
    store.update({ expr, at: atInput.value, shapes: shapesInput.value, sizes: sizesInput.value });
    try {
      run = runBackprop(expr, atInput.value, shapesInput.value, sizesInput.value);
      k = Math.min(store.state.step, run.trace.steps.length);
      note.textContent =
        run.random.length > 0
          ? `Random values (seed 1) for ${run.random.join(", ")}: ${run.random.map((n) => `${n} = ${valueToText(run!.values.get(n)!)}`).join("; ")}. Type values to change them.`
          : "";
      void render();
    } catch (error) {
      run = null;
      replace(graphArea);
      replace(stepInfo);
      replace(results);
      status.textContent = "";
      updateButtons();
      if (error instanceof FieldError) {
        showFieldError(form, error.field, error.message, error.start, error.end);
      } else showFieldError(form, "expr", messageOf(error), null, null);
    }
  }

  function randomValues(): void {
    clearFieldErrors(form);
    try {
      const { values } = valuesFor(
        exprInput.input.value,
        "",
        shapesInput.value,
        sizesInput.value,
        Date.now() % 100000,
      );
      atInput.value = [...values].map(([name, v]) => `${name}=${valueToText(v)}`).join(", ");
      build();
    } catch (error) {
      if (error instanceof FieldError)
        showFieldError(form, error.field, error.message, error.start, error.end);
      else showFieldError(form, "expr", messageOf(error), null, null);
    }
  }

  function updateButtons(): void {
    const total = run?.trace.steps.length ?? 0;
    resetButton.disabled = !run || k === 0;
    backButton.disabled = !run || k === 0;
    stepButton.disabled = !run || k >= total;
    endButton.disabled = !run || k >= total;
    status.textContent = run
      ? k === 0
        ? `forward pass done; ${total} backward steps`
        : `backward step ${k} of ${total}`
      : "";
  }

  async function render(): Promise<void> {
    if (!run) return;
    const current = run;
    const token = ++renderToken;
    updateButtons();
    const stepState = stateAfter(current, k);
    renderStep(current, stepState);
    renderResults(current, stepState);
    try {
      const finalState = stateAfter(current, current.trace.steps.length);
      const sizes = current.nodes.map((n) => ({
        id: n.node.id,
        ...nodeSize(n, gradientText(current, n, finalState)),
      }));
      const edges: [number, number][] = current.nodes.flatMap((n) =>
        n.node.inputs.map((i) => [i, n.node.id] as [number, number]),
      );
      if (!graphArea.firstChild) replace(graphArea, h("p", { class: "loading" }, "Laying out the graph…"));
      const layout = await layoutGraph(sizes, edges);
      if (token !== renderToken) return;
      renderGraph(current, stepState, layout, sizes);
    } catch (error) {
      if (token !== renderToken) return;
      replace(
        graphArea,
        h("p", { class: "error", role: "alert" }, `The graph could not be laid out: ${messageOf(error)}`),
      );
    }
  }

  function currentStepNode(current: BackpropRun): number | null {
    return k > 0 ? current.trace.steps[k - 1]!.node : null;
  }

  function renderGraph(
    current: BackpropRun,
    stepState: StepState,
    layout: Awaited<ReturnType<typeof layoutGraph>>,
    sizes: { id: number; width: number; height: number }[],
  ): void {
    const active = currentStepNode(current);
    const svg = s("svg", {
      class: "edges",
      width: layout.width,
      height: layout.height,
      "aria-hidden": "true",
    });
    const marker = (id: string, fill: string) =>
      s(
        "marker",
        {
          id,
          viewBox: "0 0 10 10",
          refX: "9",
          refY: "5",
          markerWidth: "7",
          markerHeight: "7",
          orient: "auto",
        },
        s("path", { d: "M0,0 L10,5 L0,10 z", fill }),
      );
    svg.appendChild(s("defs", {}, marker("arrow", "#666"), marker("arrow-active", "#d35400")));
    for (const n of current.nodes) {
      n.node.inputs.forEach((input) => {
        const edge = layout.edges.get(`${input}->${n.node.id}`);
        if (!edge) return;
        const isActive = n.node.id === active;
        svg.appendChild(
          s("path", {
            d: edge.path,
            class: isActive ? "edge active" : "edge",
            "marker-end": `url(#${isActive ? "arrow-active" : "arrow"})`,
          }),
        );
        // Gradients that have flowed back along this edge, under it (the lecture's red numbers).
        const sent = (stepState.arrived.get(input) ?? []).find((a) => a.from === n.node.id);
        if (sent && isScalarValue(sent.value)) {
          svg.appendChild(
            s(
              "text",
              { x: edge.mid.x, y: edge.mid.y + 14, class: "edge-grad", "text-anchor": "middle" },
              formatValue(sent.value),
            ),
          );
        }
      });
    }
    const layer = h(
      "div",
      { class: "graph-canvas", style: `width:${layout.width}px;height:${layout.height}px` },
      svg,
    );
    for (const n of current.nodes) {
      const centre = layout.centres.get(n.node.id);
      const size = sizes.find((x) => x.id === n.node.id)!;
      if (!centre) continue;
      const grad = gradientText(current, n, stepState);
      const classes = ["node", n.node.op === "leaf" ? "leaf" : n.node.op === "constant" ? "constant" : "op"];
      if (n.node.id === active) classes.push("active");
      if (n.node.id === current.trace.output) classes.push("output");
      const scalar = isScalarValue(n.node.value);
      const title = n.formula && n.formula !== n.name ? `${n.name} = ${n.formula}` : n.name;
      const gradientValue = stepState.complete.has(n.node.id) ? n.node.grad : null;
      layer.appendChild(
        h(
          "div",
          {
            class: classes.join(" "),
            "data-node": n.name,
            style: `left:${centre.x - size.width / 2}px;top:${centre.y - size.height / 2}px;width:${size.width}px;height:${size.height}px`,
          },
          h(
            "div",
            { class: "node-title" },
            title,
            scalar ? null : h("span", { class: "shape" }, ` [${n.node.shape.join("×")}]`),
          ),
          scalar
            ? [
                h("div", { class: "node-value" }, formatValue(n.node.value)),
                h("div", { class: "node-grad" }, grad ?? " "),
              ]
            : h(
                "div",
                { class: "node-maps" },
                h(
                  "figure",
                  {},
                  heatmap(n.node.value, `${n.name}`, { maxWidth: 60, maxHeight: 60 }),
                  h("figcaption", {}, "value"),
                ),
                h(
                  "figure",
                  {},
                  gradientValue !== null
                    ? heatmap(gradientValue, `∂${current.outputName}/∂${n.name}`, {
                        maxWidth: 60,
                        maxHeight: 60,
                      })
                    : h("div", { class: "empty-map" }),
                  h("figcaption", {}, "gradient"),
                ),
              ),
        ),
      );
    }
    const scrollLeft = graphArea.scrollLeft;
    replace(graphArea, layer);
    graphArea.scrollLeft = scrollLeft;
    const activeElement = layer.querySelector<HTMLElement>(".node.active");
    if (activeElement) {
      const left = activeElement.offsetLeft;
      const right = left + activeElement.offsetWidth;
      if (left < graphArea.scrollLeft || right > graphArea.scrollLeft + graphArea.clientWidth) {
        graphArea.scrollLeft = Math.max(0, left - graphArea.clientWidth / 2 + activeElement.offsetWidth / 2);
      }
    }
  }

  function valueCell(value: NestedArray | null | undefined, label: string): HTMLElement {
    if (value === null || value === undefined) return h("span", {}, "—");
    if (isScalarValue(value)) return h("span", { class: "num" }, formatValue(value));
    return h("span", { class: "map-cell" }, heatmap(value, label, { maxWidth: 90, maxHeight: 90 }));
  }

  function renderStep(current: BackpropRun, stepState: StepState): void {
    if (k === 0) {
      replace(
        stepInfo,
        h("h3", {}, "Forward pass"),
        h(
          "p",
          {},
          `Every node is computed after its inputs; ${current.outputName} = `,
          h("strong", {}, formatValue(current.trace.nodes[current.trace.output]!.value)),
          ".",
        ),
        h(
          "p",
          {},
          "Press ",
          h("strong", {}, "Step"),
          ` to start the backward pass from ∂${current.outputName}/∂${current.outputName} = 1.`,
        ),
      );
      return;
    }
    const step = current.trace.steps[k - 1]!;
    const node = current.nodes[step.node]!;
    const upstreamLabel = `∂${current.outputName}/∂${node.name}`;
    const rows = node.node.inputs.map((input, i) => {
      const inputNode = current.nodes[input]!;
      const local = step.local[i];
      const down = step.downstream[i];
      let localCell: HTMLElement;
      if (local === null || local === undefined) localCell = h("span", {}, "no gradient (a constant)");
      else if (local.kind === "description")
        localCell = h(
          "span",
          { class: "description" },
          local.text,
          h("small", {}, ` (${local.shape.join("×")})`),
        );
      else if (isScalarValue(local.value)) localCell = h("span", { class: "num" }, formatValue(local.value));
      else
        localCell = h(
          "span",
          { class: "map-cell" },
          heatmap(local.value, `∂${node.name}/∂${inputNode.name}`, { maxWidth: 90, maxHeight: 90 }),
          h("small", {}, ` ${local.shape.join("×")}`),
        );
      const downText =
        isScalarValue(step.upstream) &&
        local?.kind === "jacobian" &&
        isScalarValue(local.value) &&
        isScalarValue(down ?? null)
          ? `${formatValue(step.upstream)} × ${formatValue(local.value)} = ${formatValue(down ?? null)}`
          : null;
      return h(
        "tr",
        {},
        h("th", { scope: "row" }, inputNode.name),
        h("td", {}, localCell),
        h(
          "td",
          {},
          downText !== null
            ? h("span", { class: "num" }, downText)
            : valueCell(down, `downstream to ${inputNode.name}`),
        ),
      );
    });
    replace(
      stepInfo,
      h(
        "h3",
        {},
        `Step ${k}: node ${node.name}`,
        node.formula && node.formula !== node.name ? ` = ${node.formula}` : "",
      ),
      h(
        "p",
        {},
        "upstream ",
        h("span", { class: "math" }, upstreamLabel),
        " = ",
        valueCell(step.upstream, upstreamLabel),
      ),
      h(
        "table",
        { class: "step-table" },
        h("caption", {}, "downstream = upstream × local"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "input"),
            h("th", { scope: "col" }, `local ∂${node.name}/∂input`),
            h("th", { scope: "col" }, "downstream"),
          ),
        ),
        h("tbody", {}, rows),
      ),
      gateNote(node),
    );
    void stepState;
  }

  function gateNote(node: GraphNode): HTMLElement | null {
    const notes: Record<string, string> = {
      add: "+ distributes the upstream gradient to both inputs.",
      mul: "× switches: each input gets the upstream gradient times the other input.",
      maximum: "max routes the gradient to the larger input.",
      tanh: "tanh: the local gradient is 1 − tanh²(z), elementwise.",
      matmul: "Matrix product: the downstream gradients are upstream × the other factor (transposed).",
    };
    const text = notes[node.node.op];
    return text ? h("p", { class: "gate" }, text) : null;
  }

  function renderResults(current: BackpropRun, stepState: StepState): void {
    const total = current.trace.steps.length;
    const leaves = current.nodes.filter((n) => n.node.op === "leaf");
    const items = leaves.map((leaf) => {
      const done = stepState.complete.has(leaf.node.id);
      const label = `∂${current.outputName}/∂${leaf.name}`;
      if (!done) return h("li", { class: "pending" }, `${label}: not yet`);
      if (isScalarValue(leaf.node.grad))
        return h("li", { "data-gradient": leaf.name }, `${label} = ${formatValue(leaf.node.grad)}`);
      return h(
        "li",
        { "data-gradient": leaf.name },
        `${label}: `,
        heatmap(leaf.node.grad!, label, { maxWidth: 90, maxHeight: 90 }),
        h("small", {}, ` ${leaf.node.shape.join("×")}`),
      );
    });
    const fanOuts = current.trace.fanOut
      .filter((f) => stepState.complete.has(f.node))
      .map((f) => {
        const name = current.nodes[f.node]!.name;
        if (isScalarValue(f.total)) {
          return h(
            "li",
            { "data-fanout": name },
            `${name}: ${f.contributions.map((c) => formatValue(c.value)).join(" + ")} = ${formatValue(f.total)}`,
          );
        }
        return h(
          "li",
          { "data-fanout": name },
          `${name}: the sum of ${f.contributions.length} gradients (${f.contributions.map((c) => current.nodes[c.from]!.name).join(", ")})`,
        );
      });
    replace(
      results,
      h("h3", {}, k === total ? "Gradients" : "Gradients so far"),
      h("ul", { class: "gradients" }, items),
      current.trace.fanOut.length > 0
        ? [
            h("h3", {}, "Fan-out: gradients summed"),
            fanOuts.length > 0
              ? h("ul", { class: "fanout" }, fanOuts)
              : h("p", { class: "pending" }, "Appears once every use has sent its gradient back."),
          ]
        : null,
    );
  }

  const form = h(
    "form",
    {
      class: "expression-form",
      onsubmit: (event: Event) => {
        event.preventDefault();
        store.update({ step: 0 });
        build();
      },
    },
    exprInput.element,
    h(
      "div",
      { class: "row" },
      field("Values", atInput, "e.g. x=1, y=2 or W=[[1,2],[3,4]]; missing ones are drawn at random"),
      field("Shapes (for random values)", shapesInput, "e.g. W: n×m, x: m"),
      field("Sizes", sizesInput, "e.g. n=3, m=4"),
    ),
    h(
      "div",
      { class: "buttons" },
      h("button", { type: "submit", class: "primary" }, "Build the graph"),
      h("button", { type: "button", onclick: randomValues }, "Random values"),
    ),
  );

  const examples = exampleButtons("Examples", EXAMPLES, (example) => {
    exprInput.input.value = example.expr;
    atInput.value = example.at;
    shapesInput.value = example.shapes;
    sizesInput.value = example.sizes;
    store.update({ step: 0 });
    build();
  });

  const panel = h(
    "div",
    { class: "backprop" },
    h("h2", {}, "Backpropagation, step by step"),
    h(
      "p",
      { class: "intro" },
      "Each node multiplies the gradient arriving from above (upstream) by its local gradient and sends the result (downstream) to each input; gradients arriving from several uses are summed.",
    ),
    examples,
    form,
    note,
    controls,
    h("div", { class: "backprop-body" }, graphArea, h("aside", { class: "side" }, stepInfo, results)),
  );
  build();
  return panel;
}
