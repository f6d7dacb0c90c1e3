"""Update rules of SGD, Adam, AdamW, RMSprop and Adagrad: textbook NumPy, defaults, torch."""
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import scratchgen as sg
import scratchgen.optim as optim
from tests._optim_helpers import (
    ATOL, RTOL, SEED, adagrad_textbook, adam_textbook, leaf, rmsprop_textbook, run, sgd_textbook,
)

STEPS = 6
LR = st.floats(1e-4, 1.0)
DECAY = st.just(0.0) | st.floats(0.0, 0.5)
EPS = st.floats(1e-10, 1e-3)


def gradients(seed, shape=(2, 3), steps=STEPS):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), [rng.standard_normal(shape) for _ in range(steps)]


def optimize(cls, x0, grads, **settings):
    p = leaf(x0)
    return [v[0] for v in run(cls([p], **settings), [p], [[g] for g in grads])]


def assert_trajectories_close(ours, expected):
    for t, (a, b) in enumerate(zip(ours, expected)):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=f"after step {t + 1}")


# ---------------------------------------------------------------- random hyperparameters
@st.composite
def sgd_settings(draw):
    momentum = draw(st.just(0.0) | st.floats(0.05, 0.99))
    nesterov = momentum > 0 and draw(st.booleans())
    return {"lr": draw(LR), "momentum": momentum, "weight_decay": draw(DECAY),
            "dampening": 0.0 if nesterov else draw(st.floats(0.0, 0.9)),
            "nesterov": nesterov, "maximize": draw(st.booleans())}


@st.composite
def adam_settings(draw):
    return {"lr": draw(LR), "betas": (draw(st.floats(0.0, 0.99)), draw(st.floats(0.0, 0.9999))),
            "eps": draw(EPS), "weight_decay": draw(DECAY), "amsgrad": draw(st.booleans()),
            "maximize": draw(st.booleans())}


@st.composite
def rmsprop_settings(draw):
    # alpha >= 0.5: a tiny alpha leaves v - gbar^2 at rounding level, where sqrt may see < 0
    return {"lr": draw(LR), "alpha": draw(st.floats(0.5, 0.999)), "eps": draw(EPS),
            "weight_decay": draw(DECAY), "momentum": draw(st.just(0.0) | st.floats(0.0, 0.95)),
            "centered": draw(st.booleans()), "maximize": draw(st.booleans())}


@st.composite
def adagrad_settings(draw):
    return {"lr": draw(LR), "lr_decay": draw(DECAY), "weight_decay": draw(DECAY),
            "initial_accumulator_value": draw(st.floats(0.0, 1.0)), "eps": draw(EPS),
            "maximize": draw(st.booleans())}


def variant(**settings):
    return {"settings": settings, "seed": 0}


@given(settings=sgd_settings(), seed=SEED)
@example(**variant(lr=0.1))
@example(**variant(lr=0.1, momentum=0.9))
@example(**variant(lr=0.1, momentum=0.9, dampening=0.5))
@example(**variant(lr=0.1, momentum=0.9, nesterov=True))
@example(**variant(lr=0.1, weight_decay=0.1, momentum=0.5, maximize=True))
def test_sgd_matches_textbook(settings, seed):
    x0, grads = gradients(seed)
    ours = optimize(optim.SGD, x0, grads, **settings)
    assert_trajectories_close(ours, sgd_textbook(x0, grads, **settings))


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
@given(settings=adam_settings(), seed=SEED)
@example(**variant(lr=0.1, betas=(0.9, 0.999), eps=1e-8))
@example(**variant(lr=0.1, betas=(0.9, 0.999), eps=1e-8, amsgrad=True))
@example(**variant(lr=0.1, betas=(0.8, 0.9), eps=1e-8, weight_decay=0.1))
@example(**variant(lr=0.1, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.2, maximize=True))
def test_adam_and_adamw_match_textbook(cls, settings, seed):
    x0, grads = gradients(seed)
    ours = optimize(cls, x0, grads, **settings)
    decoupled = cls is optim.AdamW
    settings = {"weight_decay": 1e-2 if decoupled else 0.0, **settings}  # the class defaults
    expected = adam_textbook(x0, grads, decoupled=decoupled, **settings)
    assert_trajectories_close(ours, expected)


