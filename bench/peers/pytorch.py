"""PyTorch on the CPU as a peer of chainrule's benchmarks (bench/core.ts runs it; nothing here is asserted).

    python3 bench/peers/pytorch.py info
    python3 bench/peers/pytorch.py ner --batch 256 --threads 1 2 --seconds 1
    python3 bench/peers/pytorch.py matmul --sizes 64 256 1024 --threads 1 2 --seconds 1

Each command prints one JSON object on one line. `ner` trains the window NER network of bench/ner-step.ts:
nn.Embedding(20000, 50, sparse=True), 5 ids per example, Linear 250->300, tanh, Linear 300->9, cross-entropy,
backward, torch.optim.SGD, examples per second; `maxRssMB` is this process's peak memory. `matmul` times
float32 n x n products (torch.mm into a preallocated output), GFLOP/s.
"""

import argparse
import json
import os
import resource
import sys
import time

VOCABULARY = 20_000
DIM = 50
HIDDEN = 300
CLASSES = 9
LR = 0.01


def peak_memory_mb():
    """This process's peak resident memory: VmHWM on Linux (getrusage's maxrss keeps the parent's across fork)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rate(fn, seconds, warmup=5, warmup_seconds=0.0):
    """Calls of fn per second, measured for about `seconds` after `warmup` calls and at least `warmup_seconds`."""
    warming = time.perf_counter()
    calls = 0
    while calls < warmup or time.perf_counter() - warming < warmup_seconds:
        fn()
        calls += 1
    calls = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
    return calls / elapsed


def info(torch):
    details = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "ompWaitPolicy": os.environ.get("OMP_WAIT_POLICY"),
    }
    try:
        import threadpoolctl

        pools = threadpoolctl.threadpool_info()
        details["blas"] = [
            {k: pool.get(k) for k in ("internal_api", "version", "architecture", "filepath", "num_threads")}
            for pool in pools
        ]
    except ImportError:
        details["blas"] = "threadpoolctl not installed"
    details["config"] = [
        line.strip() for line in torch.__config__.show().splitlines() if "BLAS" in line or "CPU capability" in line
    ]
    return details


def set_threads(torch, n):
    """n threads for PyTorch's own pool (OpenMP) and for OpenBLAS's pthread pool, which PyTorch does not set."""
    torch.set_num_threads(n)
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(limits=n)
    except ImportError:
        pass


def ner(torch, batch, threads, seconds, warmup_seconds=0.0):
    nn = torch.nn
    functional = torch.nn.functional
    torch.manual_seed(0)
    embedding = nn.Embedding(VOCABULARY, DIM, sparse=True)
    hidden = nn.Linear(5 * DIM, HIDDEN)
    output = nn.Linear(HIDDEN, CLASSES)
    parameters = [*embedding.parameters(), *hidden.parameters(), *output.parameters()]
    optimizer = torch.optim.SGD(parameters, lr=LR)
    generator = torch.Generator().manual_seed(1)
    batches = [
        (
            torch.randint(0, VOCABULARY, (batch, 5), generator=generator),
            torch.randint(0, CLASSES, (batch,), generator=generator),
        )
        for _ in range(16)
    ]
    count = [0]

    def step():
        ids, targets = batches[count[0] % len(batches)]
        count[0] += 1
        x = embedding(ids).reshape(batch, 5 * DIM)
        logits = output(torch.tanh(hidden(x)))
        loss = functional.cross_entropy(logits, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    figures = {}
    for n in threads:
        set_threads(torch, n)
        figures[str(n)] = rate(step, seconds, warmup_seconds=warmup_seconds) * batch
    return figures


def matmul(torch, sizes, threads, seconds):
    figures = {}
    for n in threads:
        set_threads(torch, n)
        for size in sizes:
            generator = torch.Generator().manual_seed(size)
            a = torch.randn(size, size, generator=generator)
            b = torch.randn(size, size, generator=generator)
            out = torch.empty(size, size)
            per_second = rate(lambda: torch.mm(a, b, out=out), seconds, warmup=2)
            figures[f"{n}/{size}"] = per_second * 2 * size**3 / 1e9
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["info", "ner", "matmul"])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=float, default=1.0)
    # Seconds of steps before the measured ones (the NER step), as bench/ner-step.ts --warmup.
    parser.add_argument("--warmup", type=float, default=0.0)
    args = parser.parse_args()
    # PyTorch's OpenMP threads spin for a while after each parallel region, and Debian's OpenBLAS
    # (libopenblas0-pthread) runs the products on threads of its own: on two cores each pool's threads then wait
    # for a core the other pool's threads are spinning on. The NER step on two threads ran 3-4x slower than on
    # one (batch 256: 41,000 examples/s against 130,000; batch 32: 22,800 against 55,300); with OpenMP's threads
    # waiting passively, 131,000 and 47,700 (batch 2048: 187,000 against 136,000 on one). It must be set before
    # torch loads OpenMP; a value in the environment is kept.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch
    except ImportError as error:
        print(json.dumps({"error": f"torch not installed: {error}"}))
        return 3
    with torch.no_grad() if args.command == "matmul" else _null():
        if args.command == "info":
            result = info(torch)
        elif args.command == "ner":
            result = {"batch": args.batch, "examplesPerSecond": ner(torch, args.batch, args.threads, args.seconds, args.warmup)}
        else:
            result = {"gflops": matmul(torch, args.sizes, args.threads, args.seconds)}
    result["maxRssMB"] = peak_memory_mb()
    print(json.dumps(result))
    return 0


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *_):
        return False


if __name__ == "__main__":
    sys.exit(main())
