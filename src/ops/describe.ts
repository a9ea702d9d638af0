/** Helpers for the `describe` part of the rules: how a trace writes an op's local Jacobian. */

/** Each text, followed by a note where its input was broadcast (its gradient is then summed back). */
export function noteBroadcast(texts: readonly string[], broadcast: readonly boolean[]): string[] {
  return texts.map((text, i) => (broadcast[i] ? `${text}, summed over the broadcast axes` : text));
}

/** A local Jacobian description with a fixed text per input (e.g. `I` for each input of `add`). */
export function fixedPerInput(
  ...texts: string[]
): (symbols: readonly string[], attrs: unknown, broadcast: readonly boolean[]) => string[] {
  return (_symbols, _attrs, broadcast) => noteBroadcast(texts, broadcast);
}
