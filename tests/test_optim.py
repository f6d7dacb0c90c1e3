"""Optimizers, learning-rate schedules and gradient clipping (``scratchgen.optim``).

Each optimizer is checked step by step against its textbook formulas written out below in plain
NumPy, and, when torch is installed, against ``torch.optim`` itself.
"""
import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import scratchgen as sg
import scratchgen.optim as optim

STEPS = 6
SEED = st.integers(0, 2**32 - 1)
LR = st.floats(1e-4, 1.0)
DECAY = st.just(0.0) | st.floats(0.0, 0.5)
EPS = st.floats(1e-10, 1e-3)
RTOL, ATOL = 1e-10, 1e-12  # float64 on both sides; only rounding order differs


def leaf(array, dtype=np.float64):
    return sg.tensor(array, requires_grad=True, dtype=dtype)


def gradients(seed, shape=(2, 3), steps=STEPS):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), [rng.standard_normal(shape) for _ in range(steps)]


def run(opt, params, grads):
    """Give ``params[i]`` the gradient ``grads[t][i]`` and step, for each t; return the values
    after every step."""
    values = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else sg.tensor(g, dtype=p.dtype)
        opt.step()
        values.append([p.data.copy() for p in params])
    return values


def optimize(cls, x0, grads, **settings):
    p = leaf(x0)
    return [v[0] for v in run(cls([p], **settings), [p], [[g] for g in grads])]


def assert_trajectories_close(ours, expected):
    for t, (a, b) in enumerate(zip(ours, expected)):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=f"after step {t + 1}")


# ---------------------------------------------------------------- textbook formulas
def sgd_textbook(x, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 maximize=False):
    out, b = [], None
    for g in grads:
        g = (-g if maximize else g) + weight_decay * x
        if momentum:
            b = g if b is None else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        x = x - lr * g
        out.append(x)
    return out


def adam_textbook(x, grads, lr, betas, eps, weight_decay=0.0, amsgrad=False, maximize=False,
                  decoupled=False):
    (b1, b2), out = betas, []
    m = v = v_max = np.zeros_like(x)
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if decoupled:
            x = x - lr * weight_decay * x
        else:
            g = g + weight_decay * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - b1**t)
        v_hat = (v_max if amsgrad else v) / (1 - b2**t)
        x = x - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(x)
    return out


def rmsprop_textbook(x, grads, lr, alpha, eps, weight_decay=0.0, momentum=0.0, centered=False,
                     maximize=False):
    out = []
    v = g_avg = b = np.zeros_like(x)
    for g in grads:
        g = (-g if maximize else g) + weight_decay * x
        v = alpha * v + (1 - alpha) * g**2
        g_avg = alpha * g_avg + (1 - alpha) * g
        a = np.sqrt(v - g_avg**2 if centered else v) + eps
        if momentum > 0:
            b = momentum * b + g / a
            x = x - lr * b
        else:
            x = x - lr * g / a
        out.append(x)
    return out


def adagrad_textbook(x, grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                     eps=1e-10, maximize=False):
    out, s = [], np.full_like(x, initial_accumulator_value)
    for t, g in enumerate(grads, start=1):
        g = (-g if maximize else g) + weight_decay * x
        s = s + g**2
        x = x - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)
        out.append(x)
    return out


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


# ---------------------------------------------------------------- groups, zero_grad, step
def test_parameter_groups_take_their_own_lr_and_the_defaults():
    a, b = leaf(np.ones(3)), leaf(np.ones(2))
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["params"][0] is b
    ga, gb = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 4.0])
    run(opt, [a, b], [[ga, gb]] * 3)
    np.testing.assert_allclose(a.data, sgd_textbook(np.ones(3), [ga] * 3, 0.1, 0.9)[-1])
    np.testing.assert_allclose(b.data, sgd_textbook(np.ones(2), [gb] * 3, 0.5, 0.9)[-1])


