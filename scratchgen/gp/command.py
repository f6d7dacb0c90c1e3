"""``scratchgen gp fit``: fit a GP regressor to columns of a CSV file and report the result.

    scratchgen gp fit --csv data.csv --x-cols bmi --y-col target --kernel "rbf + white" --out DIR

writes DIR/hyperparameters.json (the fitted kernel), DIR/metrics.json (log marginal
likelihood, training error) and, for one input column, DIR/posterior.png.
"""
import csv
from pathlib import Path

import numpy as np

from . import kernels
from .regression import GaussianProcessRegressor
from .report import plot_posterior_1d, write_json


def read_csv(path, x_cols=None, y_col=None):
    """Read numeric columns from a CSV file with a header row.

    Parameters
    ----------
    x_cols : list of str, optional
        Input columns (default: every column but the target).
    y_col : str, optional
        Target column (default: the last column).

    Returns
    -------
    X : ndarray (n, d), y : ndarray (n,), x_names : list of str, y_name : str
    """
    path = Path(path)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise ValueError(f"read_csv: {path} needs a header row and at least one data row, "
                         f"found {len(rows)} rows")
    header = [name.strip() for name in rows[0]]
    y_name = y_col if y_col is not None else header[-1]
    x_names = list(x_cols) if x_cols else [name for name in header if name != y_name]
    for name in x_names + [y_name]:
        if name not in header:
            raise ValueError(f"read_csv: column {name!r} is not in {path} (columns: {header})")
    columns = [header.index(name) for name in x_names + [y_name]]
    values = np.empty((len(rows) - 1, len(columns)))
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValueError(f"read_csv: {path} line {line} has {len(row)} fields, the header "
                             f"has {len(header)}")
        try:
            values[line - 2] = [float(row[c]) for c in columns]
        except ValueError:
            raise ValueError(f"read_csv: {path} line {line} has a non-numeric value in columns "
                             f"{x_names + [y_name]}: {row}") from None
    return values[:, :-1], values[:, -1], x_names, y_name


def fit_csv(csv_path, out_dir, kernel="constant * rbf + white", x_cols=None, y_col=None,
            n_restarts=2, normalize_y=True, seed=0, verbose=False):
    """Fit ``GaussianProcessRegressor`` to a CSV file and write the reports to ``out_dir``.

    ``verbose`` shows a progress bar over the optimizer's evaluations.

    Returns the metrics dictionary that was written to metrics.json.
    """
    X, y, x_names, y_name = read_csv(csv_path, x_cols, y_col)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gp = GaussianProcessRegressor(kernels.parse(kernel) if isinstance(kernel, str) else kernel,
                                  n_restarts=n_restarts, normalize_y=normalize_y,
                                  random_state=seed, verbose=verbose)
    gp.fit(X, y)
    residual = gp.predict(X) - y
    metrics = {
        "csv": str(csv_path), "x_cols": x_names, "y_col": y_name, "n": len(y),
        "kernel_spec": kernel if isinstance(kernel, str) else repr(kernel),
        "fitted_kernel": repr(gp.kernel_),
        "log_marginal_likelihood": float(gp.log_marginal_likelihood_value_),
        "train_rmse": float(np.sqrt(np.mean(residual ** 2))),
    }
    write_json(out_dir / "hyperparameters.json", {
        "kernel": repr(gp.kernel_), "hyperparameters": list(gp.kernel_.hyperparameters),
        "theta": gp.kernel_.theta, "exp_theta": np.exp(gp.kernel_.theta),
        "config": gp.kernel_.to_config(),
    })
    write_json(out_dir / "metrics.json", metrics)
    if X.shape[1] == 1:
        plot_posterior_1d(gp, X, y, out_dir / "posterior.png", xlabel=x_names[0], ylabel=y_name,
                          title=repr(gp.kernel_))
    return metrics
