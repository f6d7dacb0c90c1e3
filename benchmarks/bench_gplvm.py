"""GP latent variable models on the digits: scratchgen against GPy and PCA, one process per fit.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_gplvm.py \\
        --gpy-python PATH/TO/GPY-VENV/bin/python [--latent-dims 2 5] [--inducing 50] \\
        [--iters 1000] [--threads 2] [--models pca bgplvm gplvm] [--repeats 1] [--json]

Data: scikit-learn's digits, Y = pixels / 16 with each column centred (1797 x 64). For each
latent dimension Q the table gives the fit time (construction + optimisation, seconds; the
median over --repeats; "cpu s" is the process's CPU time over all its threads), the final
objective in nats as each library reports it on this Y (Bayesian GP-LVM: the collapsed
variational bound with KL(q(X) || p(X)) subtracted; GP-LVM: the log likelihood), the 5-fold
1-nearest-neighbour accuracy of the latent means (KNeighborsClassifier(1),
StratifiedKFold(5, shuffle=True, random_state=0), computed in this process for every row;
"1-NN u" is the same with unshuffled folds, scikit-learn's ``cv=5``, which scores lower on
the digits: PCA, Q = 5 gives 0.899 shuffled, 0.864 unshuffled), how many latent dimensions
the ARD kernel kept (inverse squared length scale at least 1% of the largest) and the
optimiser's function evaluations and iterations. Every fit runs in a subprocess with
OMP/OPENBLAS/MKL_NUM_THREADS = --threads and without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE;
the GPy and scratchgen fits alternate when --repeats > 1, so a machine that is busier at some
moment slows both. GPy runs in the Python given by --gpy-python (a separate environment: GPy
may pin older numpy/scipy); without it the GPy rows are skipped.

What GPy does by default (GPy 1.15, paramz 0.10), so that both sides fit the same model:

- BayesianGPLVM(Y, Q, num_inducing=m): X mean = PCA of Y with every column *standardised*
  (zero-variance columns left at 0), the Q projections then standardised to unit variance;
  X variance ~ U(0, 0.1); Z = m random rows of the initial X mean; kernel RBF with ARD,
  variance 1, length scale_q = lambda_1 / lambda_q (eigenvalues of the standardised Y's
  covariance, so 1 for the first component and longer for the others); Gaussian noise
  variance 1; Z, kernel and noise are all optimised. log_likelihood() is the bound with the
  KL term subtracted; no prior on Z or the hyperparameters; Y is not centred or scaled.
- GPLVM(Y, Q): X = the same standardised PCA init, free parameters with *no* prior (maximum
  likelihood, not MAP); kernel RBF(ARD, variance 1, length scale_q = lambda_q / lambda_1, i.e.
  the inverse of the Bayesian model's) + Bias(variance exp(-2)); noise variance 1;
  log_likelihood() = log N(Y | 0, K + noise I) summed over the 64 columns.
- m.optimize(max_iters=1000) calls scipy.optimize.fmin_l_bfgs_b(maxiter=1000, maxfun=1000),
  default factr/pgtol: the budget is whichever of 1000 iterations or 1000 function+gradient
  evaluations comes first (in practice the evaluations), all parameters positive through
  softplus (Logexp). All random choices use numpy's global generator, seeded here.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

LIBRARIES = ("gpy", "scratchgen")
MODELS = ("pca", "bgplvm", "gplvm")
ARD_KEPT = 1e-2        # a latent dimension counts as kept if its 1 / l^2 >= 1% of the largest


def load_digits_centred():
    """The digits as (Y, labels): Y = pixels / 16, each column centred, shape (1797, 64)."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    Y = digits.data / 16.0
    return Y - Y.mean(axis=0), digits.target


def thread_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [{"api": pool.get("internal_api"), "version": pool.get("version"),
             "num_threads": pool.get("num_threads"), "architecture": pool.get("architecture"),
             "library": os.path.basename(pool.get("filepath") or "")}
            for pool in threadpool_info()]


