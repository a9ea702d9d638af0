/**
 * Learning-rate schedules. A schedule is a function from a step count (0, 1, 2, …: optimiser steps or
 * epochs, as the caller chooses) to a factor on the base learning rate; `LearningRateScheduler` applies
 * one to an optimiser.
 *
 * ```ts
 * const scheduler = new LearningRateScheduler(optimizer, linearWarmup(100, stepDecay(1000, 0.5)));
 * for (…) { loss.backward(); optimizer.step(); scheduler.step(); }
 * ```
 */
import { ValueError, quoteInput } from "../errors.js";
import type { Optimizer } from "./optim.js";

/** A factor on the base learning rate at each step (0-based). */
export type Schedule = (step: number) => number;

function checkCount(value: unknown, name: string, where: string, min = 1): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new ValueError(`${where}: ${name} must be an integer ≥ ${min}, got ${quoteInput(value)}`);
  }
  return value;
}

function checkFactor(value: unknown, name: string, where: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new ValueError(`${where}: ${name} must be a finite number ≥ 0, got ${quoteInput(value)}`);
  }
  return value;
}

/** The base rate at every step. */
export function constantSchedule(): Schedule {
  return () => 1;
}

/** Step decay: the rate is multiplied by `gamma` every `stepSize` steps, i.e. γ^⌊step / stepSize⌋. */
export function stepDecay(stepSize: number, gamma = 0.1): Schedule {
  checkCount(stepSize, "stepSize", "stepDecay");
  checkFactor(gamma, "gamma", "stepDecay");
  return (step) => Math.pow(gamma, Math.floor(step / stepSize));
}

/** Exponential decay: γ^step. */
export function exponentialDecay(gamma: number): Schedule {
  checkFactor(gamma, "gamma", "exponentialDecay");
  return (step) => Math.pow(gamma, step);
}

/**
 * Linear warm-up: the factor rises linearly from `startFactor` at step 0 to 1 at step `warmupSteps`, then
 * follows `after`, counted from the end of the warm-up (default: constant 1).
 */
export function linearWarmup(
  warmupSteps: number,
  after: Schedule = constantSchedule(),
  startFactor = 0,
): Schedule {
  checkCount(warmupSteps, "warmupSteps", "linearWarmup", 0);
  checkFactor(startFactor, "startFactor", "linearWarmup");
  if (typeof after !== "function") throw new ValueError("linearWarmup: after must be a schedule function");
  return (step) =>
    step < warmupSteps ? startFactor + ((1 - startFactor) * step) / warmupSteps : after(step - warmupSteps);
}

/** Linear decay from 1 at step 0 to `endFactor` at step `totalSteps`, constant after. */
export function linearDecay(totalSteps: number, endFactor = 0): Schedule {
  checkCount(totalSteps, "totalSteps", "linearDecay");
  checkFactor(endFactor, "endFactor", "linearDecay");
  return (step) => 1 + ((endFactor - 1) * Math.min(step, totalSteps)) / totalSteps;
}

/** Cosine decay from 1 at step 0 to `minFactor` at step `totalSteps`, constant after. */
export function cosineDecay(totalSteps: number, minFactor = 0): Schedule {
  checkCount(totalSteps, "totalSteps", "cosineDecay");
  checkFactor(minFactor, "minFactor", "cosineDecay");
  return (step) =>
    minFactor + ((1 - minFactor) * (1 + Math.cos((Math.PI * Math.min(step, totalSteps)) / totalSteps))) / 2;
}

/**
 * Drives an optimiser's learning rate: at construction it sets lr = baseLr · schedule(0), and each
 * `step()` advances the count and sets lr = baseLr · schedule(count). The base rate is the optimiser's
 * rate at construction unless given.
 */
export class LearningRateScheduler {
  /** The optimiser whose `lr` it sets. */
  readonly optimizer: Optimizer;
  /** The factor on the base rate at each step count. */
  readonly schedule: Schedule;
  /** The rate the schedule's factor multiplies. */
  readonly baseLr: number;
  private count = 0;

  constructor(optimizer: Optimizer, schedule: Schedule, options: { baseLr?: number } = {}) {
    if (typeof schedule !== "function") {
      throw new ValueError("LearningRateScheduler: schedule must be a function of the step");
    }
    this.optimizer = optimizer;
    this.schedule = schedule;
    this.baseLr = checkFactor(options.baseLr ?? optimizer.lr, "baseLr", "LearningRateScheduler");
    this.apply();
  }

  /** Steps taken so far. */
  get stepCount(): number {
    return this.count;
  }

  /** Jumps to step `count` (e.g. when resuming training) and sets the matching rate. */
  set stepCount(count: number) {
    this.count = checkCount(count, "stepCount", "LearningRateScheduler", 0);
    this.apply();
  }

  /** The current learning rate. */
  get lr(): number {
    return this.optimizer.lr;
  }

  /** Advances one step and updates the optimiser's rate. */
  step(): void {
    this.count += 1;
    this.apply();
  }

  private apply(): void {
    const factor = this.schedule(this.count);
    if (typeof factor !== "number" || !Number.isFinite(factor) || factor < 0) {
      throw new ValueError(`LearningRateScheduler: the schedule gave ${factor} at step ${this.count}`);
    }
    this.optimizer.lr = this.baseLr * factor;
  }
}
