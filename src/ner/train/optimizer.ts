/**
 * The optimiser of a training run, made from its options, and the names of the state it saves (which a
 * checkpoint may hold).
 */
import { AdaGrad, Adam, SGD, type Optimizer } from "../../nn/optim.js";
import type { AnyModule } from "../../nn/module.js";
import { Tensor } from "../../tensor/tensor.js";
import type { ResolvedTrainingOptions } from "./options.js";

type OptimizerOptions = Pick<ResolvedTrainingOptions, "optimizer" | "lr" | "momentum" | "weightDecay">;

/** The optimiser `options` name over `parameters` (the model's). */
export function makeOptimizer(
  parameters: Iterable<Tensor> | AnyModule,
  options: OptimizerOptions,
): Optimizer {
  const { lr, weightDecay } = options;
  switch (options.optimizer) {
    case "sgd":
      return new SGD(parameters, { lr, momentum: options.momentum, weightDecay });
    case "adam":
      return new Adam(parameters, { lr, weightDecay });
    case "adagrad":
      return new AdaGrad(parameters, { lr, weightDecay });
  }
}

/**
 * The per-parameter entries the optimiser of `options` saves in its `stateDict()` (`step` and its buffers, the
 * part after `<index>.`), found by taking one step of it on a one-value stand-in parameter, so that the list
 * is the optimiser's own.
 */
export function optimizerStateFields(options: OptimizerOptions): Set<string> {
  const probe = new Tensor(Float32Array.of(0), [1], "float32");
  probe.requiresGrad = true;
  const optimizer = makeOptimizer([probe], options);
  probe.grad = new Tensor(Float32Array.of(1), [1], "float32");
  optimizer.step();
  const fields = new Set<string>();
  for (const name of Object.keys(optimizer.stateDict())) if (name.startsWith("0.")) fields.add(name.slice(2));
  return fields;
}