def ard_kept(length_scales):
    if length_scales is None:
        return None
    weight = 1.0 / np.asarray(length_scales, dtype=float).ravel() ** 2
    return int(np.sum(weight >= ARD_KEPT * weight.max()))


# ---- workers: each runs in its own process and writes one JSON file -----------------------

def fit_pca(Y, Q, args):
    from sklearn.decomposition import PCA
    start, cpu_start = time.perf_counter(), time.process_time()
    latent = PCA(n_components=Q).fit_transform(Y)
    return {"fit_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu_start,
            "latent": latent}


def fit_gpy(Y, Q, args):
    import GPy
    import scipy.optimize
    # NOTE: paramz calls scipy.optimize.fmin_l_bfgs_b and keeps only the evaluation count;
    # wrapping it (in this process only) records the iteration count and the stop reason, and
    # reports progress on stderr every 50 evaluations (shown if the fit times out).
    calls = []
    lbfgsb = scipy.optimize.fmin_l_bfgs_b

    def recording_lbfgsb(func, x0, *a, **kw):
        count = [0]

        def logged(x):
            value = func(x)                # (negative objective, gradient)
            count[0] += 1
            if count[0] % 50 == 0:
                print(f"GPy: {count[0]} evaluations in {time.perf_counter() - start:.0f} s, "
                      f"objective {-float(value[0]):,.1f}", file=sys.stderr, flush=True)
            return value
        result = lbfgsb(logged, x0, *a, **kw)
        calls.append(result[2])
        return result
    scipy.optimize.fmin_l_bfgs_b = recording_lbfgsb
    np.random.seed(args.seed)          # GPy draws X variance and Z from the global generator
    start, cpu_start = time.perf_counter(), time.process_time()
    if args.model == "bgplvm":
        m = GPy.models.BayesianGPLVM(Y, Q, num_inducing=args.inducing)
    else:
        m = GPy.models.GPLVM(Y, Q)
    m.optimize(max_iters=args.iters)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    if args.model == "bgplvm":
        latent, rbf = m.X.mean.values, m.kern
    else:
        latent, rbf = m.X.values, m.kern.rbf
    info = calls[-1] if calls else {}
    objective = float(np.ravel(m.log_likelihood())[0])      # BayesianGPLVM gives a (1, 1) array
    return {"fit_s": seconds, "cpu_s": cpu_seconds, "latent": latent, "objective": objective,
            "length_scales": np.asarray(rbf.lengthscale.values).tolist(),
            "kernel_variance": float(rbf.variance.values[0]),
            "noise_variance": float(m.likelihood.variance.values[0]),
            "nfev": info.get("funcalls"), "nit": info.get("nit"),
            "stop": str(info.get("task", ""))}


def find_length_scale(kernel):
    """The length scales of the first RBF-like kernel in a (possibly composite) kernel."""
    if kernel is None:
        return None
    for name in ("length_scale", "lengthscale"):
        if hasattr(kernel, name):
            return np.asarray(getattr(kernel, name), dtype=float).tolist()
    for part in ("k1", "k2"):
        found = find_length_scale(getattr(kernel, part, None))
        if found is not None:
            return found
    return None


def fit_scratchgen(Y, Q, args):
    from scratchgen import gp
    name = "BayesianGPLVM" if args.model == "bgplvm" else "GPLVM"
    if not hasattr(gp, name):
        return {"available": False, "note": f"scratchgen.gp.{name} not available"}
    if args.model == "bgplvm":
        model = gp.BayesianGPLVM(latent_dim=Q, n_inducing=args.inducing, max_iter=args.iters,
                                 random_state=args.seed)
    else:
        model = gp.GPLVM(latent_dim=Q, max_iter=args.iters, random_state=args.seed)
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(Y)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    if args.model == "bgplvm":
        latent, objective = model.latent_mean_, model.elbo_
    else:
        latent, objective = model.latent_, model.log_marginal_likelihood_value_
    return {"fit_s": seconds, "cpu_s": cpu_seconds, "latent": latent,
            "objective": float(objective),
            "length_scales": find_length_scale(getattr(model, "kernel_", None)),
            "nfev": getattr(model, "n_fev_", None), "nit": getattr(model, "n_iter_", None)}


