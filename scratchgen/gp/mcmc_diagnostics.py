"""Convergence diagnostics for MCMC draws: effective sample size, split R-hat, a summary table.

All functions take draws of shape (n_chains, n_draws) or (n_chains, n_draws, n_dims) and judge
each dimension on its own.

Effective sample size (Geyer 1992; Vehtari, Gelman, Simpson, Carpenter and Buerkner 2021,
"Rank-normalization, folding, and localization: an improved R-hat", section 3.2). For M chains
of N draws, with chain autocovariances c_m(t) (lag t) and W = mean_m c_m(0) N / (N - 1),

    var+ = (N - 1) / N W + var(chain means),      rho(t) = 1 - (W - mean_m c_m(t)) / var+,

the autocorrelation of all chains together (a chain stuck away from the others shows up as
correlation). Geyer's initial positive sequence sums the pairs P_k = rho(2k) + rho(2k + 1)
while they are positive, his initial monotone sequence makes them non-increasing, and

    ESS = M N / tau,      tau = -1 + 2 sum_k P_k.

Split R-hat (Gelman et al., BDA3, section 11.4): split each chain in halves, so a trend inside
a chain counts as disagreement; with W the mean within-half variance and B / n the variance of
the half means (n draws per half), R-hat = sqrt(((n - 1) / n W + B / n) / W), which is 1 for
chains that sample one distribution and grows when they disagree. The rank-normalized version
(Vehtari et al. 2021) computes it on normal scores of the pooled ranks, and also on those of
|x - median| (which catches chains that differ in spread), and reports the larger.
"""
import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata

__all__ = ["effective_sample_size", "split_rhat", "summary"]


def _as_draws(samples, caller, min_draws):
    """``samples`` as a float array of shape (n_chains, n_draws, n_dims)."""
    draws = np.asarray(samples, dtype=np.float64)
    if draws.ndim == 2:
        draws = draws[:, :, None]
    if draws.ndim != 3 or draws.shape[0] < 1 or draws.shape[1] < min_draws \
            or draws.shape[2] < 1:
        raise ValueError(f"{caller}: samples must have shape (n_chains, n_draws) or (n_chains, "
                         f"n_draws, n_dims) with n_draws >= {min_draws}, got shape "
                         f"{np.shape(samples)}")
    if not np.all(np.isfinite(draws)):
        raise ValueError(f"{caller}: samples must be finite")
    return draws


def _autocovariance(x):
    """Biased autocovariance c(t) = 1/N sum_i (x_i - mean)(x_{i+t} - mean) along axis 1, by FFT."""
    n = x.shape[1]
    centered = x - x.mean(axis=1, keepdims=True)
    size = 2 ** int(np.ceil(np.log2(2 * n)))         # zero padding: no wrap-around
    spectrum = np.fft.rfft(centered, n=size, axis=1)
    return np.fft.irfft(spectrum * spectrum.conj(), n=size, axis=1)[:, :n] / n


def effective_sample_size(samples):
    """Effective sample size of each dimension, over all chains (see the module docstring).

    Parameters
    ----------
    samples : array_like, shape (n_chains, n_draws) or (n_chains, n_draws, n_dims)
        n_draws >= 4.

    Returns
    -------
    ndarray, shape (n_dims,)
        About n_chains * n_draws for independent draws, fewer for correlated ones; more for
        antithetic chains (capped at n_chains * n_draws * log10(n_chains * n_draws), Stan's
        cap). NaN for a dimension that never moves (zero variance).
    """
    draws = _as_draws(samples, "effective_sample_size", 4)
    return np.array([_ess_1d(draws[:, :, j]) for j in range(draws.shape[2])])


