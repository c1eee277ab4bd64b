"""Does bf16 pay on this machine? Matmul GFLOP/s and a GRU forward, fp32 vs bf16 (and fp16), side by side in one run.

    python benchmarks/matmul_precision.py [--threads 2] [--repeats 20]

bf16 autocast only helps where the CPU has bf16 instructions (AVX-512 BF16 / AMX) and PyTorch's kernels use them;
elsewhere it falls back to slow paths — and on an Intel Xeon without AMX it measured slower than fp32 even with
AVX-512 BF16. fp16 is measured beside them: CPUs with AVX-512 FP16 (Intel Sapphire Rapids and later) have native fp16
arithmetic. `train.precision: auto` picks from measurements like these (src/nnstudy/engine/runtime.py).
Prints a Markdown table and writes benchmarks/results/matmul_precision/<machine type>.json.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from _common import environment, save


def median_seconds(fn, repeats: int) -> float:
    fn()                                           # warm-up (kernel selection, allocations)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return sorted(f for f in flags if f.startswith(("avx512", "amx")))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for rows_ in (64, 1024, 4096):                 # (rows × 256) @ (256 × 768): a GRU layer's gate matmul
        a, w = torch.randn(rows_, 256), torch.randn(256, 768)
        flop = 2 * rows_ * 256 * 768
        fp32 = median_seconds(lambda: a @ w, args.repeats)
        ab, wb = a.bfloat16(), w.bfloat16()
        bf16 = median_seconds(lambda: ab @ wb, args.repeats)
        ah, wh = a.half(), w.half()
        fp16 = median_seconds(lambda: ah @ wh, args.repeats)
        rows.append({"what": f"matmul ({rows_}×256)·(256×768)", "fp32_gflops": flop / fp32 / 1e9,
                     "bf16_gflops": flop / bf16 / 1e9, "bf16_speedup": fp32 / bf16,
                     "fp16_gflops": flop / fp16 / 1e9, "fp16_speedup": fp32 / fp16})
    gru = torch.nn.GRU(5, 256, 2, batch_first=True).eval()
    x = torch.randn(256, 90, 5)
    with torch.no_grad():
        fp32 = median_seconds(lambda: gru(x), max(3, args.repeats // 5))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = median_seconds(lambda: gru(x), max(3, args.repeats // 5))
        with torch.autocast("cpu", dtype=torch.float16):
            fp16 = median_seconds(lambda: gru(x), max(3, args.repeats // 5))
    rows.append({"what": "GRU 2×256 forward, 256 windows × 90 h (s)", "fp32_s": fp32, "bf16_s": bf16,
                 "bf16_speedup": fp32 / bf16, "fp16_s": fp16, "fp16_speedup": fp32 / fp16})
    result = {**environment(threads=args.threads, torch_cpu_capability=torch.backends.cpu.get_cpu_capability(),
                            cpu_flags_avx512_amx=cpu_flags(), repeats=args.repeats), "rows": rows}
    save("matmul_precision", result, markdown)


def markdown(result: dict) -> str:
    env, rows = result, result["rows"]
    repeats = result.get("repeats", "?")
    lines = [f"`{env['command']}` — {env['machine']}, {env['threads']} threads, torch {env['torch']} "
             f"(CPU capability {env['torch_cpu_capability']}; AVX-512/AMX flags: "
             f"{', '.join(env['cpu_flags_avx512_amx']) or 'none'}); medians of {repeats} repeats", "",
             "| what | fp32 | bf16 | bf16 speed-up | fp16 | fp16 speed-up |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:   # fp16 was not measured before 2026-12-02: "—" in the results of earlier runs
        if "fp32_gflops" in r:
            half = (f"{r['fp16_gflops']:.1f} GFLOP/s | {r['fp16_speedup']:.2f}×" if "fp16_gflops" in r else "— | —")
            lines.append(f"| {r['what']} | {r['fp32_gflops']:.0f} GFLOP/s | {r['bf16_gflops']:.1f} GFLOP/s | "
                         f"{r['bf16_speedup']:.2f}× | {half} |")
        else:
            half = f"{r['fp16_s']:.3f} s | {r['fp16_speedup']:.2f}×" if "fp16_s" in r else "— | —"
            lines.append(f"| {r['what']} | {r['fp32_s']:.3f} s | {r['bf16_s']:.3f} s | {r['bf16_speedup']:.2f}× | "
                         f"{half} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
