"""A training step, scratchgen vs PyTorch side by side: a 784-400-20 MLP at batch 128 and a
small CNN on 28x28 images at batch 64 (Adam, cross entropy).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 \
        python benchmarks/bench_train.py [--threads 2] [--json]

(those two variables slow a current NumPy on some machines; unset them for this command
only). Both libraries run in one process with the same thread count; the table gives medians
and the ratio scratchgen / PyTorch (below 1.0: scratchgen is faster).
"""
import argparse
import json
import statistics
import time

import numpy as np

import scratchgen as sg
import scratchgen.nn.functional as F
from scratchgen import nn, optim


def mlp_sg(rng):
    return nn.Sequential(nn.Linear(784, 400, rng=rng), nn.ReLU(), nn.Linear(400, 20, rng=rng))


def cnn_sg(rng):
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),     # 16x14x14
        nn.Conv2d(16, 32, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),    # 32x7x7
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10, rng=rng),
    )


def torch_models(torch):
    tnn = torch.nn
    mlp = tnn.Sequential(tnn.Linear(784, 400), tnn.ReLU(), tnn.Linear(400, 20))
    cnn = tnn.Sequential(
        tnn.Conv2d(1, 16, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(16, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(32 * 7 * 7, 10),
    )
    return mlp, cnn


def median_ms(step, repeats, warmup=3):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def sg_step(model, opt, x, y):
    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step


def torch_step(torch, model, opt, x, y):
    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
        limiter = threadpool_limits(args.threads)
    except ImportError:
        threadpool_info, limiter = None, None

    rng = np.random.default_rng(0)
    cases = {
        "mlp 784-400-20, batch 128": (mlp_sg(rng), rng.standard_normal((128, 784)),
                                      rng.integers(0, 20, 128)),
        "cnn 1-16-32 on 28x28, batch 64": (cnn_sg(rng), rng.standard_normal((64, 1, 28, 28)),
                                           rng.integers(0, 10, 64)),
    }
    try:
        import torch
        torch.set_num_threads(args.threads)
        torch_mlp, torch_cnn = torch_models(torch)
    except ImportError:
        torch = None

    rows = []
    for (name, (model, x, y)), torch_model in zip(cases.items(), (
            (torch_mlp, torch_cnn) if torch else (None, None))):
        x32 = x.astype(np.float32)
        opt = optim.Adam(model.parameters(), lr=1e-3)
        ours = median_ms(sg_step(model, opt, sg.tensor(x32), y), args.repeats)
        theirs = None
        if torch is not None:
            topt = torch.optim.Adam(torch_model.parameters(), lr=1e-3)
            theirs = median_ms(torch_step(torch, torch_model, topt, torch.from_numpy(x32),
                                          torch.from_numpy(y)), args.repeats)
        rows.append({"model": name, "scratchgen_ms": ours, "torch_ms": theirs,
                     "ratio": None if theirs is None else ours / theirs})

    info = {"scratchgen": sg._config.config_dict(), "threads": args.threads,
            "torch": None if torch is None else torch.__version__,
            "threadpools": threadpool_info() if threadpool_info else "threadpoolctl missing"}
    if args.json:
        print(json.dumps({"rows": rows, "info": info}, indent=2, default=str))
        return
    print(f"training step (Adam, cross entropy), float32, median of {args.repeats}, "
          f"{args.threads} threads")
    print(f"{'model':<34}{'scratchgen ms':>15}{'PyTorch ms':>12}{'ratio':>8}")
    for r in rows:
        torch_ms = "-" if r["torch_ms"] is None else f"{r['torch_ms']:.3f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        print(f"{r['model']:<34}{r['scratchgen_ms']:>15.3f}{torch_ms:>12}{ratio:>8}")
    print(f"scratchgen backend: {info['scratchgen']['backend']}, torch: {info['torch']}")
    if threadpool_info:
        for pool in info["threadpools"]:
            print(f"  {pool.get('internal_api')} {pool.get('version')} "
                  f"threads={pool.get('num_threads')}")
    del limiter


if __name__ == "__main__":
    main()
