/**
 * The NER tab's training settings: a field for each option of the training options table that runs in the
 * browser (the objective, window CRF or not; the token features; the network; the optimisation). Each starts
 * at the value `chainrule ner demo` uses, else at the table's default, and is checked by the table's own
 * parser, so the page, the library and the CLI never disagree on a name, a default or a bound.
 */
import { field, h } from "../dom.js";
import {
  DEMO_OPTIONS,
  TRAINING_OPTIONS,
  defaultOption,
  optionHelp,
  parseOptionText,
  type NerTrainingOptions,
} from "../lib.js";

type Key = keyof NerTrainingOptions;

/** The options offered, in the order shown; the rest keep the demo's value or the table's default. */
export const WEB_OPTIONS: readonly Key[] = [
  "objective",
  "prefixDimension",
  "suffixDimension",
  "shapeDimension",
  "affixLength",
  "windowSize",
  "hiddenSize",
  "activation",
  "casingDimension",
  "dropout",
  "optimizer",
  "lr",
  "batchSize",
  "patience",
  "seed",
];

/** The value a field starts with: the demo's, else the table's default (given the values before it). */
function initialValue(key: Key, before: Partial<Record<Key, unknown>>): unknown {
  const demo = DEMO_OPTIONS[key];
  return demo !== undefined ? demo : defaultOption(key, before as never);
}

/** The label of a field: the CLI flag's name, e.g. `--prefix-dim`. */
function flagName(key: Key): string {
  const flag = TRAINING_OPTIONS[key].cli?.flag ?? key;
  return flag.split(" ")[0]!;
}

export interface TrainingSettings {
  element: HTMLElement;
  /** The options as set (every offered field, checked), or null after showing the first bad field's error. */
  read(): NerTrainingOptions | null;
  setDisabled(disabled: boolean): void;
}

export function trainingSettings(): TrainingSettings {
  const inputs = new Map<Key, HTMLInputElement | HTMLSelectElement>();
  const errors = new Map<Key, HTMLElement>();
  const before: Partial<Record<Key, unknown>> = {};
  let lrEdited = false;
  const fields = WEB_OPTIONS.map((key) => {
    const spec = TRAINING_OPTIONS[key];
    const value = initialValue(key, before);
    before[key] = value;
    const id = `ner-${key}`;
    let input: HTMLInputElement | HTMLSelectElement;
    if (spec.kind === "choice") {
      input = h(
        "select",
        { id },
        spec.choices.map((choice) => h("option", { value: choice }, choice)),
      );
      input.value = String(value);
    } else {
      input = h("input", {
        id,
        type: "number",
        min: String(spec.kind === "integer" || spec.kind === "number" ? spec.min : ""),
        step: spec.kind === "integer" ? "1" : "any",
        value: value === null ? "" : String(value),
      });
    }
    inputs.set(key, input);
    const error = h("small", { class: "error", id: `${id}-error` });
    errors.set(key, error);
    const wrapper = field(flagName(key), input, optionHelp(key));
    wrapper.appendChild(error);
    return wrapper;
  });
  // The learning rate follows the optimiser's default until it is edited.
  inputs.get("lr")!.addEventListener("input", () => (lrEdited = true));
  inputs.get("optimizer")!.addEventListener("change", () => {
    if (lrEdited) return;
    inputs.get("lr")!.value = String(
      defaultOption("lr", { optimizer: inputs.get("optimizer")!.value } as never),
    );
  });

  function read(): NerTrainingOptions | null {
    const options: Record<string, unknown> = { ...DEMO_OPTIONS };
    for (const key of WEB_OPTIONS) {
      const input = inputs.get(key)!;
      const error = errors.get(key)!;
      error.textContent = "";
      input.removeAttribute("aria-invalid");
      try {
        options[key] = parseOptionText(key, input.value, flagName(key));
      } catch (thrown) {
        error.textContent = thrown instanceof Error ? thrown.message : String(thrown);
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-errormessage", error.id);
        details.open = true;
        input.focus();
        return null;
      }
    }
    return options as NerTrainingOptions;
  }

  const details = h(
    "details",
    { class: "settings" },
    h("summary", {}, "Settings (the options of chainrule ner train)"),
    h(
      "p",
      { class: "hint" },
      "They start at chainrule ner demo's settings. --objective sentence trains whole sentences with a CRF over the tag scores; --prefix-dim, --suffix-dim and --shape-dim add character features.",
    ),
    h("div", { class: "settings-grid" }, fields),
  );
  return {
    element: details,
    read,
    setDisabled(disabled: boolean) {
      for (const input of inputs.values()) input.disabled = disabled;
    },
  };
}
