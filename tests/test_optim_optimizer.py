"""The Optimizer base class: parameter groups, zero_grad, step, state dicts, argument errors."""
import numpy as np
import pytest

import scratchgen as sg
import scratchgen.optim as optim
from tests._optim_helpers import leaf, run, sgd_textbook, walk_plain


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
