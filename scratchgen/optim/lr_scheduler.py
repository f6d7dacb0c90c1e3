"""Learning-rate schedules: set each parameter group's ``lr`` from the epoch count.

Each scheduler remembers the groups' learning rates when it is created (``base_lrs``) and, at
every ``step()``, writes ``lr = f(base_lr, epoch)`` into the optimizer: a closed form of the epoch
count, so a schedule resumed from a ``state_dict`` continues exactly. Call ``scheduler.step()``
after ``optimizer.step()``, once per epoch (or per iteration, if the schedule counts those)::

    >>> for epoch in range(epochs):                                    # doctest: +SKIP
    ...     train_one_epoch(model, optimizer)
    ...     scheduler.step()
"""
import math

import numpy as np

from .optimizer import Optimizer, check_at_least, check_number


class LRScheduler:
    """Base class: ``step()`` advances ``last_epoch`` and sets each group's ``lr``.

    Creating a scheduler already applies epoch 0 (as in PyTorch), so the learning rate during
    the first epoch is ``lr_at(base_lr, 0)``.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose ``param_groups[i]["lr"]`` is scheduled.

    Attributes
    ----------
    base_lrs : list of float
        Each group's learning rate when the scheduler was created.
    last_epoch : int
        Number of ``step()`` calls since creation (0 right after creation).
    """

    # Names of the constructor's arguments saved by ``state_dict``; set by each subclass.
    hyperparameter_names = ()

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{self._name}: expected an Optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lrs = [float(group["lr"]) for group in optimizer.param_groups]
        self.last_epoch = -1
        self._last_lr = list(self.base_lrs)
        self.step()

    @property
    def _name(self):
        return type(self).__name__

    def lr_at(self, base_lr, epoch):
        """The learning rate of a group with initial rate ``base_lr`` at ``epoch``."""
        raise NotImplementedError(f"{self._name} does not implement lr_at")

    def get_lr(self):
        """The learning rates of the current epoch, one per parameter group."""
        return [self.lr_at(base_lr, self.last_epoch) for base_lr in self.base_lrs]

    def get_last_lr(self):
        """The learning rates set by the latest ``step()``, one per parameter group."""
        return list(self._last_lr)

    def step(self):
        """Advance one epoch and write the new learning rates into the optimizer."""
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):
            raise ValueError(
                f"{self._name}.step: the optimizer has {len(groups)} parameter groups but the "
                f"scheduler was created for {len(self.base_lrs)}; create the scheduler after "
                "adding every group"
            )
        self.last_epoch += 1
        self._last_lr = self.get_lr()
        for group, lr in zip(groups, self._last_lr):
            group["lr"] = lr

    def state_dict(self):
        """The schedule's position and settings, as plain Python data.

        Returns
        -------
        dict
            ``{"last_epoch": int, "base_lrs": [float], "last_lr": [float], hyperparameter:
            value, ...}``.
        """
        state = {
            "last_epoch": self.last_epoch,
            "base_lrs": list(self.base_lrs),
            "last_lr": list(self._last_lr),
        }
        for name in self.hyperparameter_names:
            state[name] = getattr(self, name)
        return state

    def load_state_dict(self, state_dict):
        """Restore a ``state_dict()``; the optimizer's learning rates are set to the saved
        ``last_lr`` too, so the order of loading optimizer and scheduler does not matter."""
        name = f"{self._name}.load_state_dict"
        expected = {"last_epoch", "base_lrs", "last_lr", *self.hyperparameter_names}
        if not isinstance(state_dict, dict) or not expected <= set(state_dict):
            found = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict)
            raise ValueError(f"{name}: expected a dict with keys {sorted(expected)}, got {found}")
        groups = self.optimizer.param_groups
        for key in ("base_lrs", "last_lr"):
            if len(state_dict[key]) != len(groups):
                raise ValueError(
                    f"{name}: {key} has {len(state_dict[key])} entries but the optimizer has "
                    f"{len(groups)} parameter groups"
                )
        self.last_epoch = int(state_dict["last_epoch"])
        self.base_lrs = [float(lr) for lr in state_dict["base_lrs"]]
        self._last_lr = [float(lr) for lr in state_dict["last_lr"]]
        for key in self.hyperparameter_names:
            setattr(self, key, state_dict[key])
        for group, lr in zip(groups, self._last_lr):
            group["lr"] = lr


