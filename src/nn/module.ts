import { DTypeError, ShapeError, ValueError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { isFloatDType } from "../tensor/dtype.js";
import { shapeToString, shapesEqual } from "../tensor/shape.js";

/** Any module, whatever its forward takes and returns (children of a container, arguments of helpers). */
export type AnyModule = Module<unknown[], unknown>;

/** Named tensors: what `stateDict()` returns and `loadStateDict()` and `serialize()` accept. */
export type TensorMap = Record<string, Tensor> | ReadonlyMap<string, Tensor>;

/** Options of `stateDict`. */
export interface StateDictOptions {
  /**
   * With `true` (the default) each entry is a copy of its parameter; with `false` it is the parameter itself,
   * which changes as the module trains (to write the weights out without copying them first).
   */
  copy?: boolean;
}

/** Options of `loadStateDict`. */
export interface LoadStateDictOptions {
  /**
   * With `true` (the default) every parameter must be present and nothing else; with `false` missing and
   * unexpected names are skipped (the shapes of the entries that do match are still checked).
   */
  strict?: boolean;
}

function checkName(name: unknown, what: string, owner: string): string {
  if (typeof name !== "string" || name === "" || name.includes(".") || name === "__proto__") {
    throw new ValueError(
      `${owner}: a ${what} name must be a non-empty string without dots (and not __proto__), got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

/** The entries of a TensorMap, in its order. */
export function tensorEntries(tensors: TensorMap, where: string): [string, Tensor][] {
  const entries =
    tensors instanceof Map
      ? [...(tensors as ReadonlyMap<string, Tensor>).entries()]
      : tensors !== null && typeof tensors === "object"
        ? Object.entries(tensors as Record<string, Tensor>)
        : null;
  if (entries === null) throw new ValueError(`${where}: expected an object or a Map of named tensors`);
  for (const [name, value] of entries) {
    if (!(value instanceof Tensor)) {
      throw new ValueError(`${where}: the entry ${JSON.stringify(name)} is not a Tensor`);
    }
  }
  return entries;
}

/**
 * The base class of every layer and model. A module owns parameters (tensors that require grad, trained by
 * an optimiser) and child modules, both registered under a name; `namedParameters()` walks them in
 * registration order (own parameters first, then each child's, depth first), giving dotted names such as
 * `hidden.weight` or `0.bias`. Subclasses implement `forward`.
 *
 * ```ts
 * class Window extends Module<[Tensor], Tensor> {
 *   readonly hidden = this.registerModule("hidden", new Linear(250, 300));
 *   readonly output = this.registerModule("output", new Linear(300, 5));
 *   forward(x: Tensor): Tensor { return this.output.forward(tanh(this.hidden.forward(x))); }
 * }
 * ```
 */
export abstract class Module<Input extends unknown[] = [Tensor], Output = Tensor> {
  /** True in training mode (dropout active), false in evaluation mode. Set with `train()` / `eval()`. */
  training = true;
  private readonly ownParameters = new Map<string, Tensor>();
  private readonly ownChildren = new Map<string, AnyModule>();

  /**
   * The module's computation: its output for the given inputs, built from tensor ops so that
   * backpropagation reaches every parameter. Subclasses implement it.
   */
  abstract forward(...inputs: Input): Output;

  /**
   * Registers `value` as the parameter `name` (replacing a parameter of that name) and returns it. The
   * tensor must be a float leaf; it is switched to `requiresGrad`.
   */
  protected registerParameter(name: string, value: Tensor): Tensor {
    const owner = this.constructor.name;
    checkName(name, "parameter", owner);
    if (!(value instanceof Tensor)) throw new ValueError(`${owner}: parameter ${name} must be a Tensor`);
    if (!isFloatDType(value.dtype)) {
      throw new DTypeError(`${owner}: parameter ${name} must be float32 or float64, not ${value.dtype}`);
    }
    if (!value.isLeaf) {
      throw new ValueError(
        `${owner}: parameter ${name} must be a leaf tensor, not the result of ${value.gradFn} (use detach())`,
      );
    }
    if (this.ownChildren.has(name)) throw new ValueError(`${owner}: ${name} is already a child module`);
    value.requiresGrad = true;
    this.ownParameters.set(name, value);
    return value;
  }

  /** Registers `module` as the child `name` (replacing a child of that name) and returns it. */
  protected registerModule<M extends AnyModule>(name: string, module: M): M {
    const owner = this.constructor.name;
    checkName(name, "module", owner);
    if (!(module instanceof Module)) throw new ValueError(`${owner}: child ${name} must be a Module`);
    if (this.ownParameters.has(name)) throw new ValueError(`${owner}: ${name} is already a parameter`);
    this.ownChildren.set(name, module as AnyModule);
    return module;
  }

  /** The direct children with their names, in registration order. */
  namedChildren(): [string, AnyModule][] {
    return [...this.ownChildren.entries()];
  }

  /** The direct children, in registration order. */
  children(): AnyModule[] {
    return [...this.ownChildren.values()];
  }

  /** This module (name "") and every descendant with its dotted name, depth first. */
  namedModules(): [string, AnyModule][] {
    const out: [string, AnyModule][] = [];
    const seen = new Set<AnyModule>();
    const visit = (prefix: string, module: AnyModule): void => {
      if (seen.has(module)) return;
      seen.add(module);
      out.push([prefix, module]);
      for (const [name, child] of module.ownChildren)
        visit(prefix === "" ? name : `${prefix}.${name}`, child);
    };
    visit("", this as unknown as AnyModule);
    return out;
  }

  /** This module and every descendant, depth first (each once). */
  modules(): AnyModule[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Every (name, parameter) pair, including repeats of a tensor registered under several names. */
  private allNamedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, module] of this.namedModules()) {
      for (const [name, parameter] of module.ownParameters) {
        out.push([prefix === "" ? name : `${prefix}.${name}`, parameter]);
      }
    }
    return out;
  }

  /**
   * The parameters with their dotted names, in a stable order (registration order, depth first). A tensor
   * shared by several modules appears once, under its first name.
   */
  namedParameters(): [string, Tensor][] {
    const seen = new Set<Tensor>();
    return this.allNamedParameters().filter(([, p]) => {
      if (seen.has(p)) return false;
      seen.add(p);
      return true;
    });
  }

  /** The parameters, in the order of `namedParameters()`. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** The number of trainable values (the sum of the parameters' sizes). */
  parameterCount(): number {
    return this.parameters().reduce((total, p) => total + p.size, 0);
  }

  /** Sets training mode (`true`, the default) or evaluation mode on this module and all descendants. */
  train(mode = true): this {
    for (const module of this.modules()) module.training = mode;
    return this;
  }

  /** Evaluation mode: dropout becomes the identity. Same as `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /** Clears the accumulated gradient (dense and row-sparse) of every parameter. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /**
   * A copy of every parameter's values under its dotted name (tensors shared by several modules appear under
   * each name). The copies do not require grad and do not change when training goes on, so a state dict
   * can be kept as a snapshot (say, of the best model so far) and saved with `safetensors.save`. With
   * `{ copy: false }` the entries are the parameters themselves (for writing them out at once).
   */
  stateDict(options: StateDictOptions = {}): Record<string, Tensor> {
    const copy = options.copy ?? true;
    const out: Record<string, Tensor> = {};
    for (const [name, p] of this.allNamedParameters()) {
      out[name] = copy ? new Tensor(p.data.slice(), p.shape, p.dtype) : p;
    }
    return out;
  }

  /**
   * Copies values into the parameters, in place (optimisers keep referring to the same tensors). Everything
   * is checked before anything is written: an error names the first missing, unexpected or wrongly shaped
   * entry and leaves the module unchanged. Float values of another float dtype are converted.
   */
  loadStateDict(state: TensorMap, options: LoadStateDictOptions = {}): void {
    const where = `${this.constructor.name}.loadStateDict`;
    const strict = options.strict ?? true;
    const given = new Map(tensorEntries(state, where));
    const own = this.allNamedParameters();
    const plan: [Tensor, Tensor][] = [];
    for (const [name, parameter] of own) {
      const value = given.get(name);
      if (value === undefined) {
        if (strict) {
          throw new ValueError(
            `${where}: missing entry ${JSON.stringify(name)} (a parameter of shape ${shapeToString(parameter.shape)})`,
          );
        }
        continue;
      }
      if (!shapesEqual(value.shape, parameter.shape)) {
        throw new ShapeError(
          `${where}: entry ${JSON.stringify(name)} has shape ${shapeToString(value.shape)}, but the parameter has shape ${shapeToString(parameter.shape)}`,
        );
      }
      if (!isFloatDType(value.dtype)) {
        throw new DTypeError(
          `${where}: entry ${JSON.stringify(name)} is ${value.dtype}; parameters need float32 or float64 values`,
        );
      }
      plan.push([parameter, value]);
    }
    if (strict) {
      const known = new Set(own.map(([name]) => name));
      for (const name of given.keys()) {
        if (!known.has(name)) {
          throw new ValueError(
            `${where}: unexpected entry ${JSON.stringify(name)} (the module has no parameter of that name)`,
          );
        }
      }
    }
    for (const [parameter, value] of plan) {
      if (parameter !== value) parameter.data.set(value.data);
    }
  }

  /** The module's class and settings with its children indented below, as PyTorch prints a model. */
  toString(): string {
    const lines = [`${this.constructor.name}(${this.describe()})`];
    for (const [name, child] of this.ownChildren) {
      const inner = child.toString().split("\n").join("\n  ");
      lines.push(`  (${name}): ${inner}`);
    }
    return lines.length === 1 ? lines[0]! : lines.join("\n");
  }

  /** A short description of the module's settings, shown by `toString()`. */
  protected describe(): string {
    return "";
  }
}

/** Modules applied one after the other; the children are named "0", "1", … */
export class Sequential extends Module<[Tensor], Tensor> {
  private readonly layers: Module<[Tensor], Tensor>[] = [];

  constructor(...layers: Module<[Tensor], Tensor>[]) {
    super();
    for (const layer of layers) this.append(layer);
  }

  /** Adds a layer at the end and returns this container. */
  append(layer: Module<[Tensor], Tensor>): this {
    if (!(layer instanceof Module)) {
      throw new ValueError(`Sequential: layer ${this.layers.length} is not a Module`);
    }
    this.registerModule(String(this.layers.length), layer);
    this.layers.push(layer);
    return this;
  }

  /** The number of layers. */
  get length(): number {
    return this.layers.length;
  }

  /** The layer at `index` (negative counts from the end). */
  at(index: number): Module<[Tensor], Tensor> {
    const layer = this.layers.at(index);
    if (layer === undefined) {
      throw new ValueError(`Sequential: no layer ${index} among ${this.layers.length}`);
    }
    return layer;
  }

  /** Runs the layers in order, each on the previous one's output. */
  forward(x: Tensor): Tensor {
    let out = x;
    for (const layer of this.layers) out = layer.forward(out);
    return out;
  }
}
