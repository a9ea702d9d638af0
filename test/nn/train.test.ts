import { describe, expect, it } from "vitest";
import { Random, Tensor, argmax, globalRandom, nn, noGrad, seed, tensor } from "../../src/index.js";

const { Sequential, Linear, Tanh, ReLU, Dropout, SGD, Adam, CrossEntropyLoss } = nn;

/** Accuracy of argmax(model(x)) against the labels. */
function accuracy(model: nn.Module<[Tensor], Tensor>, x: Tensor, labels: readonly number[]): number {
  model.eval();
  const predicted = noGrad(() => argmax(model.forward(x), 1));
  model.train();
  let right = 0;
  labels.forEach((label, i) => {
    if (predicted.data[i] === label) right++;
  });
  return right / labels.length;
}

/** Two interleaving half circles with Gaussian noise (the "two moons" toy problem), from its own generator. */
function twoMoons(count: number, noise: number, random: Random): { x: Tensor; y: number[] } {
  const points: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < count; i++) {
    const label = i % 2;
    const t = Math.PI * random.uniform();
    const [px, py] = label === 0 ? [Math.cos(t), Math.sin(t)] : [1 - Math.cos(t), 0.5 - Math.sin(t)];
    points.push([px + noise * random.normal(), py + noise * random.normal()]);
    y.push(label);
  }
  return { x: tensor(points), y };
}

describe("training small networks", () => {
  it("learns XOR to 100 % with the lecture's plain SGD", () => {
    seed(17);
    const model = new Sequential(new Linear(2, 8), new Tanh(), new Linear(8, 2));
    const optimizer = new SGD(model, { lr: 0.5 });
    const loss = new CrossEntropyLoss();
    const x = tensor([
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]);
    const y = [0, 1, 1, 0];
    const losses: number[] = [];
    for (let step = 0; step < 400; step++) {
      optimizer.zeroGrad();
      const value = loss.forward(model.forward(x), y);
      value.backward();
      optimizer.step();
      losses.push(value.item());
    }
    expect(accuracy(model, x, y)).toBe(1);
    expect(losses.at(-1)!).toBeLessThan(0.05);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! / 10);
  });

  /** Minibatch training on two moons with shuffling and dropout: everything random comes from one seed. */
  function trainMoons(runSeed: number) {
    const train = twoMoons(300, 0.1, new Random(100));
    const test = twoMoons(300, 0.1, new Random(200));
    seed(runSeed);
    const model = new Sequential(
      new Linear(2, 32),
      new ReLU(),
      new Dropout(0.1),
      new Linear(32, 32),
      new Tanh(),
      new Linear(32, 2),
    );
    const optimizer = new Adam(model, { lr: 0.02 });
    const loss = new CrossEntropyLoss();
    const order = Array.from({ length: 300 }, (_, i) => i);
    const losses: number[] = [];
    for (let epoch = 0; epoch < 40; epoch++) {
      globalRandom.shuffle(order);
      for (let start = 0; start < order.length; start += 30) {
        const batch = order.slice(start, start + 30);
        const xb = tensor(batch.map((i) => [train.x.data[2 * i]!, train.x.data[2 * i + 1]!]));
        const yb = batch.map((i) => train.y[i]!);
        optimizer.zeroGrad();
        const value = loss.forward(model.forward(xb), yb);
        value.backward();
        optimizer.step();
        losses.push(value.item());
      }
    }
    return {
      model,
      losses,
      trainAccuracy: accuracy(model, train.x, train.y),
      testAccuracy: accuracy(model, test.x, test.y),
    };
  }

  it("learns a seeded two-moons dataset to above 95 % on held-out points", () => {
    const run = trainMoons(18);
    expect(run.trainAccuracy).toBeGreaterThan(0.95);
    expect(run.testAccuracy).toBeGreaterThan(0.95);
  });

  it("the same seed gives the same losses and weights, bit for bit; another seed does not", () => {
    const a = trainMoons(19);
    const b = trainMoons(19);
    const c = trainMoons(20);
    expect(a.losses.length).toBe(400);
    expect(a.losses.every(Number.isFinite)).toBe(true);
    expect(a.losses.at(-1)!).toBeLessThan(a.losses[0]! / 4);
    expect(b.losses).toEqual(a.losses);
    const bitsOf = (m: typeof a.model) =>
      m.parameters().flatMap((p) => Array.from(new Uint32Array(Float32Array.from(p.data).buffer)));
    expect(bitsOf(b.model)).toEqual(bitsOf(a.model));
    expect(c.losses).not.toEqual(a.losses);
  });
});
