import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FormatError, nn, seed, tensor } from "../../src/node.js";

const { save, load, Sequential, Linear, Tanh } = nn;

let folder = "";
beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), "chainrule-nn-"));
});
afterEach(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe("safetensors files", () => {
  it("saves a module and loads it back into another", async () => {
    seed(22);
    const model = new Sequential(new Linear(4, 3), new Tanh(), new Linear(3, 2));
    const path = join(folder, "model.safetensors");
    await save(path, model, { epoch: "3" });
    const { tensors, metadata } = await load(path);
    expect({ ...metadata }).toEqual({ epoch: "3" });
    seed(23);
    const other = new Sequential(new Linear(4, 3), new Tanh(), new Linear(3, 2));
    other.loadStateDict(tensors);
    const x = tensor([[1, -1, 0.5, 2]]);
    expect(Array.from(other.forward(x).data)).toEqual(Array.from(model.forward(x).data));
    // The bytes on disk are exactly what serialize gives.
    expect(new Uint8Array(await readFile(path))).toEqual(nn.serialize(model, { epoch: "3" }));
    // Only the file itself is left: the temporary file was renamed.
    expect(await readdir(folder)).toEqual(["model.safetensors"]);
  });

  it("replaces an existing file atomically and leaves it untouched when saving fails", async () => {
    const path = join(folder, "weights.safetensors");
    await save(path, { a: tensor([1, 2]) });
    await save(path, { a: tensor([3, 4]) });
    expect(Array.from((await load(path)).tensors.a!.data)).toEqual([3, 4]);
    const before = await readFile(path);
    // An invalid name fails while serialising, before anything is written.
    await expect(save(path, { "\udc00": tensor([5]) })).rejects.toThrow(/not valid Unicode/);
    // Renaming onto a directory fails after the temporary file was written: it is removed again.
    const blocked = join(folder, "blocked.safetensors");
    await mkdir(blocked);
    await expect(save(blocked, { a: tensor([1]) })).rejects.toThrow();
    expect(await readFile(path)).toEqual(before);
    expect((await readdir(folder)).sort()).toEqual(["blocked.safetensors", "weights.safetensors"]);
    // A folder that does not exist is an error, and nothing is created.
    await expect(save(join(folder, "missing", "x.safetensors"), { a: tensor([1]) })).rejects.toThrow();
    expect((await readdir(folder)).sort()).toEqual(["blocked.safetensors", "weights.safetensors"]);
  });

  it("reports a malformed file as a FormatError with the file name and the byte offset", async () => {
    const path = join(folder, "broken.safetensors");
    await writeFile(path, Uint8Array.from([200, 0, 0, 0, 0, 0, 0, 0, 0x7b]));
    const error = await load(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).file).toBe(path);
    expect((error as FormatError).offset).toBe(0);
    await writeFile(path, Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]));
    await expect(load(path, { wideIntegers: "float64" })).rejects.toThrow(FormatError);
  });
});