def test_add_param_group_fills_defaults_and_steps_the_new_group():
    a, b = leaf(np.ones(2)), leaf(np.ones(2))
    opt = optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": [b], "betas": (0.5, 0.9)})
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[1]["betas"] == (0.5, 0.9)
    run(opt, [a, b], [[np.ones(2), np.ones(2)]])
    assert not np.allclose(b.data, 1.0)


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    p = leaf(np.ones(3))
    (p * p).sum().backward()
    grad = p.grad
    optim.SGD([p], lr=0.1).zero_grad(set_to_none=set_to_none)
    if set_to_none:
        assert p.grad is None
    else:
        assert p.grad is grad and np.array_equal(p.grad.data, np.zeros(3))


def test_zero_grad_does_not_write_into_a_recorded_gradient():
    p = leaf(np.ones(3))
    (g,) = sg.grad((p * p).sum(), [p], create_graph=True)
    p.grad = g
    optim.SGD([p]).zero_grad(set_to_none=False)
    assert np.array_equal(p.grad.data, np.zeros(3)) and np.array_equal(g.data, 2 * np.ones(3))


def test_step_skips_parameters_without_gradient_and_gives_them_no_state():
    a, b = leaf(np.ones(2)), leaf(np.ones(2))
    opt = optim.Adam([a, b], lr=0.1)
    run(opt, [a, b], [[np.ones(2), None]])
    assert np.array_equal(b.data, np.ones(2)) and not np.allclose(a.data, 1.0)
    assert a in opt.state and b not in opt.state
    assert list(opt.state_dict()["state"]) == [0]


def test_step_records_no_graph_and_returns_the_closure_loss():
    p = leaf(np.array([1.0, -2.0]))
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with sg.no_grad():  # the closure still records its own graph
        loss = opt.step(closure)
    assert loss.item() == 5.0
    assert p.is_leaf and p.requires_grad
    np.testing.assert_allclose(p.data, [0.8, -1.6])


UPDATE_CASES = [
    (optim.SGD, {"lr": 0.1}),
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    (optim.Adam, {"lr": 0.1, "amsgrad": True, "weight_decay": 0.1, "maximize": True}),
    (optim.AdamW, {"lr": 0.1}),
    (optim.RMSprop, {"lr": 0.1, "momentum": 0.9, "centered": True, "weight_decay": 0.1}),
    (optim.Adagrad, {"lr": 0.1, "lr_decay": 0.1, "initial_accumulator_value": 0.1}),
]
CASE_IDS = [f"{cls.__name__}-{i}" for i, (cls, _) in enumerate(UPDATE_CASES)]


@pytest.mark.parametrize(("cls", "settings"), UPDATE_CASES, ids=CASE_IDS)
def test_updates_happen_in_place_and_keep_float32(cls, settings):
    p = leaf(np.linspace(-1, 1, 6).reshape(2, 3), dtype=np.float32)
    array, address = p.data, p.data.__array_interface__["data"][0]
    opt = cls([p], **settings)
    run(opt, [p], [[np.full((2, 3), 0.5)]] * 3)
    assert p.data is array and p.data.__array_interface__["data"][0] == address
    assert p.dtype == np.float32 and not np.allclose(array, np.linspace(-1, 1, 6).reshape(2, 3))
    for value in opt.state.get(p, {}).values():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32