class StepLR(LRScheduler):
    r"""Multiply the learning rate by ``gamma`` every ``step_size`` epochs (PyTorch's
    ``torch.optim.lr_scheduler.StepLR``):

    .. math:: \eta_t = \eta_0 \, \gamma^{\lfloor t / \text{step\_size} \rfloor}

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int
        Epochs between decays, >= 1.
    gamma : float
        Decay factor, >= 0.
    """

    hyperparameter_names = ("step_size", "gamma")

    def __init__(self, optimizer, step_size, gamma=0.1):
        check_count(self, "step_size", step_size, 1)
        check_at_least(type(self).__name__, "gamma", gamma, 0.0)
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRScheduler):
    r"""Multiply the learning rate by ``gamma`` every epoch (PyTorch's
    ``torch.optim.lr_scheduler.ExponentialLR``):

    .. math:: \eta_t = \eta_0 \, \gamma^t

    Parameters
    ----------
    optimizer : Optimizer
    gamma : float
        Decay factor, >= 0.
    """

    hyperparameter_names = ("gamma",)

    def __init__(self, optimizer, gamma):
        check_at_least(type(self).__name__, "gamma", gamma, 0.0)
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** epoch


class CosineAnnealingLR(LRScheduler):
    r"""Anneal the learning rate along half a cosine from its initial value to ``eta_min``
    over ``T_max`` epochs (Loshchilov & Hutter, 2017, "SGDR", without restarts; PyTorch's
    ``torch.optim.lr_scheduler.CosineAnnealingLR``):

    .. math::

        \eta_t = \eta_{\min} + \tfrac12 (\eta_0 - \eta_{\min})
                 \Big(1 + \cos\frac{\pi t}{T_{\max}}\Big)

    Past ``T_max`` the formula keeps going, so the rate climbs back up (period
    :math:`2 T_{\max}`), as PyTorch's does.

    Parameters
    ----------
    optimizer : Optimizer
    T_max : int
        Epochs from the initial rate down to ``eta_min``, >= 1.
    eta_min : float
        Lowest learning rate, >= 0.
    """

    hyperparameter_names = ("T_max", "eta_min")

    def __init__(self, optimizer, T_max, eta_min=0.0):
        check_count(self, "T_max", T_max, 1)
        check_at_least(type(self).__name__, "eta_min", eta_min, 0.0)
        self.T_max, self.eta_min = int(T_max), float(eta_min)
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        cosine = math.cos(math.pi * epoch / self.T_max)
        return self.eta_min + (base_lr - self.eta_min) * (1.0 + cosine) / 2.0


class LinearWarmup(LRScheduler):
    r"""Raise the learning rate linearly from ``start_factor * lr`` to ``lr`` over
    ``warmup_steps`` steps, then hold it:

    .. math::

        \eta_t = \eta_0 \Big(f + (1 - f) \frac{\min(t, T)}{T}\Big)
        \quad (f = \text{start\_factor}, T = \text{warmup\_steps})

    (:math:`\eta_t = \eta_0` when :math:`T = 0`). This equals PyTorch's
    ``LinearLR(optimizer, start_factor, end_factor=1.0, total_iters=warmup_steps)``, except
    that a start factor of 0 is allowed (PyTorch requires it > 0).

    Parameters
    ----------
    optimizer : Optimizer
    warmup_steps : int
        Steps until the full learning rate, >= 0.
    start_factor : float
        Fraction of the learning rate used at step 0, in [0, 1].
    """

    hyperparameter_names = ("warmup_steps", "start_factor")

    def __init__(self, optimizer, warmup_steps, start_factor=0.0):
        check_count(self, "warmup_steps", warmup_steps, 0)
        check_number(type(self).__name__, "start_factor", start_factor)
        if not 0.0 <= start_factor <= 1.0:
            raise ValueError(
                f"LinearWarmup: start_factor must be in [0, 1], got {start_factor}"
            )
        self.warmup_steps, self.start_factor = int(warmup_steps), float(start_factor)
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        if epoch >= self.warmup_steps:
            return base_lr
        return base_lr * (self.start_factor + (1.0 - self.start_factor) * epoch / self.warmup_steps)


def check_count(scheduler, name, value, low):
    """``value`` must be an int >= ``low`` (a number of epochs or steps)."""
    owner = type(scheduler).__name__
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be an int, got {value!r}")
    if value < low:
        raise ValueError(f"{owner}: {name} must be >= {low}, got {value}")
