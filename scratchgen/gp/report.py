"""Writing a fitted GP's results: metrics as JSON and, for 1-D inputs, a posterior plot.

Both are written atomically (``scratchgen.serialization.write_atomically``), so an
interrupted run never leaves a half-written file. Plotting needs matplotlib, which comes with
the ``demo`` extra.
"""
import json

import numpy as np

from ..serialization import write_atomically


def write_json(path, payload):
    """Write ``payload`` as indented JSON (NumPy numbers and arrays become plain lists)."""
    def plain(value):
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(f"write_json: cannot store {type(value).__name__} in {path}")

    text = json.dumps(payload, indent=2, default=plain) + "\n"
    write_atomically(path, lambda f: f.write(text.encode("utf-8")))


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            "plotting needs matplotlib: pip install 'scratchgen[demo]'"
        ) from None
    matplotlib.use("Agg")  # files only, no screen needed
    import matplotlib.pyplot as plt
    return plt


def plot_posterior_1d(gp, X, y, path, n_samples=3, rng=0, xlabel="x", ylabel="y", title=None):
    """Plot data, posterior mean, a +-2 standard deviation band and posterior samples.

    Parameters
    ----------
    gp : fitted GaussianProcessRegressor (or SparseGPRegressor) on 1-D inputs
    X : ndarray, shape (n, 1)
    y : ndarray, shape (n,)
    path : str or Path
        Where to write the PNG.
    """
    if X.ndim != 2 or X.shape[1] != 1:
        raise ValueError(f"plot_posterior_1d: needs 1-D inputs of shape (n, 1), got {X.shape}")
    plt = _pyplot()
    span = X.max() - X.min()
    grid = np.linspace(X.min() - 0.05 * span, X.max() + 0.05 * span, 300)[:, None]
    mean, std = gp.predict(grid, return_std=True)
    mean, std = np.ravel(mean), np.ravel(std)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax.fill_between(grid[:, 0], mean - 2 * std, mean + 2 * std, color="tab:blue", alpha=0.2,
                    label="mean +- 2 std")
    if n_samples and hasattr(gp, "sample_y"):
        samples = np.asarray(gp.sample_y(grid, n_samples=n_samples, random_state=rng)).reshape(
            len(grid), -1)
        ax.plot(grid[:, 0], samples, color="tab:blue", lw=0.7, alpha=0.6)
    ax.plot(grid[:, 0], mean, color="tab:blue", lw=2, label="posterior mean")
    ax.scatter(X[:, 0], y, s=8, color="black", alpha=0.6, label="data")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or "Gaussian process posterior")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    write_atomically(path, lambda f: fig.savefig(f, format="png"))
    plt.close(fig)
