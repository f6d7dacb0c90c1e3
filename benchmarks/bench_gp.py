"""Exact GP regression: scratchgen against scikit-learn, fitting the same kernel side by side.

Both libraries fit ``Constant(1) * RBF(ones(d)) + White(1)`` (ARD length scales) by L-BFGS-B
on the log marginal likelihood, with the same number of restarts and the same seed, to data
drawn from a known function plus noise:

    y = sum_k sin(2 x_k) / sqrt(d) + 0.1 * N(0, 1),   x ~ U(-3, 3)^d,  fixed seed,

and the table reports, for n = 500, 2000, 4000 and d = 1, 5: fit time (median of the runs),
the log marginal likelihood reached, the RMSE on 1000 held-out points, and the time ratio
(scikit-learn / scratchgen). The runs of the two libraries alternate, so a machine that is
busier at some moment slows both.

Run it with a fixed thread count and without CPU-specific OpenBLAS overrides:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 python benchmarks/bench_gp.py

Options: ``--quick`` (n = 500 only), ``--json`` (print the results as JSON instead of the
table), ``--restarts N``, ``--repeats N`` (runs per library for n <= 500; larger n run once
unless given), ``--sizes 500,2000``, ``--dims 1,5``, ``--no-sklearn``.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

from scratchgen.gp import GaussianProcessRegressor, kernels


def make_data(n, d, seed=0, n_test=1000):
    """Training and held-out data from y = sum_k sin(2 x_k) / sqrt(d) + noise."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, (n + n_test, d))
    y = np.sin(2 * X).sum(axis=1) / np.sqrt(d) + 0.1 * rng.standard_normal(n + n_test)
    return X[:n], y[:n], X[n:], y[n:]


def fit_scratchgen(X, y, restarts, seed):
    d = X.shape[1]
    kernel = kernels.Constant(1.0) * kernels.RBF(np.ones(d)) + kernels.White(1.0)
    gp = GaussianProcessRegressor(kernel, n_restarts=restarts, random_state=seed)
    start = time.perf_counter()
    gp.fit(X, y)
    return time.perf_counter() - start, gp


def fit_sklearn(X, y, restarts, seed):
    from sklearn.gaussian_process import GaussianProcessRegressor as SkGPR
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
    d = X.shape[1]
    kernel = ConstantKernel(1.0) * RBF(np.ones(d)) + WhiteKernel(1.0)
    gp = SkGPR(kernel, n_restarts_optimizer=restarts, random_state=seed)
    start = time.perf_counter()
    gp.fit(X, y)
    return time.perf_counter() - start, gp


def measure(n, d, restarts, repeats, use_sklearn, seed=0):
    X, y, X_test, y_test = make_data(n, d, seed)
    runners = {"scratchgen": fit_scratchgen}
    if use_sklearn:
        runners["sklearn"] = fit_sklearn
    times = {name: [] for name in runners}
    models = {}
    for _ in range(repeats):
        for name, fit in runners.items():          # alternate: both see the same load
            seconds, models[name] = fit(X, y, restarts, seed)
            times[name].append(seconds)
    row = {"n": n, "d": d, "restarts": restarts, "repeats": repeats}
    for name, gp in models.items():
        rmse = float(np.sqrt(np.mean((gp.predict(X_test) - y_test) ** 2)))
        row[name] = {"fit_s": statistics.median(times[name]), "fit_s_all": times[name],
                     "lml": float(gp.log_marginal_likelihood_value_), "test_rmse": rmse,
                     "kernel": repr(gp.kernel_)}
    if use_sklearn:
        row["speedup"] = row["sklearn"]["fit_s"] / row["scratchgen"]["fit_s"]
        row["lml_gain"] = row["scratchgen"]["lml"] - row["sklearn"]["lml"]
    return row


def thread_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [{"api": pool.get("internal_api"), "version": pool.get("version"),
             "num_threads": pool.get("num_threads"), "architecture": pool.get("architecture"),
             "library": os.path.basename(pool.get("filepath") or "")}
            for pool in threadpool_info()]


def print_header(use_sklearn):
    header = f"{'n':>5} {'d':>2} {'scratchgen s':>13} {'lml':>12} {'rmse':>7}"
    if use_sklearn:
        header += f" {'sklearn s':>10} {'lml':>12} {'rmse':>7} {'ratio':>6} {'lml diff':>9}"
    print(header, flush=True)


def print_row(row, use_sklearn):
    ours = row["scratchgen"]
    line = (f"{row['n']:>5} {row['d']:>2} {ours['fit_s']:>13.2f} {ours['lml']:>12.4f} "
            f"{ours['test_rmse']:>7.4f}")
    if use_sklearn:
        theirs = row["sklearn"]
        line += (f" {theirs['fit_s']:>10.2f} {theirs['lml']:>12.4f} {theirs['test_rmse']:>7.4f}"
                 f" {row['speedup']:>5.1f}x {row['lml_gain']:>+9.1e}")
    print(line, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="n = 500 only")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--restarts", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per library (default 3 for n <= 500, else 1)")
    parser.add_argument("--sizes", default=None, help="comma-separated n (default 500,2000,4000)")
    parser.add_argument("--dims", default="1,5", help="comma-separated d (default 1,5)")
    parser.add_argument("--no-sklearn", action="store_true", help="time scratchgen only")
    args = parser.parse_args(argv)

    sizes = [500] if args.quick else [int(s) for s in (args.sizes or "500,2000,4000").split(",")]
    dims = [int(d) for d in args.dims.split(",")]
    use_sklearn = not args.no_sklearn
    if use_sklearn:
        try:
            import sklearn
        except ImportError:
            print("scikit-learn is not importable: timing scratchgen only", file=sys.stderr)
            use_sklearn = False
    info = {"threadpools": thread_info(), "numpy": np.__version__,
            "sklearn": sklearn.__version__ if use_sklearn else None}
    if not args.json:
        if info["threadpools"] is None:
            print("threadpools: threadpoolctl not installed")
        for pool in info["threadpools"] or []:
            print("threadpool:", ", ".join(f"{key}={value}" for key, value in pool.items()))
        print(f"kernel: Constant(1) * RBF(ones(d)) + White(1); restarts: {args.restarts}; "
              "s = median fit seconds; ratio = sklearn s / scratchgen s; "
              "lml diff = scratchgen - sklearn")
        print_header(use_sklearn)
    rows = []
    for n in sizes:
        for d in dims:
            repeats = args.repeats or (3 if n <= 500 else 1)
            rows.append(measure(n, d, args.restarts, repeats, use_sklearn))
            if not args.json:
                print_row(rows[-1], use_sklearn)
    if args.json:
        print(json.dumps({"info": info, "results": rows}, indent=2))
    return rows


if __name__ == "__main__":
    main()
