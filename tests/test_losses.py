"""The losses of scratchgen.nn.functional with every reduction: against formulas written here
in NumPy, against PyTorch when it is installed, by gradcheck, at extreme inputs, and through
their error messages."""
import re
import warnings

import numpy as np
import pytest

import scratchgen as sg
import scratchgen.nn.functional as F
from scratchgen.testing import gradcheck

REDUCTIONS = ("mean", "sum", "none")


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow for large |x|


def log_softmax(x, axis=1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def pick(log_probs, target):
    """log_probs[n, target[n, ...], ...] for (N, C, ...) scores and (N, ...) targets."""
    return np.take_along_axis(log_probs, target[:, None], axis=1)[:, 0]


def reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](loss)


class Loss:
    """One loss: ours (``fn(*tensors, reduction)``), the NumPy formula of its unreduced value,
    the inputs (floats are differentiable, integers are class indices) and PyTorch's version."""

    def __init__(self, id, fn, formula, inputs, torch_fn):
        self.id, self.fn, self.formula = id, fn, formula
        self.inputs, self.torch_fn = inputs, torch_fn

    def arrays(self, seed=0):
        return self.inputs(np.random.default_rng(seed))


def gaussian_formula(full):
    def formula(x, y, var):
        return 0.5 * (np.log(var) + (x - y) ** 2 / var) + (0.5 * np.log(2 * np.pi) if full else 0)
    return formula


def torch_kl(_functional, mu, logvar, reduction):
    """KL(N(mu, exp(logvar)) || N(0, 1)) by torch.distributions, summed per sample."""
    import torch
    from torch.distributions import Normal, kl_divergence
    q = Normal(mu, torch.exp(0.5 * logvar))  # std = exp(logvar / 2): logvar is the log variance
    per_sample = kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu)))
    per_sample = per_sample.flatten(1).sum(1)
    return {"mean": per_sample.mean, "sum": per_sample.sum, "none": lambda: per_sample}[reduction]()


def away_from(x, rng, margin=0.1):
    """x plus a random offset of at least ``margin`` (keeps |x - y| off the kink of l1)."""
    return x + rng.choice([-1.0, 1.0], x.shape) * rng.uniform(margin, 1.0, x.shape)


