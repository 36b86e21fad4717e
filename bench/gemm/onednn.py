#!/usr/bin/env python3
"""The peer for bench_gemm's lowp columns: PyTorch's linear (oneDNN; AMX-BF16
where the CPU has it) on the same encoder shapes, one thread, bias added,
best of R runs after warm-ups, in G ops/s (a multiply-add = 2). bf16 output,
as oneDNN gives it (half the bytes written of bench_gemm's float32 output).

    bench/.venv/bin/python bench/gemm/onednn.py [reps]
"""
import sys
import time

import torch

SHAPES = [("tiny qkv/out", 1500, 384, 384), ("tiny mlp up", 1500, 384, 1536), ("tiny mlp down", 1500, 1536, 384),
          ("base qkv/out", 1500, 512, 512), ("base mlp up", 1500, 512, 2048), ("base mlp down", 1500, 2048, 512)]


def best_seconds(f, reps):
    for _ in range(3):
        f()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, oneDNN {torch.backends.mkldnn.is_available()}, 1 thread\n")
    print("| shape | M | K | N | torch bf16 | torch fp32 |\n|---|---|---|---|---|---|")
    for name, m, k, n in SHAPES:
        row = []
        for dt in (torch.bfloat16, torch.float32):
            g = torch.Generator().manual_seed(1)
            a, w, b = (torch.randn(*s, generator=g).to(dt) for s in ((m, k), (n, k), (n,)))
            t = best_seconds(lambda: torch.nn.functional.linear(a, w, b), reps)
            row.append(2.0 * m * k * n / t * 1e-9)
        print(f"| {name} | {m} | {k} | {n} | {row[0]:.1f} | {row[1]:.1f} |")


if __name__ == "__main__":
    main()
