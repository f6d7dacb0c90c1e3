"""Tests for scratchgen.metrics: the Frechet distance, the digit judge and the ring of Gaussians.

The Frechet distance is checked against closed forms and against SciPy's ``sqrtm`` (the
reference FID code's route); the judge is trained once per module on scikit-learn's 8x8
digits (about 2 s on an idle core); the MNIST test trains one epoch on 2,000 images
and skips without the files.
"""
import doctest
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given
from hypothesis import strategies as st

import scratchgen as sg
from scratchgen import data
from scratchgen.metrics import (
    DigitJudge,
    frechet_distance,
    gaussian_frechet_distance,
    mode_coverage,
    ring_centers,
    ring_of_gaussians,
)
from scratchgen.metrics import frechet as frechet_module
from scratchgen.metrics import ring as ring_module

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
needs_mnist = pytest.mark.skipif(not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
                                 reason=f"the MNIST test set is not in {MNIST_DIR}")


def sqrtm_frechet_distance(a, b):
    """The reference FID computation, via scipy.linalg.sqrtm of the non-symmetric product."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))          # np.cov is 0-d for one feature
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return (mu_a - mu_b) @ (mu_a - mu_b) + np.trace(cov_a + cov_b - 2 * root)


def correlated(rng, n, f):
    """n samples of an f-dimensional Gaussian with a random full covariance and mean."""
    mixing = rng.standard_normal((f, f))
    return rng.standard_normal((n, f)) @ mixing + rng.standard_normal(f)


def test_examples_in_docstrings_run():
    for module in (frechet_module, ring_module):
        failed, attempted = doctest.testmod(module, extraglobs={"np": np})
        assert attempted > 0 and failed == 0, module.__name__


# --- frechet_distance ----------------------------------------------------------------------


def trace_scale(a, b):
    """Tr(S_a) + Tr(S_b): the size the rounding error of a distance is relative to."""
    return np.var(a, axis=0, ddof=1).sum() + np.var(b, axis=0, ddof=1).sum()


def test_distance_of_a_set_to_itself_is_zero():
    x = correlated(np.random.default_rng(0), 500, 16)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-12 * trace_scale(x, x))


def test_nearly_singular_equal_covariances_are_at_distance_zero():
    # Eigenvalues 1 .. 1e-9: the square roots of the eigenvalues of S^{1/2} S S^{1/2} would
    # be off by ~1e-8 here; the singular values of S^{1/2} S^{1/2} are not.
    rng = np.random.default_rng(4)
    for _ in range(20):
        q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
        cov = (q * [1, 0.5, 0.2, 1e-7, 1e-8, 1e-9]) @ q.T
        assert gaussian_frechet_distance(np.zeros(6), cov, np.zeros(6), cov) < 1e-13


@given(seed=st.integers(0, 2**32 - 1), f=st.integers(1, 12))
def test_matches_scipy_sqrtm_reference(seed, f):
    rng = np.random.default_rng(seed)
    a, b = correlated(rng, 200, f), correlated(rng, 150, f)
    expected = sqrtm_frechet_distance(a, b)      # itself off by up to ~1e-8 of the traces
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-7,
                                                   abs=1e-7 * trace_scale(a, b))


@given(seed=st.integers(0, 2**32 - 1), f=st.integers(1, 20))
def test_diagonal_gaussians_match_closed_form(seed, f):
    # For diagonal covariances the trace term is sum_i (sqrt(a_i) - sqrt(b_i))^2.
    rng = np.random.default_rng(seed)
    mean_a, mean_b = rng.normal(size=f), rng.normal(size=f)
    var_a, var_b = rng.uniform(0, 3, f), rng.uniform(0, 3, f)
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    got = gaussian_frechet_distance(mean_a, np.diag(var_a), mean_b, np.diag(var_b))
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_samples_from_diagonal_gaussians_approach_the_closed_form():
    rng = np.random.default_rng(1)
    mean_a, mean_b = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.0])
    std_a, std_b = np.array([1.0, 2.0, 0.5]), np.array([1.0, 0.5, 1.5])
    a = mean_a + std_a * rng.standard_normal((200_000, 3))
    b = mean_b + std_b * rng.standard_normal((200_000, 3))
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((std_a - std_b) ** 2)    # 5 + 3.25
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.01)


@given(seed=st.integers(0, 2**32 - 1), f=st.integers(1, 10))
def test_symmetric_and_translation_adds_squared_norm(seed, f):
    rng = np.random.default_rng(seed)
    a, b = correlated(rng, 100, f), correlated(rng, 80, f)
    tolerance = 1e-11 * trace_scale(a, b)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), abs=tolerance)
    delta = rng.normal(size=f)
    assert frechet_distance(a, a + delta) == pytest.approx(delta @ delta, rel=1e-12,
                                                           abs=tolerance)


@given(seed=st.integers(0, 2**32 - 1), f=st.integers(2, 8), scale=st.floats(0.1, 10))
def test_invariant_to_rotation_and_quadratic_in_scale(seed, f, scale):
    rng = np.random.default_rng(seed)
    a, b = correlated(rng, 100, f), correlated(rng, 100, f)
    rotation, _ = np.linalg.qr(rng.standard_normal((f, f)))
    d, tolerance = frechet_distance(a, b), 1e-11 * trace_scale(a, b)
    assert frechet_distance(a @ rotation, b @ rotation) == pytest.approx(d, rel=1e-9,
                                                                         abs=tolerance)
    assert frechet_distance(scale * a, scale * b) == pytest.approx(scale**2 * d, rel=1e-9,
                                                                   abs=scale**2 * tolerance)


def test_singular_covariances_give_a_finite_exact_answer():
    # Dead ReLU units (constant zero features) and fewer samples than features make both
    # covariances singular, where sqrtm needs an eps; the distance ignores the dead units.
    rng = np.random.default_rng(2)
    a, b = correlated(rng, 300, 5), correlated(rng, 300, 5)
    dead = np.zeros((300, 20))
    padded = frechet_distance(np.hstack([a, dead]), np.hstack([b, dead]))
    assert padded == pytest.approx(frechet_distance(a, b), rel=1e-9)
    few = frechet_distance(a[:3], b[:4])                   # rank-2 and rank-3 covariances
    assert np.isfinite(few) and few >= 0


def test_accepts_integer_and_float32_features_and_returns_a_float():
    a = np.arange(12, dtype=np.int32).reshape(6, 2)
    got = frechet_distance(a, a.astype(np.float32) + 1)
    assert type(got) is float and got == pytest.approx(2.0)


@pytest.mark.parametrize("a, b, error, message", [
    (np.ones(5), np.ones((5, 1)), ValueError, "features_a must be 2-D"),
    (np.ones((5, 2, 2)), np.ones((5, 4)), ValueError, "features_a must be 2-D"),
    (np.ones((5, 3)), np.ones((1, 3)), ValueError, "features_b needs at least 2 rows"),
    (np.ones((5, 0)), np.ones((5, 0)), ValueError, "at least 2 rows .* and 1 feature"),
    (np.ones((5, 3)), np.ones((5, 4)), ValueError, r"same number of features.*\(5, 4\)"),
    (np.full((5, 3), np.nan), np.ones((5, 3)), ValueError, "features_a holds nan or inf"),
    (np.array([["a", "b"], ["c", "d"]]), np.ones((2, 2)), TypeError, "must hold real numbers"),
])
def test_frechet_distance_rejects_bad_input(a, b, error, message):
    with pytest.raises(error, match="frechet_distance: .*" + message):
        frechet_distance(a, b)


def test_gaussian_frechet_distance_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"gaussian_frechet_distance: .*cov_b \(3, 3\)"):
        gaussian_frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(3))


# --- the ring of Gaussians -------------------------------------------------------------------


def test_ring_centers_are_evenly_spaced_on_the_circle():
    centers = ring_centers(8, radius=2.0)
    assert centers.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(centers, axis=1), 2.0)
    np.testing.assert_allclose(centers[0], [2.0, 0.0])
    np.testing.assert_allclose(centers[2], [0.0, 2.0], atol=1e-12)
    neighbours = np.linalg.norm(centers - np.roll(centers, 1, axis=0), axis=1)
    np.testing.assert_allclose(neighbours, 2 * 2.0 * np.sin(np.pi / 8))   # chord length


def test_ring_samples_are_an_equal_mixture_with_the_given_spread():
    x = ring_of_gaussians(40_000, rng=0)
    assert x.shape == (40_000, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(x, ring_of_gaussians(40_000, rng=0))
    centers = ring_centers()
    nearest = np.linalg.norm(x[:, None] - centers[None], axis=2).argmin(axis=1)
    shares = np.bincount(nearest, minlength=8) / len(x)
    np.testing.assert_allclose(shares, 1 / 8, atol=0.01)
    offsets = x - centers[nearest]
    np.testing.assert_allclose(offsets.std(axis=0), 0.02, rtol=0.03)
    np.testing.assert_allclose(offsets.mean(axis=0), 0.0, atol=1e-3)


def test_real_ring_samples_cover_every_mode():
    result = mode_coverage(ring_of_gaussians(20_000, rng=1))
    assert result["modes_covered"] == 8
    # P(|z| <= 3) for a 2-D standard normal z is 1 - exp(-9/2) = 0.9889.
    assert result["high_quality_share"] == pytest.approx(1 - np.exp(-4.5), abs=0.004)
    assert sum(result["mode_histogram"]) == round(result["high_quality_share"] * 20_000)
    np.testing.assert_allclose(np.array(result["mode_histogram"]) / 20_000, 0.989 / 8,
                               atol=0.01)


def test_samples_from_three_modes_cover_three():
    x = ring_of_gaussians(8_000, rng=2)
    centers = ring_centers()
    nearest = np.linalg.norm(x[:, None] - centers[None], axis=2).argmin(axis=1)
    collapsed = x[np.isin(nearest, [0, 3, 5])]
    result = mode_coverage(collapsed)
    assert result["modes_covered"] == 3
    histogram = np.array(result["mode_histogram"])
    assert np.all(histogram[[1, 2, 4, 6, 7]] == 0) and np.all(histogram[[0, 3, 5]] > 0)
    assert result["high_quality_share"] > 0.98


def test_uniform_noise_has_a_low_high_quality_share():
    noise = np.random.default_rng(3).uniform(-3, 3, size=(20_000, 2))
    result = mode_coverage(noise)
    # 8 discs of radius 0.06 cover 8 pi 0.06^2 / 36 = 0.25% of the square.
    assert result["high_quality_share"] < 0.01
    assert result["modes_covered"] == 0                 # no mode reaches 1% of the samples


def test_min_share_decides_when_a_few_stray_samples_cover_a_mode():
    centers = ring_centers()
    x = np.concatenate([np.repeat(centers[:1], 995, axis=0), centers[1:6]])   # 5 strays
    assert mode_coverage(x)["modes_covered"] == 1
    assert mode_coverage(x, min_share=0.0)["modes_covered"] == 6
    assert mode_coverage(x, min_share=0.0)["mode_histogram"] == [995, 1, 1, 1, 1, 1, 0, 0]


@given(modes=st.integers(1, 30), radius=st.floats(0.5, 10), seed=st.integers(0, 2**32 - 1))
def test_mode_centers_are_covered_on_any_ring(modes, radius, seed):
    std = 0.01 * radius / modes               # well-separated modes at every setting
    x = ring_of_gaussians(50 * modes, modes, radius, std, rng=seed)
    result = mode_coverage(ring_centers(modes, radius), modes, radius, std, min_share=0.0)
    assert result == {"modes_covered": modes, "high_quality_share": 1.0,
                      "mode_histogram": [1] * modes}
    assert mode_coverage(x, modes, radius, std, min_share=0.0)["modes_covered"] <= modes


@pytest.mark.parametrize("call, error, message", [
    (lambda: mode_coverage(np.ones((5, 3))), ValueError, r"shape \(N, 2\) .* got shape \(5, 3\)"),
    (lambda: mode_coverage(np.ones((0, 2))), ValueError, "N >= 1"),
    (lambda: mode_coverage(np.full((4, 2), np.inf)), ValueError, "nan or inf"),
    (lambda: mode_coverage(np.array([["a", "b"]])), TypeError, "real numbers"),
    (lambda: mode_coverage(np.ones((4, 2)), min_share=1.5), ValueError, "min_share"),
    (lambda: mode_coverage(np.ones((4, 2)), modes=0), ValueError, "modes must be an int"),
    (lambda: mode_coverage(np.ones((4, 2)), std=0.0), ValueError, "std must be positive"),
    (lambda: ring_centers(radius=-1.0), ValueError, "ring_centers: radius must be positive"),
    (lambda: ring_of_gaussians(-1), ValueError, "ring_of_gaussians: n must be"),
    (lambda: ring_of_gaussians(5, modes=2.5), ValueError, "ring_of_gaussians: modes"),
    (lambda: ring_of_gaussians(5, rng="seed"), TypeError, "ring_of_gaussians: rng"),
])
def test_ring_functions_reject_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --- DigitJudge -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    x_train, y_train = data.load_digits(split="train")
    x_test, y_test = data.load_digits(split="test")
    return x_train / 16, y_train, x_test / 16, y_test


@pytest.fixture(scope="module")
def judge(digits):
    x_train, y_train, _, _ = digits
    return DigitJudge((1, 8, 8), rng=0).fit(x_train, y_train, epochs=10, lr=3e-3)


@pytest.fixture(scope="module")
def real_features(judge, digits):
    return judge.features(digits[2])


def test_judge_learns_the_digits(judge, digits):
    _, _, x_test, y_test = digits
    assert judge.score(x_test, y_test) >= 0.90
    assert judge.train_accuracy_ >= 0.90
    assert len(judge.epoch_losses_) == 10 and judge.epoch_losses_[-1] < judge.epoch_losses_[0]
    np.testing.assert_array_equal(judge.predict(x_test[:5], batch_size=2),
                                  judge.predict(x_test[:5]))


def test_features_are_float64_penultimate_activations_independent_of_batching(judge, digits):
    x_test = digits[2]
    features = judge.features(x_test)
    assert features.shape == (len(x_test), 64) and features.dtype == np.float64
    assert features.min() >= 0                                   # after a ReLU
    # Batches of another size take other BLAS paths: equal up to float32 rounding.
    np.testing.assert_allclose(judge.features(x_test, batch_size=7), features, atol=1e-4)
    np.testing.assert_array_equal(judge.features(sg.tensor(x_test)), features)
    assert judge.features(x_test[:0]).shape == (0, 64)


def test_frechet_distance_ranks_real_above_noise_and_single_classes(judge, digits,
                                                                  real_features):
    x_train, y_train, x_test, _ = digits
    real_vs_real = frechet_distance(judge.features(x_train), real_features)
    noise = np.random.default_rng(0).uniform(size=x_test.shape)
    real_vs_noise = frechet_distance(judge.features(noise), real_features)
    real_vs_ones = frechet_distance(judge.features(x_train[y_train == 1]), real_features)
    assert real_vs_real * 20 < real_vs_noise
    assert real_vs_real * 20 < real_vs_ones


def test_evaluate_samples_on_real_digits_and_on_a_single_digit(judge, digits, real_features):
    x_train, y_train, x_test, y_test = digits
    real = judge.evaluate_samples(x_train, real_features, requested_labels=y_train)
    assert real["classes_recognized"] == 10
    assert real["class_balance"] > 0.98
    assert real["conditional_accuracy"] > 0.9
    assert sum(real["class_histogram"]) == len(x_train) and len(real["class_histogram"]) == 10
    assert real["frechet_distance"] == pytest.approx(
        frechet_distance(judge.features(x_train), real_features))

    shuffled = np.random.default_rng(0).permutation(y_test)
    assert judge.evaluate_samples(x_test, real_features, shuffled)["conditional_accuracy"] < 0.25

    zeros = judge.evaluate_samples(x_train[y_train == 0], real_features)
    assert zeros["classes_recognized"] == 1
    assert zeros["class_balance"] < 0.1
    assert "conditional_accuracy" not in zeros
    assert zeros["frechet_distance"] > 10 * real["frechet_distance"]


def test_classes_recognized_threshold_and_balance_formula(judge, digits, real_features):
    x_test, y_test = digits[2], digits[3]
    predicted = judge.predict(x_test)
    # 300 images of one predicted class plus 2 of another: 2/302 < 1% is not recognized.
    one = x_test[predicted == predicted[0]]
    other = x_test[predicted != predicted[0]][:2]
    samples = np.concatenate([np.resize(one, (300,) + one.shape[1:]), other])
    result = judge.evaluate_samples(samples, real_features)
    assert result["classes_recognized"] == 1
    assert judge.evaluate_samples(samples, real_features, min_share=0.0)["classes_recognized"] \
        == len(set(judge.predict(other)) | {predicted[0]})
    shares = np.array(result["class_histogram"]) / len(samples)
    shares = shares[shares > 0]
    assert result["class_balance"] == pytest.approx(-(shares * np.log(shares)).sum() / np.log(10))


def test_trained_judge_saves_and_loads(judge, digits, tmp_path):
    path = tmp_path / "judge.ckpt"
    sg.save(judge.state_dict(), path)
    restored = DigitJudge((1, 8, 8))
    restored.load_state_dict(sg.load(path))
    np.testing.assert_array_equal(restored.features(digits[2]), judge.features(digits[2]))
    assert "trained=True" in repr(restored)


def test_same_seed_same_judge(digits):
    x_train, y_train = digits[0][:256], digits[1][:256]
    a = DigitJudge((1, 8, 8), rng=5).fit(x_train, y_train, epochs=1)
    b = DigitJudge((1, 8, 8), rng=5).fit(x_train, y_train, epochs=1)
    for (key, value), other in zip(a.state_dict().items(), b.state_dict().values()):
        np.testing.assert_array_equal(value, other, err_msg=key)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 9, 10), (2, 4, 4)])
def test_network_is_sized_from_the_image_shape(shape):
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(10,) + shape)
    judge = DigitJudge(shape, n_classes=3, rng=0).fit(images, rng.integers(3, size=10),
                                                      epochs=1, batch_size=4)
    assert judge.features(images).shape == (10, 64)
    assert set(judge.predict(images)) <= {0, 1, 2}


@needs_mnist
def test_judge_learns_mnist_in_one_epoch_on_2000_images():
    images, labels = data.load_mnist(MNIST_DIR, split="test")
    x = data.to_unit_interval(images)
    judge = DigitJudge(rng=0).fit(x[:2000], labels[:2000], epochs=1, lr=3e-3)
    assert judge.score(x[2000:3000], labels[2000:3000]) >= 0.7     # 0.80 at this seed


def test_untrained_judge_refuses_to_score():
    with pytest.raises(ValueError, match=r"DigitJudge.features: the judge is untrained"):
        DigitJudge((1, 8, 8), rng=0).features(np.zeros((2, 1, 8, 8)))


@pytest.mark.parametrize("call, error, message", [
    (lambda j, f: j.evaluate_samples(np.zeros((5, 64)), f), ValueError,
     r"samples must have shape \(N, 1, 8, 8\), got \(5, 64\); reshape"),
    (lambda j, f: j.evaluate_samples(np.full((5, 1, 8, 8), 2.0), f), ValueError,
     r"values in \[0, 1\], got values in \[2, 2\]"),
    (lambda j, f: j.evaluate_samples(np.full((5, 1, 8, 8), -0.5), f), ValueError,
     r"\(x \+ 1\) / 2"),
    (lambda j, f: j.evaluate_samples(np.full((5, 1, 8, 8), np.nan), f), ValueError, "nan"),
    (lambda j, f: j.evaluate_samples(np.zeros((1, 1, 8, 8)), f), ValueError, "at least 2"),
    (lambda j, f: j.evaluate_samples(np.zeros((5, 1, 8, 8)), f[:, :10]), ValueError,
     r"real_features must have shape \(M, 64\) with M >= 2"),
    (lambda j, f: j.evaluate_samples(np.zeros((5, 1, 8, 8)), f[:1]), ValueError,
     r"real_features .* got shape \(1, 64\)"),
    (lambda j, f: j.evaluate_samples(np.zeros((5, 1, 8, 8)), f, np.zeros(4, int)), ValueError,
     r"requested_labels must have shape \(5,\)"),
    (lambda j, f: j.evaluate_samples(np.zeros((2, 1, 8, 8)), f, [0, 10]), ValueError,
     r"requested_labels must lie in 0..9"),
    (lambda j, f: j.evaluate_samples(np.zeros((2, 1, 8, 8)), f, [0.0, 1.0]), TypeError,
     "requested_labels must be integers"),
    (lambda j, f: j.fit(np.zeros((2, 1, 8, 8)), [0, 1], epochs=0), ValueError, "epochs"),
    (lambda j, f: j.fit(np.zeros((0, 1, 8, 8)), []), ValueError, "at least 1 image"),
    (lambda j, f: j.fit(np.zeros((2, 1, 8, 8)), [0, 1, 2]), ValueError,
     r"labels must have shape \(2,\)"),
    (lambda j, f: j.fit(np.zeros((2, 1, 8, 8)), [0, 1], lr=-1.0), ValueError, "lr"),
    (lambda j, f: j.features(np.zeros((2, 1, 8, 8)), batch_size=0), ValueError, "batch_size"),
    (lambda j, f: j.predict(np.zeros((2, 1, 28, 28))), ValueError, r"DigitJudge.predict"),
    (lambda j, f: DigitJudge((28, 28)), ValueError, "image_shape must be"),
    (lambda j, f: DigitJudge((1, 2, 8)), ValueError, "H, W >= 4"),
    (lambda j, f: DigitJudge(n_classes=1), ValueError, "n_classes must be an int >= 2"),
    (lambda j, f: DigitJudge(rng="x"), TypeError, "DigitJudge: rng"),
])
def test_judge_rejects_bad_input(judge, real_features, call, error, message):
    with pytest.raises(error, match=message):
        call(judge, real_features)
