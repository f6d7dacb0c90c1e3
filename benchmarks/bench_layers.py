"""The conv layers of the speed targets, forward + backward, scratchgen vs PyTorch, each
library in a process of its own (the two OpenMP runtimes never share one), alternating.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        python benchmarks/bench_layers.py [--threads 2] [--rounds 5] [--repeats 20] [--json]

(those two variables slow a current NumPy on some machines; unset them for this command
only). Rows: the DCGAN's four layers at batch 64 (conv 1->64 on 28x28, conv 64->128 on
14x14, conv-transpose 128->64 on 7x7, conv-transpose 64->1 on 14x14; 4x4 windows, stride 2,
padding 1) and a 3x3 conv 64->64 on 32x32; each step is the forward, then the backward to the
input, the weight and the bias. Every round starts one child per library, which times each
layer (median of --repeats steps after a warm-up); the table gives the median over rounds,
the ratio scratchgen / PyTorch of the times (below 1: scratchgen is faster), scratchgen's
GFLOP/s and that as a fraction of the sgemm peak the scratchgen child measured (NumPy's
2048^3 float32 product, same threads), and each child's thread pools (threadpoolctl).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from bench_train import child_env, median_ms

# name: (C_in, C_out, H (= W) of the input, kernel, stride, padding, transposed, bias)
LAYERS = {
    "D1 conv 1->64, 28x28": (1, 64, 28, 4, 2, 1, False, True),
    "D2 conv 64->128, 14x14": (64, 128, 14, 4, 2, 1, False, False),
    "G1 convT 128->64, 7x7": (128, 64, 7, 4, 2, 1, True, False),
    "G2 convT 64->1, 14x14": (64, 1, 14, 4, 2, 1, True, True),
    "conv 3x3 64->64, 32x32": (64, 64, 32, 3, 1, 1, False, True),
}
BATCH = 64


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", choices=("scratchgen", "torch"), help=argparse.SUPPRESS)
    return parser.parse_args()


def gflop(spec):
    """GFLOP of one step: three passes (forward, input and weight gradient), each a
    multiply-add per (image, C_in, C_out, tap, pixel of the window-sum side: the output of
    a conv, the input of a conv-transpose)."""
    c_in, c_out, size, k, stride, pad, transposed, _ = spec
    small = size if transposed else (size + 2 * pad - k) // stride + 1
    return 3 * 2 * BATCH * small * small * c_in * c_out * k * k / 1e9


def layer_step(library, spec, rng):
    """A closure running one forward + backward of the layer on fixed random data."""
    c_in, c_out, size, k, stride, pad, transposed, bias = spec
    x = rng.standard_normal((BATCH, c_in, size, size)).astype(np.float32)
    if library == "torch":
        import torch
        kind = torch.nn.ConvTranspose2d if transposed else torch.nn.Conv2d
        layer = kind(c_in, c_out, k, stride=stride, padding=pad, bias=bias)
        xt = torch.from_numpy(x).requires_grad_()
        grad = torch.from_numpy(rng.standard_normal(layer(xt).shape).astype(np.float32))

        def step():
            layer.zero_grad()
            xt.grad = None
            layer(xt).backward(grad)
        return step
    import scratchgen as sg
    from scratchgen import nn
    kind = nn.ConvTranspose2d if transposed else nn.Conv2d
    layer = kind(c_in, c_out, k, stride=stride, padding=pad, bias=bias, rng=rng)
    xs = sg.tensor(x, requires_grad=True)
    grad = sg.tensor(rng.standard_normal(layer(xs).shape).astype(np.float32))

    def step():
        layer.zero_grad()
        xs.grad = None
        layer(xs).backward(grad)
    return step


def run_library(library, args):
    """{layer: median ms} in this process, the sgemm peak (scratchgen's child) and pools."""
    from threadpoolctl import threadpool_info, threadpool_limits
    limiter = threadpool_limits(args.threads)  # noqa: F841  (held while timing)
    if library == "torch":
        import torch
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    times = {name: median_ms(layer_step(library, spec, rng), args.repeats)
             for name, spec in LAYERS.items()}
    peak = None
    if library == "scratchgen":
        a = rng.standard_normal((2048, 2048)).astype(np.float32)
        peak = 2 * 2048 ** 3 / median_ms(lambda: a @ a, 5) / 1e6      # GFLOP/s
    pools = [{k: p.get(k) for k in ("internal_api", "version", "num_threads")}
             for p in threadpool_info()]
    return {"times": times, "sgemm_gflops": peak, "threadpools": pools}


def main():
    args = parse_args()
    if args.only:
        print(json.dumps(run_library(args.only, args)))
        return
    samples = {lib: {name: [] for name in LAYERS} for lib in ("scratchgen", "torch")}
    peaks, pools = [], {}
    for _ in range(args.rounds):
        for library in ("scratchgen", "torch"):
            out = subprocess.run(
                [sys.executable, __file__, "--only", library, "--threads", str(args.threads),
                 "--repeats", str(args.repeats)],
                capture_output=True, text=True, check=True, env=child_env(args.threads))
            result = json.loads(out.stdout)
            for name, ms in result["times"].items():
                samples[library][name].append(ms)
            if result["sgemm_gflops"]:
                peaks.append(result["sgemm_gflops"])
            pools[library] = result["threadpools"]
    peak = statistics.median(peaks)
    rows = []
    for name, spec in LAYERS.items():
        ours = statistics.median(samples["scratchgen"][name])
        theirs = statistics.median(samples["torch"][name])
        rate = gflop(spec) / ours * 1e3
        rows.append({"layer": name, "scratchgen_ms": ours, "torch_ms": theirs,
                     "ratio": ours / theirs, "gflops": rate, "of_peak": rate / peak})
    if args.json:
        print(json.dumps({"rows": rows, "sgemm_peak_gflops": peak, "threads": args.threads,
                          "threadpools": pools}, indent=2))
        return
    print(f"conv layers, forward + backward, float32, batch {BATCH}, {args.threads} threads: "
          f"median over {args.rounds} rounds of each library's own process (medians of "
          f"{args.repeats} steps); sgemm peak {peak:.1f} GFLOP/s (NumPy 2048^3)")
    print(f"{'layer':<26}{'scratchgen ms':>15}{'PyTorch ms':>12}{'ratio':>8}{'GFLOP/s':>9}"
          f"{'of peak':>9}")
    for r in rows:
        print(f"{r['layer']:<26}{r['scratchgen_ms']:>15.3f}{r['torch_ms']:>12.3f}"
              f"{r['ratio']:>8.2f}{r['gflops']:>9.1f}{r['of_peak']:>9.2f}")
    for library, lib_pools in pools.items():
        print(f"thread pools ({library}): " + ", ".join(
            f"{p['internal_api']} {p['version']} threads={p['num_threads']}" for p in lib_pools))


if __name__ == "__main__":
    main()
