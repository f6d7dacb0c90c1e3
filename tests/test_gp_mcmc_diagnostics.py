"""MCMC diagnostics: effective sample size against known autocorrelations, split R-hat for
agreeing and disagreeing chains, the printed summary, and bad input."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from scratchgen.gp.mcmc_diagnostics import (_autocovariance, effective_sample_size,
                                            split_rhat, summary)


def ar1(n_chains, n, rho, seed):
    """Stationary AR(1) chains x_t = rho x_{t-1} + sqrt(1 - rho^2) e_t, unit variance."""
    rng = np.random.default_rng(seed)
    x = np.empty((n_chains, n))
    x[:, 0] = rng.standard_normal(n_chains)
    noise = np.sqrt(1 - rho**2) * rng.standard_normal((n_chains, n))
    for t in range(1, n):
        x[:, t] = rho * x[:, t - 1] + noise[:, t]
    return x


def test_ess_of_independent_draws_is_their_number():
    draws = np.random.default_rng(0).standard_normal((4, 1000, 30))
    ess = effective_sample_size(draws)
    assert ess.shape == (30,)
    # The estimate scatters by about 5% around n = 4000 for independent draws.
    assert abs(ess.mean() / 4000 - 1) < 0.05
    assert np.all(np.abs(ess / 4000 - 1) < 0.2)


@pytest.mark.parametrize("rho", [0.5, 0.9])
@pytest.mark.parametrize("n_chains", [1, 4])
def test_ess_of_ar1_chains_matches_the_analytic_value(rho, n_chains):
    n = 40000 // n_chains
    draws = ar1(n_chains, n, rho, seed=1)
    # sum over all lags of rho^|t| = (1 + rho) / (1 - rho)
    expected = n_chains * n * (1 - rho) / (1 + rho)
    (ess,) = effective_sample_size(draws)
    assert abs(ess / expected - 1) < 0.15, (ess, expected)


def test_ess_sees_chains_stuck_apart():
    """Chains that each mix well but sit in different places have far fewer effective draws
    than their count: the between-chain variance enters the autocorrelation."""
    draws = np.random.default_rng(2).standard_normal((4, 1000))
    draws += np.array([0.0, 0.0, 3.0, 3.0])[:, None]
    (ess,) = effective_sample_size(draws)
    assert ess < 400


@given(arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(2, 40)),
              elements=st.floats(-10, 10)))
def test_autocovariance_matches_its_definition(x):
    n = x.shape[1]
    centered = x - x.mean(axis=1, keepdims=True)
    direct = np.stack([(centered[:, :n - t] * centered[:, t:]).sum(axis=1) / n
                       for t in range(n)], axis=1)
    np.testing.assert_allclose(_autocovariance(x), direct, atol=1e-9 * (1 + np.abs(x).max()**2))


@pytest.mark.parametrize("rank_normalized", [True, False])
def test_rhat_near_one_for_chains_of_one_target(rank_normalized):
    draws = ar1(4, 2000, 0.5, seed=3)
    (rhat,) = split_rhat(draws, rank_normalized=rank_normalized)
    assert abs(rhat - 1) < 0.01


@pytest.mark.parametrize("rank_normalized", [True, False])
def test_rhat_large_for_chains_with_different_means(rank_normalized):
    draws = np.random.default_rng(4).standard_normal((4, 500))
    draws[0] += 2.0
    (rhat,) = split_rhat(draws, rank_normalized=rank_normalized)
    assert rhat > 1.1


def test_split_rhat_sees_a_trend_inside_one_chain():
    draws = np.linspace(0.0, 4.0, 1000)[None, :] + np.random.default_rng(5).standard_normal(
        (1, 1000))
    (rhat,) = split_rhat(draws)
    assert rhat > 1.1


def test_rank_normalized_rhat_sees_chains_with_different_spreads():
    """Same mean, different scales: the classic R-hat misses it, the folded ranks do not."""
    draws = np.random.default_rng(6).standard_normal((4, 1000))
    draws[:2] *= 4.0
    (classic,) = split_rhat(draws, rank_normalized=False)
    (ranked,) = split_rhat(draws, rank_normalized=True)
    assert classic < 1.02
    assert ranked > 1.1


def test_summary_prints_and_returns_the_table(capsys):
    rng = np.random.default_rng(7)
    draws = rng.normal([1.0, -2.0], [0.5, 3.0], size=(2, 800, 2))
    result = summary(draws, names=["a", "b"], acceptance_rate=[0.8, 0.9])
    out = capsys.readouterr().out
    assert "a " in out and "b " in out and "R-hat" in out and "0.80, 0.90" in out
    np.testing.assert_allclose(result["mean"], [1.0, -2.0], atol=0.25)
    np.testing.assert_allclose(result["std"], [0.5, 3.0], rtol=0.1)
    assert np.all(result["q05"] < result["mean"]) and np.all(result["mean"] < result["q95"])
    np.testing.assert_allclose(result["ess"], effective_sample_size(draws))
    np.testing.assert_allclose(result["rhat"], split_rhat(draws))
    summary(draws, print_table=False)
    assert capsys.readouterr().out == ""


def test_zero_variance_dimension_gives_nan_ess():
    draws = np.ones((2, 10, 1))
    assert np.isnan(effective_sample_size(draws)[0])


@pytest.mark.parametrize("function", [effective_sample_size, split_rhat, summary])
@pytest.mark.parametrize("bad, message", [
    (np.zeros(10), "shape"),
    (np.zeros((2, 3)), "n_draws >= 4"),
    (np.zeros((2, 10, 1, 1)), "shape"),
    (np.full((2, 10), np.nan), "finite"),
])
def test_bad_draws_are_refused(function, bad, message):
    with pytest.raises(ValueError, match=f"{function.__name__}: .*{message}"):
        function(bad)


def test_summary_needs_one_name_per_dimension():
    with pytest.raises(ValueError, match="summary: expected 2 names"):
        summary(np.zeros((1, 10, 2)) + np.arange(10)[:, None], names=["a"])
