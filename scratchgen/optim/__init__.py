"""Optimizers, learning-rate schedules and gradient clipping, with PyTorch's APIs and update rules.

A training step::

    >>> import scratchgen.optim as optim                               # doctest: +SKIP
    >>> opt = optim.Adam(params, lr=1e-3)
    >>> opt.zero_grad()
    >>> loss.backward()
    >>> optim.clip_grad_norm_(params, max_norm=1.0)
    >>> opt.step()

Every update works on the arrays in place (``param.data``, ``param.grad.data``) and records no
graph; the formulas are in each class's docstring.
"""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .clip import clip_grad_norm_, clip_grad_value_
from .lr_scheduler import CosineAnnealingLR, ExponentialLR, LinearWarmup, LRScheduler, StepLR
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "Adagrad", "Adam", "AdamW", "CosineAnnealingLR", "ExponentialLR", "LRScheduler",
    "LinearWarmup", "Optimizer", "RMSprop", "SGD", "StepLR", "clip_grad_norm_",
    "clip_grad_value_", "lr_scheduler",
]