LOSSES = [
    Loss("binary_cross_entropy_with_logits",
         lambda x, y, r: F.binary_cross_entropy_with_logits(x, y, reduction=r),
         lambda x, y: -(y * np.log(sigmoid(x)) + (1 - y) * np.log(1 - sigmoid(x))),
         lambda rng: [rng.normal(0, 2, (4, 3)), rng.uniform(0, 1, (4, 3))],
         lambda tf, x, y, r: tf.binary_cross_entropy_with_logits(x, y, reduction=r)),
    Loss("binary_cross_entropy",
         lambda p, y, r: F.binary_cross_entropy(p, y, reduction=r),
         lambda p, y: -(y * np.log(p) + (1 - y) * np.log(1 - p)),
         lambda rng: [rng.uniform(0.05, 0.95, (4, 3)), rng.uniform(0, 1, (4, 3))],
         lambda tf, p, y, r: tf.binary_cross_entropy(p, y, reduction=r)),
    Loss("mse_loss", lambda x, y, r: F.mse_loss(x, y, reduction=r),
         lambda x, y: (x - y) ** 2,
         lambda rng: [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))],
         lambda tf, x, y, r: tf.mse_loss(x, y, reduction=r)),
    Loss("l1_loss", lambda x, y, r: F.l1_loss(x, y, reduction=r),
         lambda x, y: np.abs(x - y),
         lambda rng: (lambda y: [away_from(y, rng), y])(rng.standard_normal((3, 4))),
         lambda tf, x, y, r: tf.l1_loss(x, y, reduction=r)),
    Loss("cross_entropy_2d", lambda x, t, r: F.cross_entropy(x, t, reduction=r),
         lambda x, t: -pick(log_softmax(x), t),
         lambda rng: [rng.normal(0, 2, (5, 4)), rng.integers(0, 4, 5)],
         lambda tf, x, t, r: tf.cross_entropy(x, t, reduction=r)),
    Loss("cross_entropy_4d", lambda x, t, r: F.cross_entropy(x, t, reduction=r),
         lambda x, t: -pick(log_softmax(x), t),
         lambda rng: [rng.normal(0, 2, (2, 3, 2, 3)), rng.integers(0, 3, (2, 2, 3))],
         lambda tf, x, t, r: tf.cross_entropy(x, t, reduction=r)),
    Loss("nll_loss_2d", lambda x, t, r: F.nll_loss(x, t, reduction=r),
         lambda x, t: -pick(x, t),
         lambda rng: [log_softmax(rng.standard_normal((5, 4))), rng.integers(0, 4, 5)],
         lambda tf, x, t, r: tf.nll_loss(x, t, reduction=r)),
    Loss("nll_loss_4d", lambda x, t, r: F.nll_loss(x, t, reduction=r),
         lambda x, t: -pick(x, t),
         lambda rng: [rng.standard_normal((2, 3, 2, 2)), rng.integers(0, 3, (2, 2, 2))],
         lambda tf, x, t, r: tf.nll_loss(x, t, reduction=r)),
    Loss("gaussian_nll", lambda x, y, v, r: F.gaussian_nll(x, y, v, reduction=r),
         gaussian_formula(full=False),
         lambda rng: [rng.standard_normal((4, 3)), rng.standard_normal((4, 3)),
                      rng.uniform(0.5, 2.0, (4, 3))],
         lambda tf, x, y, v, r: tf.gaussian_nll_loss(x, y, v, reduction=r)),
    Loss("gaussian_nll_full", lambda x, y, v, r: F.gaussian_nll(x, y, v, full=True, reduction=r),
         gaussian_formula(full=True),
         lambda rng: [rng.standard_normal((4, 3)), rng.standard_normal((4, 3)),
                      rng.uniform(0.5, 2.0, (4, 3))],
         lambda tf, x, y, v, r: tf.gaussian_nll_loss(x, y, v, full=True, reduction=r)),
    # Closed form: KL(N(mu, s^2) || N(0, 1)) = 0.5 (s^2 + mu^2 - 1 - log s^2), summed per sample.
    Loss("kl_normal_standard", lambda mu, lv, r: F.kl_normal_standard(mu, lv, reduction=r),
         lambda mu, lv: 0.5 * (np.exp(lv) + mu ** 2 - 1 - lv).sum(axis=1),
         lambda rng: [rng.standard_normal((4, 3)), rng.normal(0, 0.5, (4, 3))],
         torch_kl),
    Loss("kl_normal_standard_4d", lambda mu, lv, r: F.kl_normal_standard(mu, lv, reduction=r),
         lambda mu, lv: 0.5 * (np.exp(lv) + mu ** 2 - 1 - lv).sum(axis=(1, 2, 3)),
         lambda rng: [rng.standard_normal((3, 2, 2, 2)), rng.normal(0, 0.5, (3, 2, 2, 2))],
         torch_kl),
]
CASES = [pytest.param(loss, r, id=f"{loss.id}-{r}") for loss in LOSSES for r in REDUCTIONS]


def tensors(arrays):
    return [sg.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]


@pytest.mark.parametrize("loss, reduction", CASES)
def test_matches_numpy_formula(loss, reduction):
    arrays = loss.arrays()
    out = loss.fn(*tensors(arrays), reduction)
    expected = reduce(loss.formula(*arrays), reduction)
    assert out.shape == np.shape(expected)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("loss, reduction", CASES)
def test_gradcheck(loss, reduction):
    assert gradcheck(lambda *xs: loss.fn(*xs, reduction), tensors(loss.arrays()))


@pytest.mark.parametrize("loss, reduction", CASES)
def test_agrees_with_torch(loss, reduction):
    torch = pytest.importorskip("torch")
    arrays = loss.arrays(seed=1)
    ours = tensors(arrays)
    theirs = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    out = loss.fn(*ours, reduction)
    tout = loss.torch_fn(torch.nn.functional, *theirs, reduction)
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    projection = np.random.default_rng(2).standard_normal(out.shape)
    (out * sg.tensor(projection)).sum().backward()
    (tout * torch.tensor(projection)).sum().backward()
    for k, (x, t) in enumerate(zip(ours, theirs)):
        if x.requires_grad:
            np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=f"gradient of input {k}")


