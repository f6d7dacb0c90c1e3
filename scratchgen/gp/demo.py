"""The Gaussian-process part of ``scratchgen demo``, on real data that ships with scikit-learn.

Gaussian-process regression on the diabetes data (Efron et al., 2004; 442 patients): first
disease progression against body-mass index alone, then against all ten features with an ARD
kernel that learns one length scale per feature. Each fit maximizes the log marginal
likelihood; the demo prints the fitted kernel, the log marginal likelihood and the error on a
held-out quarter of the patients, and writes ``gp_bmi.png`` to the output folder.
"""
import time
from pathlib import Path

import numpy as np

from ..random_state import check_random_state
from . import kernels
from .regression import GaussianProcessRegressor
from .report import plot_posterior_1d


def _load_diabetes():
    try:
        from sklearn.datasets import load_diabetes
    except ImportError:
        raise ImportError("scratchgen demo needs scikit-learn for its bundled data: "
                          "pip install 'scratchgen[demo]'") from None
    data = load_diabetes()  # bundled with scikit-learn: nothing is downloaded
    return data.data, data.target.astype(float), list(data.feature_names)


def _split(n, test_fraction, seed):
    order = check_random_state(seed, "demo", name="seed").permutation(n)
    n_test = int(round(test_fraction * n))
    return order[n_test:], order[:n_test]


def _fit_and_score(name, kernel, X, y, train, test, seed, say):
    start = time.perf_counter()
    gp = GaussianProcessRegressor(kernel, n_restarts=2, normalize_y=True, random_state=seed)
    gp.fit(X[train], y[train])
    seconds = time.perf_counter() - start
    mean, std = gp.predict(X[test], return_std=True)
    rmse = float(np.sqrt(np.mean((mean - y[test]) ** 2)))
    baseline = float(np.sqrt(np.mean((y[train].mean() - y[test]) ** 2)))
    noise = float(np.mean((mean - y[test]) ** 2 / (std ** 2 + 1e-12)))
    say(f"\n== {name} ==")
    say(f"fitted kernel: {gp.kernel_}")
    say(f"log marginal likelihood: {gp.log_marginal_likelihood_value_:.3f}")
    say(f"held-out RMSE: {rmse:.2f} (predicting the training mean: {baseline:.2f}); "
        f"R^2 {gp.score(X[test], y[test]):.3f}; fit {seconds:.2f} s")
    return gp, {
        "fitted_kernel": repr(gp.kernel_),
        "log_marginal_likelihood": float(gp.log_marginal_likelihood_value_),
        "test_rmse": rmse, "baseline_rmse": baseline,
        "test_r2": float(gp.score(X[test], y[test])),
        "mean_squared_z": noise, "fit_seconds": seconds,
        "n_train": int(len(train)), "n_test": int(len(test)),
    }


def run_gp_demo(out_dir, seed=0, say=print):
    """Fit the two GPs, write ``out_dir/gp_bmi.png``; return their metrics."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    X, y, names = _load_diabetes()
    train, test = _split(len(y), 0.25, seed)
    say(f"diabetes data: {len(y)} patients, {X.shape[1]} features; "
        f"{len(train)} to fit, {len(test)} held out")

    bmi = X[:, [names.index("bmi")]]
    smooth = kernels.Constant(1.0) * kernels.RBF(1.0) + kernels.White(0.5)
    gp_bmi, bmi_metrics = _fit_and_score("progression ~ body-mass index", smooth, bmi, y, train,
                                         test, seed, say)
    ard = kernels.Constant(1.0) * kernels.RBF(np.ones(X.shape[1])) + kernels.White(0.5)
    gp_all, all_metrics = _fit_and_score("progression ~ all 10 features (ARD)", ard, X, y,
                                         train, test, seed, say)
    relevance = sorted(zip(gp_all.kernel_.k1.k2.length_scale, names))
    say("most relevant features (shortest length scales): "
        + ", ".join(f"{n} ({ls:.2g})" for ls, n in relevance[:4]))

    metrics = {"gp_bmi": bmi_metrics, "gp_all_features": all_metrics}
    try:
        plot_posterior_1d(gp_bmi, bmi[train], y[train], out_dir / "gp_bmi.png",
                          xlabel="body-mass index (standardized)",
                          ylabel="disease progression after one year",
                          title=f"GP posterior: {gp_bmi.kernel_}")
    except ImportError as err:
        say(f"no GP plot: {err}")
    return metrics
