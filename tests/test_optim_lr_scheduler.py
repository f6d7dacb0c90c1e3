"""Learning-rate schedules: closed forms, state dicts, errors, and torch's lr_scheduler."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchgen.optim as optim
from tests._optim_helpers import ATOL, RTOL, leaf, walk_plain


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