# ----------------------------------------------------------------------- stability
EXTREMES = np.array([1e4, 1e4, -1e4, -1e4, 1e3, 1e3, -1e3, -1e3, 0.0, 0.0])
TARGETS = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_with_logits_exact_at_extreme_logits(dtype):
    x = sg.tensor(EXTREMES, dtype=dtype, requires_grad=True)
    y = sg.tensor(TARGETS, dtype=dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow on the way
        loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
        loss.sum().backward()
    # The exact limits: a confidently wrong logit costs |x|, a confidently right one nothing.
    expected = [1e4, 0, 0, 1e4, 1e3, 0, 0, 1e3, np.log(2), np.log(2)]
    assert loss.dtype == dtype
    np.testing.assert_array_equal(loss.data, np.array(expected, dtype))
    # dl/dx = sigmoid(x) - y exactly, -0.5 at 0 for target 1; dl/dy = -x.
    np.testing.assert_array_equal(x.grad.data, [1, 0, 0, -1, 1, 0, 0, -1, 0.5, -0.5])
    np.testing.assert_array_equal(y.grad.data, -EXTREMES.astype(dtype))


def test_bce_with_logits_mean_gradient_is_averaged():
    x = sg.tensor(EXTREMES, requires_grad=True, dtype=np.float64)
    F.binary_cross_entropy_with_logits(x, TARGETS).backward()
    np.testing.assert_allclose(x.grad.data, (sigmoid(EXTREMES) - TARGETS) / 10, rtol=1e-15)


def test_cross_entropy_with_huge_logits_is_finite():
    logits = sg.tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0], [1e4, 1e4, -1e4]]),
                       requires_grad=True)
    target = np.array([0, 0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.cross_entropy(logits, target, reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.data, [0.0, 2e4, np.log(2)], rtol=1e-12)
    softmax = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    np.testing.assert_allclose(logits.grad.data, softmax - np.eye(3)[target], atol=1e-12)


def test_bce_with_saturated_probabilities_is_finite():
    p = sg.tensor(np.array([0.0, 1.0, 0.0, 1.0]), requires_grad=True)
    y = np.array([1.0, 0.0, 0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log(0) is never evaluated
        loss = F.binary_cross_entropy(p, y, reduction="none")
        loss.sum().backward()
    # Each log is clamped at -100, as in PyTorch.
    np.testing.assert_array_equal(loss.data, [100.0, 100.0, 0.0, 0.0])
    # The gradient is that of the clamped loss: zero where a log is clamped, and the
    # derivative of the unclamped log elsewhere (-(1 - y) / (1 - p) + ... = 1 at p = y = 0).
    np.testing.assert_array_equal(p.grad.data, [0.0, 0.0, 1.0, -1.0])


def test_bce_after_a_saturated_sigmoid_in_float32():
    # sigmoid(+-200) is exactly 1 and 0 in float32, as a GAN discriminator can produce.
    logits = sg.tensor(np.array([200.0, -200.0], np.float32), requires_grad=True)
    loss = F.binary_cross_entropy(logits.sigmoid(), [0.0, 1.0], reduction="sum")
    loss.backward()
    assert loss.item() == pytest.approx(200.0)
    assert np.isfinite(logits.grad.data).all()


def test_bce_saturated_values_match_torch():
    torch = pytest.importorskip("torch")
    p, y = np.array([0.0, 1.0, 0.0, 1.0, 1e-50]), np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    theirs = torch.nn.functional.binary_cross_entropy(torch.tensor(p), torch.tensor(y),
                                                      reduction="none")
    ours = F.binary_cross_entropy(sg.tensor(p), y, reduction="none")
    np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_gaussian_nll_clamps_small_variances():
    x, y = sg.tensor(np.array([0.5, 0.5])), np.array([0.0, 0.0])
    var = sg.tensor(np.array([1e-9, 1.0]), requires_grad=True)
    loss = F.gaussian_nll(x, y, var, eps=1e-6, reduction="none")
    clamped = np.array([1e-6, 1.0])
    np.testing.assert_allclose(loss.data, 0.5 * (np.log(clamped) + 0.25 / clamped), rtol=1e-12)
    loss.sum().backward()
    # Below eps the clamp stops the gradient (PyTorch's clamp lets it through).
    assert var.grad.data[0] == 0.0
    assert var.grad.data[1] == pytest.approx(0.5 * (1 - 0.25))


def test_kl_normal_standard_is_zero_at_the_prior_and_mean_is_over_the_batch():
    zeros = sg.zeros(3, 4, dtype=np.float64)
    assert F.kl_normal_standard(zeros, zeros).item() == 0.0
    mu = sg.tensor(np.ones((2, 5)))
    lv = sg.tensor(np.zeros((2, 5)))
    assert F.kl_normal_standard(mu, lv).item() == pytest.approx(2.5)  # 5 features x 0.5
    assert F.kl_normal_standard(mu, lv, reduction="sum").item() == pytest.approx(5.0)
    np.testing.assert_allclose(F.kl_normal_standard(mu, lv, reduction="none").data, [2.5, 2.5])


def test_targets_as_lists_and_tensors():
    x = sg.tensor(np.array([[0.5, -1.0]]))
    np.testing.assert_allclose(F.mse_loss(x, [[1.0, 1.0]]).item(), (0.25 + 4) / 2)
    np.testing.assert_allclose(F.cross_entropy(x, sg.tensor(np.array([1]))).item(),
                               -log_softmax(x.data)[0, 1])


# ----------------------------------------------------------------------- errors
ELEMENTWISE = {
    "binary_cross_entropy_with_logits": F.binary_cross_entropy_with_logits,
    "binary_cross_entropy": F.binary_cross_entropy,
    "mse_loss": F.mse_loss,
    "l1_loss": F.l1_loss,
    "gaussian_nll": lambda x, y, **kw: F.gaussian_nll(x, y, sg.ones(*x.shape), **kw),
}


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_mismatched_shapes_name_the_function(name):
    x = sg.rand(2, 3, rng=0) * 0.5 + 0.25
    message = f"{name}: target shape (3,) does not match input shape (2, 3)"
    with pytest.raises(ValueError, match=re.escape(message)):
        ELEMENTWISE[name](x, np.full(3, 0.5))


BAD_REDUCTION = {
    **ELEMENTWISE,
    "cross_entropy": lambda x, y, **kw: F.cross_entropy(x, np.array([0, 1]), **kw),
    "nll_loss": lambda x, y, **kw: F.nll_loss(x, np.array([0, 1]), **kw),
    "kl_normal_standard": lambda x, y, **kw: F.kl_normal_standard(x, x, **kw),
}


@pytest.mark.parametrize("name", BAD_REDUCTION)
def test_bad_reduction_names_the_function(name):
    x = sg.rand(2, 3, rng=0) * 0.5 + 0.25
    message = f"{name}: reduction must be 'mean', 'sum' or 'none', got 'avg'"
    with pytest.raises(ValueError, match=re.escape(message)):
        BAD_REDUCTION[name](x, sg.full((2, 3), 0.5), reduction="avg")


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_class_target_errors_name_the_function(name):
    fn = getattr(F, name)
    x = sg.randn(2, 3, rng=0)
    with pytest.raises(TypeError, match=f"{name}: target must hold integer class indices, "
                                        "got float64"):
        fn(x, np.array([0.0, 1.0]))
    for bad in ([0, 3], [-1, 0]):
        with pytest.raises(ValueError, match=rf"{name}: target values must lie in \[0, 3\)"):
            fn(x, np.array(bad))
    with pytest.raises(ValueError, match=re.escape(
            f"{name}: expected input (N, C, ...) and target (N, ...), got input (2, 3) and "
            f"target (3,)")):
        fn(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=f"{name}: expected input"):
        fn(sg.randn(3, rng=0), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=f"{name}: expected input"):
        fn(sg.randn(2, 3, 4, rng=0), np.array([[0, 1, 2, 0]]))  # target (1, 4), not (2, 4)


def test_kl_shape_mismatch_names_the_function():
    with pytest.raises(ValueError, match=re.escape("kl_normal_standard: mu (2, 3) and logvar "
                                                   "(2, 4) differ")):
        F.kl_normal_standard(sg.zeros(2, 3), sg.zeros(2, 4))
