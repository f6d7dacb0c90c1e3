"""scratchgen.random_state.check_random_state: the one seed rule, and everything that uses it."""
import numpy as np
import pytest

import scratchgen as sg
from scratchgen import data, nn
from scratchgen.random_state import check_random_state


def test_none_gives_fresh_generators():
    a, b = check_random_state(None), check_random_state(None)
    assert isinstance(a, np.random.Generator) and a is not b
    assert a.random() != b.random()


@pytest.mark.parametrize("seed", [0, 7, np.int64(7), np.uint8(3)])
def test_an_int_seeds_default_rng(seed):
    rng = check_random_state(seed)
    np.testing.assert_array_equal(rng.random(4), np.random.default_rng(int(seed)).random(4))


def test_a_generator_is_returned_as_it_is():
    rng = np.random.default_rng(0)
    assert check_random_state(rng) is rng


def test_a_seed_sequence_seeds_default_rng():
    sequence = np.random.SeedSequence(1234)
    np.testing.assert_array_equal(check_random_state(sequence).random(3),
                                  np.random.default_rng(np.random.SeedSequence(1234)).random(3))


@pytest.mark.parametrize("bad, shown", [("abc", r"'abc' \(str\)"), (0.5, r"0.5 \(float\)"),
                                        (True, r"True \(bool\)"), ([1], r"\[1\] \(list\)")])
def test_anything_else_is_a_type_error_naming_the_caller(bad, shown):
    with pytest.raises(TypeError, match=r"^GaussianProcessRegressor: random_state must be None, "
                                        r"an int or a numpy Generator \(or SeedSequence\), got "
                                        + shown):
        check_random_state(bad, "GaussianProcessRegressor")


def test_legacy_random_state_is_refused_with_a_hint():
    with pytest.raises(TypeError, match=r"RandomState is not accepted, pass "
                                        r"np.random.default_rng\(seed\)"):
        check_random_state(np.random.RandomState(0), "fit")


def test_negative_seed_is_a_value_error_and_the_argument_name_is_the_callers():
    with pytest.raises(ValueError, match=r"^randn: rng must be a non-negative int seed, got -1"):
        check_random_state(-1, "randn", name="rng")
    with pytest.raises(TypeError, match=r"^random_state must be"):  # no caller: no prefix
        check_random_state("x")


def test_every_user_makes_the_same_stream_from_the_same_seed():
    expected = np.random.default_rng(5)
    np.testing.assert_array_equal(sg.randn(3, rng=5).data,
                                  expected.standard_normal(3).astype(np.float32))
    weight = nn.init.uniform_(nn.Parameter(np.zeros(4)), rng=5).data
    np.testing.assert_array_equal(weight, np.random.default_rng(5).uniform(0.0, 1.0, 4))
    loader = data.DataLoader(np.arange(6), batch_size=6, shuffle=True, seed=5)
    np.testing.assert_array_equal(next(iter(loader)), np.random.default_rng(5).permutation(6))


def test_data_loader_accepts_a_generator_and_checks_its_seed():
    rng = np.random.default_rng(1)
    loader = data.DataLoader(np.arange(5), batch_size=5, shuffle=True, seed=rng)
    np.testing.assert_array_equal(next(iter(loader)), np.random.default_rng(1).permutation(5))
    with pytest.raises(TypeError, match="DataLoader: seed must be None, an int"):
        data.DataLoader(np.arange(5), seed="1")


def test_gp_restarts_are_drawn_from_default_rng_of_the_seed():
    from scratchgen.gp import GaussianProcessRegressor, kernels
    starts = []

    def record(objective, theta0, bounds):
        starts.append(np.array(theta0))
        return theta0, objective(theta0)[0]

    X = np.linspace(0, 1, 8)[:, None]
    kernel = kernels.RBF(0.5, (1e-2, 1e2))
    GaussianProcessRegressor(kernel, n_restarts=2, optimizer=record, random_state=3).fit(X, X[:, 0])
    rng = np.random.default_rng(3)
    bounds = kernel.bounds
    expected = [rng.uniform(bounds[:, 0], bounds[:, 1]) for _ in range(2)]
    np.testing.assert_array_equal(starts[1:], expected)
    with pytest.raises(TypeError, match="GaussianProcessRegressor.fit: random_state must be"):
        GaussianProcessRegressor(kernel, random_state="3").fit(X, X[:, 0])