# ---------------------------------------------------------------- checkpoints
def walk_plain(value, where="state_dict"):
    """Fail unless ``value`` holds only plain, pickle-free types (arrays owning their data)."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, (int, str)), f"{where}: key {key!r}"
            walk_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, list):
        for k, item in enumerate(value):
            walk_plain(item, f"{where}[{k}]")
    elif isinstance(value, np.ndarray):
        assert value.base is None, f"{where} is a view"
    else:
        assert value is None or type(value) in (int, float, bool, str), f"{where}: {value!r}"


def two_groups(cls, settings, params):
    """Two groups with different learning rates."""
    lr = settings.get("lr", 0.1)
    return cls([{"params": params[:2]}, {"params": params[2:], "lr": lr / 2}], **settings)


@pytest.mark.parametrize(("cls", "settings"), UPDATE_CASES, ids=CASE_IDS)
def test_state_dict_round_trip_continues_identically(cls, settings):
    rng = np.random.default_rng(0)
    shapes = [(2, 3), (4,), (3, 1)]
    params = [leaf(rng.standard_normal(s)) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(8)]
    grads[1][2] = None  # a parameter without a gradient at one step
    opt = two_groups(cls, settings, params)
    run(opt, params, grads[:4])
    saved = opt.state_dict()
    walk_plain(saved)
    assert [g["params"] for g in saved["param_groups"]] == [[0, 1], [2]]

    copies = [leaf(p.data.copy()) for p in params]
    other = two_groups(cls, dict(settings, lr=0.7), copies)  # hyperparameters come from saved
    other.load_state_dict(saved)
    for entry in saved["state"].values():  # the optimizer holds copies, not the saved arrays
        for value in entry.values():
            if isinstance(value, np.ndarray):
                value[...] = np.nan
    assert [g["lr"] for g in other.param_groups] == [g["lr"] for g in opt.param_groups]
    ours, theirs = run(opt, params, grads[4:]), run(other, copies, grads[4:])
    for a, b in zip(ours, theirs):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_state_dict_keeps_betas_a_tuple_and_accepts_string_keys():
    p = leaf(np.ones(2))
    opt = optim.Adam([p], betas=(0.8, 0.9))
    run(opt, [p], [[np.ones(2)]])
    saved = opt.state_dict()
    assert saved["param_groups"][0]["betas"] == [0.8, 0.9]
    saved["state"] = {str(k): v for k, v in saved["state"].items()}  # as after a JSON trip
    fresh = optim.Adam([leaf(np.ones(2))])
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["betas"] == (0.8, 0.9)
    assert fresh.state_dict()["state"][0]["step"] == 1


def test_sgd_without_momentum_has_no_state():
    p = leaf(np.ones(2))
    opt = optim.SGD([p], lr=0.1)
    run(opt, [p], [[np.ones(2)]])
    assert opt.state_dict()["state"] == {}


def saved_adam(*shapes):
    params = [leaf(np.ones(s)) for s in shapes]
    opt = optim.Adam(params)
    run(opt, params, [[np.ones(s) for s in shapes]])
    return opt.state_dict()


def test_load_state_dict_errors_name_the_function():
    saved = saved_adam((2,), (3,))
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: the state dict has 1 parameter "
                                         r"groups but the optimizer has 2"):
        optim.Adam([{"params": [leaf(np.ones(2))]}, {"params": [leaf(np.ones(3))]}]
                   ).load_state_dict(saved_adam((2,)))
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: parameter group 0 has 2 .*1"):
        optim.Adam([leaf(np.ones(2))]).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: state 'exp_avg' of parameter "
                                         r"1 has shape \(3,\) but the parameter has shape \(4,\)"):
        optim.Adam([leaf(np.ones(2)), leaf(np.ones(4))]).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: .*lacks hyperparameters "
                                         r"\['dampening', 'momentum', 'nesterov'\]"):
        optim.SGD([leaf(np.ones(2)), leaf(np.ones(3))]).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: expected a dict"):
        optim.Adam([leaf(np.ones(2))]).load_state_dict({"state": {}})


def test_load_state_dict_checks_hyperparameters_and_keeps_the_group_dicts():
    saved = saved_adam((2,))
    saved["param_groups"][0]["betas"] = [0.9, 1.5]
    opt = optim.Adam([leaf(np.ones(2))])
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: parameter group 0: betas\[1\]"):
        opt.load_state_dict(saved)
    group = opt.param_groups[0]
    saved["param_groups"][0].update(betas=[0.9, 0.99], name="encoder")  # extra keys are kept
    opt.load_state_dict(saved)
    assert opt.param_groups[0] is group and group["name"] == "encoder"


def test_numpy_scalars_become_python_numbers_in_state_dicts():
    opt = optim.Adam([leaf(np.ones(2))], lr=np.float64(0.1), betas=(np.float32(0.5), 0.9))
    scheduler = optim.StepLR(opt, step_size=np.int64(2), gamma=np.float64(0.5))
    walk_plain(opt.state_dict())
    walk_plain(scheduler.state_dict())


def test_failed_load_changes_nothing():
    p = leaf(np.ones(2))
    opt = optim.Adam([p], lr=0.3)
    bad = saved_adam((3,))
    bad["param_groups"][0]["lr"] = 0.9
    with pytest.raises(ValueError):
        opt.load_state_dict(bad)
    assert opt.param_groups[0]["lr"] == 0.3 and opt.state == {}


# ---------------------------------------------------------------- argument errors
def test_parameter_errors():
    with pytest.raises(TypeError, match=r"SGD: .*expected a Tensor, got ndarray"):
        optim.SGD([np.ones(2)])
    with pytest.raises(TypeError, match=r"SGD: .*floating-point.*int64"):
        optim.SGD([sg.tensor(np.arange(3))])
    frozen = sg.tensor([1.0])  # requires_grad=False: accepted, and never updated
    optim.Adam([frozen], lr=0.1).step()
    assert frozen.data[0] == 1.0
    p = leaf(np.ones(2))
    with pytest.raises(ValueError, match=r"Adam: parameter group 1, parameter 0: .*more than once"):
        optim.Adam([{"params": [p]}, {"params": [p]}])
    with pytest.raises(ValueError, match=r"SGD: .*more than once"):
        optim.SGD([p, p])
    with pytest.raises(ValueError, match=r"RMSprop: .*leaf"):
        optim.RMSprop([p * 2])
    with pytest.raises(ValueError, match=r"Adagrad: got an empty parameter list"):
        optim.Adagrad([])
    with pytest.raises(TypeError, match=r"SGD: params must be an iterable.*got a Tensor"):
        optim.SGD(p)
    with pytest.raises(TypeError, match=r"SGD: .*got a set"):
        optim.SGD([{"params": {p}}])


@pytest.mark.parametrize(("make", "pattern"), [
    (lambda p: optim.SGD([p], lr=-0.1), r"SGD: lr must be >= 0.0, got -0.1"),
    (lambda p: optim.SGD([{"params": [p], "lr": -1}]), r"SGD: parameter group 0: lr .* -1"),
    (lambda p: optim.SGD([p], momentum=-0.5), r"SGD: momentum must be >= 0.0, got -0.5"),
    (lambda p: optim.SGD([p], nesterov=True), r"SGD: nesterov=True needs momentum > 0"),
    (lambda p: optim.Adam([p], betas=(1.0, 0.9)), r"Adam: betas\[0\] must be in \[0, 1\), got 1"),
    (lambda p: optim.AdamW([p], betas=(0.9, -0.1)), r"AdamW: betas\[1\] .* got -0.1"),
    (lambda p: optim.Adam([p], betas=0.9), r"Adam: betas must be a pair"),
    (lambda p: optim.Adam([p], eps=0.0), r"Adam: eps must be > 0, got 0.0"),
    (lambda p: optim.Adam([p], weight_decay=-1e-2), r"Adam: weight_decay .* got -0.01"),
    (lambda p: optim.RMSprop([p], alpha=1.5), r"RMSprop: alpha must be in \[0, 1\], got 1.5"),
    (lambda p: optim.RMSprop([p], eps=-1e-8), r"RMSprop: eps must be > 0, got -1e-08"),
    (lambda p: optim.Adagrad([p], lr_decay=-1), r"Adagrad: lr_decay must be >= 0.0, got -1"),
    (lambda p: optim.Adagrad([p], lr=float("nan")), r"Adagrad: lr must be >= 0.0, got nan"),
])
def test_hyperparameter_value_errors(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make(leaf(np.ones(2)))


def test_hyperparameter_type_errors():
    with pytest.raises(TypeError, match=r"Adam: lr must be a real number, got '0.1'"):
        optim.Adam([leaf(np.ones(2))], lr="0.1")


def test_gradient_of_the_wrong_shape():
    p = leaf(np.ones(2))
    p.grad = sg.tensor(np.ones(3), dtype=np.float64)
    with pytest.raises(ValueError, match=r"SGD.step: .*shape \(2,\) has a gradient of shape"):
        optim.SGD([p]).step()


# ---------------------------------------------------------------- gradient clipping
def with_grads(*grads):
    params = []
    for g in grads:
        p = leaf(np.zeros(np.shape(g)))
        p.grad = None if g is None else sg.tensor(g, dtype=np.float64)
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf])
def test_clip_grad_norm_scales_all_gradients_together(norm_type):
    g1, g2 = np.array([[3.0, -4.0]]), np.array([1.0, -2.0, 2.0])
    params = with_grads(g1, g2, None)
    arrays = [p.grad.data for p in params[:2]]
    flat = np.concatenate([g1.ravel(), g2])
    expected = np.max(np.abs(flat)) if norm_type == math.inf else np.sum(
        np.abs(flat) ** norm_type) ** (1 / norm_type)
    total = optim.clip_grad_norm_(params, max_norm=1.0, norm_type=norm_type)
    assert isinstance(total, float) and total == pytest.approx(expected, rel=1e-12)
    coef = 1.0 / (expected + 1e-6)
    for p, g, array in zip(params, (g1, g2), arrays):
        assert p.grad.data is array  # in place
        np.testing.assert_allclose(p.grad.data, g * coef, rtol=1e-12)
    assert params[2].grad is None


def test_clip_grad_norm_leaves_small_gradients_alone():
    (p,) = with_grads(np.array([0.3, 0.4]))
    assert optim.clip_grad_norm_(p, max_norm=1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(p.grad.data, [0.3, 0.4])
    assert optim.clip_grad_norm_(with_grads(None), max_norm=1.0) == 0.0


def test_clip_grad_norm_nonfinite():
    params = with_grads(np.array([1.0, np.inf]), np.array([2.0]))
    with pytest.raises(RuntimeError, match=r"clip_grad_norm_: .* is inf"):
        optim.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(params[1].grad.data, [2.0])  # untouched by the failed call
    # Without the check, scaling by 1/inf zeroes the finite entries (inf * 0 is NaN), as torch.
    with np.errstate(invalid="ignore"):
        assert optim.clip_grad_norm_(params, 1.0) == math.inf
    np.testing.assert_array_equal(params[1].grad.data, [0.0])
    assert np.isnan(params[0].grad.data[1])
    nan_params = with_grads(np.array([np.nan, 1.0]))
    assert math.isnan(optim.clip_grad_norm_(nan_params, 1.0, norm_type=math.inf))


def test_clip_grad_norm_scales_a_shared_gradient_once():
    a, b = leaf(np.ones(2)), leaf(np.ones(2))
    ga, gb = sg.grad((a + b).sum() * 4.0, [a, b], create_graph=True)
    a.grad, b.grad = ga, gb
    total = optim.clip_grad_norm_([a, b], max_norm=1.0)
    assert total == pytest.approx(8.0)
    np.testing.assert_allclose(a.grad.data, 4.0 / (8.0 + 1e-6))
    np.testing.assert_allclose(b.grad.data, 4.0 / (8.0 + 1e-6))


def test_clip_grad_value():
    params = with_grads(np.array([-3.0, 0.5, 2.0]), None)
    array = params[0].grad.data
    optim.clip_grad_value_(params, 1.0)
    assert params[0].grad.data is array
    np.testing.assert_array_equal(array, [-1.0, 0.5, 1.0])


def test_clip_errors():
    (p,) = with_grads(np.ones(2))
    with pytest.raises(ValueError, match=r"clip_grad_norm_: max_norm must be >= 0, got -1.0"):
        optim.clip_grad_norm_(p, -1.0)
    with pytest.raises(ValueError, match=r"clip_grad_norm_: norm_type must be > 0 or inf, got 0"):
        optim.clip_grad_norm_(p, 1.0, norm_type=0)
    with pytest.raises(ValueError, match=r"clip_grad_value_: clip_value must be >= 0, got -2"):
        optim.clip_grad_value_(p, -2)
    with pytest.raises(TypeError, match=r"parameter 0 should be a Tensor, got ndarray"):
        optim.clip_grad_norm_([np.ones(2)], 1.0)


# ---------------------------------------------------------------- learning-rate schedules
def step_closed(base, t, step_size, gamma=0.1):
    return base * gamma ** (t // step_size)


def exponential_closed(base, t, gamma):
    return base * gamma**t


def cosine_closed(base, t, T_max, eta_min=0.0):
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2


def warmup_closed(base, t, warmup_steps, start_factor=0.0):
    if t >= warmup_steps:
        return base
    return base * (start_factor + (1 - start_factor) * t / warmup_steps)


SCHEDULES = [
    (optim.StepLR, step_closed, st.fixed_dictionaries(
        {"step_size": st.integers(1, 5), "gamma": st.floats(0.0, 1.0)})),
    (optim.ExponentialLR, exponential_closed, st.fixed_dictionaries(
        {"gamma": st.floats(0.5, 1.0)})),
    (optim.CosineAnnealingLR, cosine_closed, st.fixed_dictionaries(
        {"T_max": st.integers(1, 10), "eta_min": st.floats(0.0, 1e-3)})),
    (optim.LinearWarmup, warmup_closed, st.fixed_dictionaries(
        {"warmup_steps": st.integers(0, 10), "start_factor": st.floats(0.0, 1.0)})),
]
SCHEDULE_IDS = [cls.__name__ for cls, _, _ in SCHEDULES]


def sgd_two_groups(lrs=(0.1, 0.02)):
    return optim.SGD([{"params": [leaf(np.ones(2))], "lr": lr} for lr in lrs])


@pytest.mark.parametrize(("cls", "closed", "settings"), SCHEDULES, ids=SCHEDULE_IDS)
@given(data=st.data())
def test_schedules_follow_their_closed_forms(cls, closed, settings, data):
    kwargs = data.draw(settings)
    opt = sgd_two_groups()
    scheduler = cls(opt, **kwargs)
    for t in range(25):
        expected = [closed(base, t, **kwargs) for base in (0.1, 0.02)]
        np.testing.assert_allclose(scheduler.get_last_lr(), expected, rtol=1e-12, atol=1e-15)
        assert [g["lr"] for g in opt.param_groups] == scheduler.get_last_lr()
        opt.step()
        scheduler.step()
    assert scheduler.last_epoch == 25


def test_linear_warmup_defaults_start_at_zero_and_hold():
    scheduler = optim.LinearWarmup(sgd_two_groups((0.4,)), warmup_steps=4)
    lrs = []
    for _ in range(7):
        lrs.append(scheduler.get_last_lr()[0])
        scheduler.step()
    np.testing.assert_allclose(lrs, [0.0, 0.1, 0.2, 0.3, 0.4, 0.4, 0.4])


@pytest.mark.parametrize(("cls", "closed", "settings"), SCHEDULES, ids=SCHEDULE_IDS)
@given(data=st.data())
def test_scheduler_state_dict_round_trip(cls, closed, settings, data):
    kwargs = data.draw(settings)
    opt = sgd_two_groups()
    scheduler = cls(opt, **kwargs)
    for _ in range(4):
        opt.step()
        scheduler.step()
    saved_opt, saved = opt.state_dict(), scheduler.state_dict()
    walk_plain(saved)
    fresh = sgd_two_groups((0.5, 0.5))
    fresh.load_state_dict(saved_opt)
    resumed = cls(fresh, **kwargs)  # created after the optimizer was loaded: order is free
    resumed.load_state_dict(saved)
    assert resumed.get_last_lr() == scheduler.get_last_lr()
    for _ in range(6):
        assert [g["lr"] for g in fresh.param_groups] == [g["lr"] for g in opt.param_groups]
        for s in (scheduler, resumed):
            s.step()


def test_scheduler_errors():
    opt = sgd_two_groups()
    with pytest.raises(TypeError, match=r"StepLR: expected an Optimizer, got list"):
        optim.StepLR([], step_size=2)
    with pytest.raises(ValueError, match=r"StepLR: step_size must be >= 1, got 0"):
        optim.StepLR(opt, step_size=0)
    with pytest.raises(TypeError, match=r"CosineAnnealingLR: T_max must be an int, got 2.5"):
        optim.CosineAnnealingLR(opt, T_max=2.5)
    with pytest.raises(ValueError, match=r"ExponentialLR: gamma must be >= 0.0, got -0.5"):
        optim.ExponentialLR(opt, gamma=-0.5)
    with pytest.raises(ValueError, match=r"LinearWarmup: start_factor must be in \[0, 1\]"):
        optim.LinearWarmup(opt, warmup_steps=3, start_factor=2.0)
    saved = optim.ExponentialLR(opt, gamma=0.5).state_dict()
    with pytest.raises(ValueError, match=r"ExponentialLR.load_state_dict: base_lrs has 2 "):
        optim.ExponentialLR(sgd_two_groups((0.1,)), gamma=0.5).load_state_dict(saved)
    scheduler = optim.ExponentialLR(opt, gamma=0.5)
    opt.add_param_group({"params": [leaf(np.ones(1))]})
    with pytest.raises(ValueError, match=r"ExponentialLR.step: .*3 parameter groups"):
        scheduler.step()


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


def torch_schedule(torch, cls, opt, kwargs):
    schedulers = torch.optim.lr_scheduler
    if cls is optim.LinearWarmup:  # LinearLR needs start_factor > 0 and total_iters > 0
        return schedulers.LinearLR(opt, start_factor=max(kwargs["start_factor"], 1e-3),
                                   end_factor=1.0, total_iters=max(kwargs["warmup_steps"], 1))
    return getattr(schedulers, cls.__name__)(opt, **kwargs)


@pytest.mark.parametrize(("cls", "closed", "settings"), SCHEDULES, ids=SCHEDULE_IDS)
@given(data=st.data())
def test_schedules_agree_with_torch(cls, closed, settings, data):
    torch = pytest.importorskip("torch")
    kwargs = data.draw(settings)
    if cls is optim.LinearWarmup:
        kwargs = {"warmup_steps": max(kwargs["warmup_steps"], 1),
                  "start_factor": max(kwargs["start_factor"], 1e-3)}
    opt = sgd_two_groups()
    torch_opt = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr}
                                 for lr in (0.1, 0.02)])
    scheduler, torch_scheduler = cls(opt, **kwargs), torch_schedule(torch, cls, torch_opt, kwargs)
    for epoch in range(30):
        np.testing.assert_allclose(scheduler.get_last_lr(), torch_scheduler.get_last_lr(),
                                   rtol=RTOL, atol=ATOL, err_msg=f"epoch {epoch}")
        torch_opt.step()
        scheduler.step()
        torch_scheduler.step()


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@given(seed=SEED, max_norm=st.floats(0.0, 10.0))
def test_clip_grad_norm_agrees_with_torch(norm_type, seed, max_norm):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal(s) for s in [(3, 2), (5,)]]
    params = with_grads(*grads)
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for q, g in zip(theirs, grads):
        q.grad = torch.tensor(g)
    total = optim.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    torch_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert total == pytest.approx(torch_total.item(), rel=RTOL)
    for p, q in zip(params, theirs):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=RTOL, atol=ATOL)