@given(settings=rmsprop_settings(), seed=SEED)
@example(**variant(lr=0.01, alpha=0.99, eps=1e-8))
@example(**variant(lr=0.01, alpha=0.9, eps=1e-8, centered=True))
@example(**variant(lr=0.01, alpha=0.9, eps=1e-8, momentum=0.9))
@example(**variant(lr=0.01, alpha=0.9, eps=1e-8, momentum=0.5, centered=True, weight_decay=0.1))
def test_rmsprop_matches_textbook(settings, seed):
    x0, grads = gradients(seed)
    ours = optimize(optim.RMSprop, x0, grads, **settings)
    assert_trajectories_close(ours, rmsprop_textbook(x0, grads, **settings))


@given(settings=adagrad_settings(), seed=SEED)
@example(**variant(lr=0.01))
@example(**variant(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.5, weight_decay=0.1))
def test_adagrad_matches_textbook(settings, seed):
    x0, grads = gradients(seed)
    ours = optimize(optim.Adagrad, x0, grads, **settings)
    assert_trajectories_close(ours, adagrad_textbook(x0, grads, **settings))


def test_defaults_are_pytorchs():
    p = leaf(np.zeros(2))
    assert optim.SGD([p]).defaults == {"lr": 1e-3, "momentum": 0, "dampening": 0,
                                       "weight_decay": 0, "nesterov": False, "maximize": False}
    assert optim.Adam([p]).defaults == {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8,
                                        "weight_decay": 0, "amsgrad": False, "maximize": False}
    assert optim.AdamW([p]).defaults["weight_decay"] == 1e-2
    rms = optim.RMSprop([p]).defaults
    assert (rms["lr"], rms["alpha"], rms["eps"], rms["momentum"]) == (1e-2, 0.99, 1e-8, 0)
    ada = optim.Adagrad([p]).defaults
    assert (ada["lr"], ada["lr_decay"], ada["eps"]) == (1e-2, 0, 1e-10)


# ---------------------------------------------------------------- PyTorch as the oracle
ORACLE_OPTIMIZERS = [
    (optim.SGD, "SGD", sgd_settings()),
    (optim.Adam, "Adam", adam_settings()),
    (optim.AdamW, "AdamW", adam_settings()),
    (optim.RMSprop, "RMSprop", rmsprop_settings()),
    (optim.Adagrad, "Adagrad", adagrad_settings()),
]


@pytest.mark.parametrize(("cls", "torch_name", "strategy"), ORACLE_OPTIMIZERS,
                         ids=[name for _, name, _ in ORACLE_OPTIMIZERS])
@given(data=st.data(), seed=SEED)
def test_optimizers_agree_with_torch(cls, torch_name, strategy, data, seed):
    torch = pytest.importorskip("torch")
    settings, group_settings = data.draw(strategy), data.draw(strategy)
    if cls is optim.Adagrad:
        # NOTE: torch fills every group's sum with the constructor's value, ignoring a group's
        # own initial_accumulator_value; scratchgen uses the group's.
        group_settings["initial_accumulator_value"] = settings["initial_accumulator_value"]
    rng = np.random.default_rng(seed)
    shapes = [(3, 2), (4,), (2, 2, 2)]
    x0 = [rng.standard_normal(s) for s in shapes]
    ours = [leaf(x) for x in x0]
    theirs = [torch.tensor(x, requires_grad=True) for x in x0]

    def make(make_opt, params):  # the second group overrides every hyperparameter
        return make_opt([{"params": params[:2]}, {"params": params[2:], **group_settings}],
                        **settings)

    opt = make(cls, ours)
    torch_opt = make(getattr(torch.optim, torch_name), theirs)
    for step in range(10):
        for p, q, s in zip(ours, theirs, shapes):
            g = rng.standard_normal(s)
            p.grad, q.grad = sg.tensor(g, dtype=np.float64), torch.tensor(g)
        opt.step()
        torch_opt.step()
        for k, (p, q) in enumerate(zip(ours, theirs)):
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=RTOL, atol=ATOL,
                                       err_msg=f"parameter {k} after step {step + 1}")
    for p, q in zip(ours, theirs):
        for name, value in opt.state.get(p, {}).items():
            expected = torch_opt.state[q][name]
            expected = expected.item() if expected.ndim == 0 else expected.numpy()
            np.testing.assert_allclose(value, expected, rtol=RTOL, atol=ATOL, err_msg=name)
