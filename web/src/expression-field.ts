/**
 * Text fields whose errors are shown where they happen: the message under the field and, for an expression,
 * the offending column underlined in a copy of the text (as the CLI puts a caret under it).
 */
import { h } from "./dom.js";

export function expressionField(
  id: string,
  value: string,
  label = "Expression",
): { element: HTMLElement; input: HTMLInputElement } {
  const input = h("input", {
    id,
    type: "text",
    value,
    spellcheck: "false",
    autocomplete: "off",
    autocapitalize: "off",
    class: "expression",
    "data-field": "expr",
  });
  const element = h(
    "div",
    { class: "field wide" },
    h("label", { for: id }, label),
    input,
    h(
      "small",
      { class: "hint", id: `${id}-hint` },
      "+ − * (matrix product) / .* ' (transpose) ^, and exp log tanh sigmoid relu max sum norm2 softmax …",
    ),
  );
  input.setAttribute("aria-describedby", `${id}-hint`);
  return { element, input };
}

export function clearFieldErrors(root: HTMLElement): void {
  for (const element of root.querySelectorAll(".field-error")) element.remove();
  for (const input of root.querySelectorAll<HTMLInputElement>("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
    const hint = `${input.id}-hint`;
    input.setAttribute("aria-describedby", hint);
  }
}

/** Shows `message` under the field named `field` (falling back to the expression), underlining start…end. */
export function showFieldError(
  root: HTMLElement,
  field: string,
  message: string,
  start: number | null,
  end: number | null,
): void {
  const input =
    root.querySelector<HTMLInputElement>(`[data-field="${field}"]`) ??
    root.querySelector<HTMLInputElement>(`[data-field="expr"]`);
  const container = input?.closest(".field") ?? root;
  const errorId = `${input?.id ?? "form"}-error`;
  const box = h("div", { class: "field-error", id: errorId, role: "alert" });
  if (input && start !== null) {
    const text = input.value;
    const from = Math.max(0, Math.min(start, text.length));
    const to = Math.max(from + 1, Math.min(end ?? from + 1, text.length + 1));
    const shown = text + " ";
    box.appendChild(
      h(
        "div",
        { class: "underline", "aria-hidden": "true" },
        shown.slice(0, from),
        h("mark", {}, shown.slice(from, to)),
        shown.slice(to),
      ),
    );
    box.appendChild(h("p", {}, `column ${from + 1}: ${message}`));
  } else box.appendChild(h("p", {}, message));
  container.appendChild(box);
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", `${input.id}-hint ${errorId}`);
  }
}