def _ess_1d(x):
    """ESS of one dimension, x of shape (n_chains, n_draws)."""
    n_chains, n = x.shape
    acov = _autocovariance(x)                                         # (M, N)
    within = acov[:, 0].mean() * n / (n - 1)
    var_plus = within * (n - 1) / n
    if n_chains > 1:
        var_plus += x.mean(axis=1).var(ddof=1)
    if var_plus <= 0:
        return np.nan
    rho = 1.0 - (within - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    pairs = rho[:n - n % 2].reshape(-1, 2).sum(axis=1)               # P_k = rho(2k) + rho(2k+1)
    negative = np.flatnonzero(pairs < 0)
    pairs = pairs[:negative[0]] if negative.size else pairs          # initial positive sequence
    pairs = np.minimum.accumulate(pairs)                             # initial monotone sequence
    tau = max(-1.0 + 2.0 * pairs.sum(), 1.0 / np.log10(n_chains * n))
    return n_chains * n / tau


def split_rhat(samples, rank_normalized=True):
    """Potential scale reduction factor R-hat of each dimension, on split chains.

    Parameters
    ----------
    samples : array_like, shape (n_chains, n_draws) or (n_chains, n_draws, n_dims)
        n_draws >= 4 (each chain is split into two halves).
    rank_normalized : bool
        True: Vehtari et al. (2021), the larger of the split R-hats of the normal scores of
        the ranks and of the folded draws |x - median|. False: the classic split R-hat of
        BDA3 on the draws themselves.

    Returns
    -------
    ndarray, shape (n_dims,)
        Near 1 when the chains agree; above 1.01 (Vehtari et al.) or 1.1 (BDA3's looser
        rule) is a sign that they have not converged.
    """
    draws = _as_draws(samples, "split_rhat", 4)
    half = draws.shape[1] // 2
    # (2 M, n, d): the first and last halves of each chain (the middle draw of an odd chain
    # is left out)
    halves = np.concatenate([draws[:, :half], draws[:, draws.shape[1] - half:]], axis=0)
    if not rank_normalized:
        return _rhat(halves)
    folded = np.abs(halves - np.median(halves.reshape(-1, halves.shape[2]), axis=0))
    return np.maximum(_rhat(_normal_scores(halves)), _rhat(_normal_scores(folded)))


def _rhat(chains):
    """Classic R-hat of chains (M, n, d), already split."""
    n = chains.shape[1]
    within = chains.var(axis=1, ddof=1).mean(axis=0)                 # W
    between_over_n = chains.mean(axis=1).var(axis=0, ddof=1)         # B / n
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(((n - 1) / n * within + between_over_n) / within)


def _normal_scores(chains):
    """Phi^-1((r - 3/8) / (S + 1/4)) of the pooled ranks r (Blom's), ties sharing a rank."""
    flat = chains.reshape(-1, chains.shape[2])
    ranks = rankdata(flat, axis=0)
    return ndtri((ranks - 0.375) / (flat.shape[0] + 0.25)).reshape(chains.shape)


def summary(samples, names=None, acceptance_rate=None, file=None, max_rows=None,
            print_table=True):
    """Print a table of posterior summaries and diagnostics per dimension; return them.

    Parameters
    ----------
    samples : array_like, shape (n_chains, n_draws) or (n_chains, n_draws, n_dims)
    names : list of str, optional
        One per dimension (default ``x[0]``, ``x[1]``, ...).
    acceptance_rate : array_like, shape (n_chains,), optional
        Printed below the table when given.
    file : file-like, optional
        Where to print (default standard output).
    max_rows : int, optional
        Print at most this many rows, those with the largest R-hat first (for many dims).
    print_table : bool
        False only returns the dict.

    Returns
    -------
    dict
        ``names``, ``mean``, ``std``, ``q05``, ``q95`` (ndarrays of shape (n_dims,)), ``ess``,
        ``rhat`` (rank-normalized split R-hat) and ``acceptance_rate`` (None if not given).
    """
    draws = _as_draws(samples, "summary", 4)
    n_dims = draws.shape[2]
    names = [f"x[{j}]" for j in range(n_dims)] if names is None else list(names)
    if len(names) != n_dims:
        raise ValueError(f"summary: expected {n_dims} names (one per dimension), got "
                         f"{len(names)}")
    flat = draws.reshape(-1, n_dims)
    result = {"names": names, "mean": flat.mean(axis=0), "std": flat.std(axis=0),
              "q05": np.quantile(flat, 0.05, axis=0), "q95": np.quantile(flat, 0.95, axis=0),
              "ess": effective_sample_size(draws), "rhat": split_rhat(draws),
              "acceptance_rate": (None if acceptance_rate is None
                                  else np.asarray(acceptance_rate, dtype=np.float64))}
    if print_table:
        print(format_summary(result, draws.shape[:2], max_rows), file=file)
    return result


def format_summary(result, shape, max_rows=None):
    """The text table ``summary`` prints, for a result dict and (n_chains, n_draws)."""
    width = max(12, *(len(name) for name in result["names"]))
    lines = [f"{shape[0]} chain(s) x {shape[1]} draws",
             f"{'':{width}} {'mean':>10} {'std':>10} {'5%':>10} {'95%':>10} {'ESS':>8} "
             f"{'R-hat':>7}"]
    order = np.arange(len(result["names"]))
    if max_rows is not None and len(order) > max_rows:
        order = np.argsort(-np.nan_to_num(result["rhat"], nan=np.inf))[:max_rows]
        lines[0] += f"; the {max_rows} of {len(result['names'])} rows with the largest R-hat"
    for j in order:
        lines.append(f"{result['names'][j]:{width}} {result['mean'][j]:10.4g} "
                     f"{result['std'][j]:10.4g} {result['q05'][j]:10.4g} "
                     f"{result['q95'][j]:10.4g} {result['ess'][j]:8.0f} "
                     f"{result['rhat'][j]:7.3f}")
    if result["acceptance_rate"] is not None:
        rates = ", ".join(f"{rate:.2f}" for rate in result["acceptance_rate"])
        lines.append(f"acceptance rate per chain: {rates}")
    return "\n".join(lines)
