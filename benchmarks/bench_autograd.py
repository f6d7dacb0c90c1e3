"""Autograd overhead: a training step of a 784-400-20 MLP at batch 128, by scratchgen's
autograd and by the same forward and backward written out by hand in NumPy.

The claim under test: without ``create_graph`` the backward pass records nothing and costs no
more than a plain NumPy backward, so the ratio should be close to 1.

    python benchmarks/bench_autograd.py [--repeats 50] [--dtype float32] [--json]

Runs both sides in one process with the same BLAS thread count; prints medians and the ratio.
"""
import argparse
import json
import statistics
import time

import numpy as np

import scratchgen as sg


def make_problem(dtype, batch=128, sizes=(784, 400, 20), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(dtype)
    labels = rng.integers(0, sizes[2], batch)
    w1 = (rng.standard_normal(sizes[:2]) / np.sqrt(sizes[0])).astype(dtype)
    w2 = (rng.standard_normal(sizes[1:]) / np.sqrt(sizes[1])).astype(dtype)
    return x, labels, w1, w2


def numpy_step(x, labels, w1, w2):
    """Forward and backward by hand: h = tanh(x W1), L = mean(-log softmax(h W2)[label])."""
    n = len(labels)
    h = np.tanh(x @ w1)
    logits = h @ w2
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_p[np.arange(n), labels].mean()
    grad_logits = np.exp(log_p)
    grad_logits[np.arange(n), labels] -= 1.0
    grad_logits /= n
    grad_w2 = h.T @ grad_logits
    grad_h = grad_logits @ w2.T
    grad_w1 = x.T @ (grad_h * (1.0 - h * h))
    return loss, grad_w1, grad_w2


def scratchgen_step(x, labels, w1, w2):
    w1.grad = w2.grad = None
    log_p = (x @ w1).tanh().matmul(w2).log_softmax(axis=1)
    loss = -log_p[np.arange(len(labels)), labels].mean()
    loss.backward()
    return loss.item(), w1.grad.data, w2.grad.data


def median_ms(step, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()

    x, labels, w1, w2 = make_problem(np.dtype(args.dtype))
    tx = sg.tensor(x)
    tw1, tw2 = sg.tensor(w1, requires_grad=True), sg.tensor(w2, requires_grad=True)

    expected, ours = numpy_step(x, labels, w1, w2), scratchgen_step(tx, labels, tw1, tw2)
    for a, b in zip(expected, ours):  # same numbers, or the timing means nothing
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)

    results = {}
    for backend in sg.backend.available():
        with sg.backend.use(backend):
            for _ in range(3):  # warm up
                numpy_step(x, labels, w1, w2), scratchgen_step(tx, labels, tw1, tw2)
            numpy_ms = median_ms(lambda: numpy_step(x, labels, w1, w2), args.repeats)
            ours_ms = median_ms(lambda: scratchgen_step(tx, labels, tw1, tw2), args.repeats)
        results[backend] = {"numpy_by_hand_ms": numpy_ms, "scratchgen_ms": ours_ms,
                            "ratio": ours_ms / numpy_ms}

    info = {"dtype": args.dtype, "batch": 128, "layers": "784-400-20", "repeats": args.repeats,
            "config": sg._config.config_dict()}
    try:
        from threadpoolctl import threadpool_info
        info["threadpools"] = threadpool_info()
    except ImportError:
        info["threadpools"] = "threadpoolctl not installed"
    if args.json:
        print(json.dumps({"info": info, "results": results}, indent=2, default=str))
        return
    print(f"MLP 784-400-20 training step, batch 128, {args.dtype}, median of {args.repeats}")
    print(f"{'backend':<10}{'numpy by hand (ms)':>20}{'scratchgen (ms)':>18}{'ratio':>8}")
    for backend, r in results.items():
        print(f"{backend:<10}{r['numpy_by_hand_ms']:>20.3f}{r['scratchgen_ms']:>18.3f}"
              f"{r['ratio']:>8.2f}")
    if isinstance(info["threadpools"], list):
        for pool in info["threadpools"]:
            print(f"  {pool.get('internal_api')} {pool.get('version')} "
                  f"threads={pool.get('num_threads')} ({pool.get('filepath')})")


if __name__ == "__main__":
    main()