def worker(args):
    Y, _ = load_digits_centred()
    fit = {"pca": fit_pca, "gpy": fit_gpy, "scratchgen": fit_scratchgen}[args.library]
    result = fit(Y, args.q, args)
    if "latent" in result:
        result["latent"] = np.asarray(result["latent"], dtype=float).tolist()
    result["threadpools"] = thread_info()
    result["versions"] = {"python": sys.version.split()[0], "numpy": np.__version__}
    if args.library == "gpy":
        import GPy
        import paramz
        import scipy
        result["versions"].update(GPy=GPy.__version__, paramz=paramz.__version__,
                                  scipy=scipy.__version__)
    with open(args.worker, "w") as f:
        json.dump(result, f)


# ---- the driver ------------------------------------------------------------------------------

def run_worker(python, library, model, q, args):
    """Fit one model in a fresh process with pinned threads; returns its result dict."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    if library == "gpy":
        env.pop("PYTHONPATH", None)            # the GPy environment needs nothing of ours
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        cmd = [python, os.path.abspath(__file__), "--worker", out, "--library", library,
               "--model", model, "--q", str(q), "--inducing", str(args.inducing),
               "--iters", str(args.iters), "--seed", str(args.seed)]
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                                  timeout=args.timeout)
        except subprocess.TimeoutExpired as exc:
            err = exc.stderr or b""
            err = err.decode(errors="replace") if isinstance(err, bytes) else err
            last = err.strip().splitlines()[-1:] or [""]
            return {"error": f"timed out after {args.timeout:g} s; {last[0]}"}
        if proc.returncode != 0 or not os.path.exists(out):
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}
        with open(out) as f:
            return json.load(f)


def one_nn_accuracy(latent, labels, shuffle=True):
    """Mean 5-fold accuracy of a 1-nearest-neighbour classifier on the latent means.

    NOTE: the digits are stored roughly in collection order, so the unshuffled folds
    (scikit-learn's ``cv=5``) score lower: PCA, Q = 5 gives 0.864 there and 0.899 shuffled.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    cv = StratifiedKFold(5, shuffle=True, random_state=0) if shuffle else StratifiedKFold(5)
    return float(cross_val_score(KNeighborsClassifier(1), np.asarray(latent), labels,
                                 cv=cv).mean())


def summarise(results, labels):
    """One table row from the runs of one (library, model, Q): median time, last fit's values."""
    ok = [r for r in results if "error" not in r and r.get("available", True)]
    if not ok:
        first = results[0]
        return {"note": first.get("error") or first.get("note")}
    last = ok[-1]
    return {"fit_s": statistics.median(r["fit_s"] for r in ok),
            "cpu_s": statistics.median(r["cpu_s"] for r in ok),
            "fit_s_all": [round(r["fit_s"], 2) for r in ok],
            "objective": last.get("objective"), "acc_1nn": one_nn_accuracy(last["latent"], labels),
            "acc_1nn_unshuffled": one_nn_accuracy(last["latent"], labels, shuffle=False),
            "ard_kept": ard_kept(last.get("length_scales")),
            "nfev": last.get("nfev"), "nit": last.get("nit"), "stop": last.get("stop"),
            "length_scales": last.get("length_scales"),
            "noise_variance": last.get("noise_variance"),
            "threadpools": last.get("threadpools"), "versions": last.get("versions")}


def fmt(value, spec):
    """format(value, spec), or a dash of the same width for a missing value."""
    if value is None:
        return format("-", ">" + spec.lstrip("<>^").split(",")[0].split(".")[0])
    return format(value, spec)


def print_row(q, model, library, row):
    if "note" in row:
        print(f"{q:>2} {model:<7} {library:<11} {row['note']}", flush=True)
        return
    print(f"{q:>2} {model:<7} {library:<11} {row['fit_s']:>8.1f} {row['cpu_s']:>8.1f} "
          f"{fmt(row['objective'], '>11,.1f')} {row['acc_1nn']:>6.3f} "
          f"{row['acc_1nn_unshuffled']:>6.3f} {fmt(row['ard_kept'], '>4')} "
          f"{fmt(row['nfev'], '>5')} {fmt(row['nit'], '>5')}   {row['fit_s_all']}", flush=True)


def print_environment(library, row, shown):
    if library in shown or "threadpools" not in row:
        return
    shown.add(library)
    print(f"[{library}] versions:", ", ".join(f"{k}={v}" for k, v in row["versions"].items()))
    for pool in row["threadpools"] or []:
        print(f"[{library}] threadpool:", ", ".join(f"{k}={v}" for k, v in pool.items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gpy-python", default=None, help="a Python with GPy installed")
    parser.add_argument("--latent-dims", type=int, nargs="+", default=[2, 5])
    parser.add_argument("--inducing", type=int, default=50)
    parser.add_argument("--iters", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--libraries", nargs="+", choices=LIBRARIES, default=list(LIBRARIES))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per fit")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON as well")
    # internal: run one fit and write its result to the given file
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--library", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--model", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--q", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    libraries = list(args.libraries)
    if "gpy" in libraries and not (args.gpy_python and os.path.exists(args.gpy_python)):
        reason = "not given" if not args.gpy_python else f"not found: {args.gpy_python}"
        print(f"GPy rows skipped: --gpy-python {reason}")
        libraries.remove("gpy")
    pythons = {"gpy": args.gpy_python, "scratchgen": sys.executable, "pca": sys.executable}
    _, labels = load_digits_centred()
    print(f"digits 1797 x 64 (pixels / 16, centred); m = {args.inducing} inducing points; "
          f"{args.iters} optimiser iterations; {args.threads} threads; "
          f"repeats = {args.repeats}; seed = {args.seed}")
    print(f"{'Q':>2} {'model':<7} {'library':<11} {'fit s':>8} {'cpu s':>8} "
          f"{'objective':>11} {'1-NN':>6} {'1-NN u':>6} {'ARD':>4} {'nfev':>5} {'nit':>5}"
          "   fit s (each)", flush=True)
    rows, shown = [], set()
    for q in args.latent_dims:
        for model in args.models:
            libs = ["pca"] if model == "pca" else libraries
            runs = {lib: [] for lib in libs}
            for _ in range(1 if model == "pca" else args.repeats):
                for lib in libs:                          # alternate the libraries
                    runs[lib].append(run_worker(pythons[lib], lib, model, q, args))
                    if lib == "scratchgen" and runs[lib][-1].get("available") is False:
                        libs = [x for x in libs if x != "scratchgen"]
            summary = {}
            for lib, results in runs.items():
                summary[lib] = summarise(results, labels)
                print_row(q, model, lib, summary[lib])
                rows.append({"q": q, "model": model, "library": lib, **summary[lib]})
            if "fit_s" in summary.get("gpy", {}) and "fit_s" in summary.get("scratchgen", {}):
                ours, theirs = summary["scratchgen"], summary["gpy"]
                print(f"{q:>2} {model:<7} ratio       time scratchgen / GPy = "
                      f"{ours['fit_s'] / theirs['fit_s']:.3f}; objective scratchgen - GPy = "
                      f"{ours['objective'] - theirs['objective']:+,.1f} nats", flush=True)
    for row in rows:
        print_environment(row["library"], row, shown)
    print(f"objective: nats on this Y (bgplvm: bound incl. -KL; gplvm: log likelihood); "
          f"ARD: dims with 1/l^2 >= {ARD_KEPT:g} x max")
    if args.json:
        print(json.dumps([{k: v for k, v in row.items() if k != "threadpools"} for row in rows]))


if __name__ == "__main__":
    main()
