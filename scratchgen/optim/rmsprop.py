"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""
import numpy as np

from .. import backend
from .optimizer import Optimizer, check_at_least, check_number, check_positive


class RMSprop(Optimizer):
    r"""RMSprop (Tieleman & Hinton, 2012, Lecture 6.5; centered form from Graves, 2013,
    "Generating Sequences With Recurrent Neural Networks"), PyTorch's ``torch.optim.RMSprop``.

    For each parameter :math:`\theta` with gradient :math:`g_t` at step :math:`t`:

    .. math::

        g_t &\leftarrow \pm g_t + \lambda \theta_{t-1}
            \quad (- \text{ when maximizing}, \lambda = \text{weight\_decay}) \\
        v_t &= \alpha v_{t-1} + (1 - \alpha) g_t^2 \\
        \bar g_t &= \alpha \bar g_{t-1} + (1 - \alpha) g_t \quad \text{(centered only)} \\
        a_t &= \sqrt{v_t - \bar g_t^2} + \epsilon \text{ if centered, else }
               \sqrt{v_t} + \epsilon \\
        b_t &= \mu b_{t-1} + g_t / a_t \quad \text{(momentum } \mu > 0 \text{ only)} \\
        \theta_t &= \theta_{t-1} - \gamma b_t \text{ if } \mu > 0, \text{ else }
                    \theta_{t-1} - \gamma g_t / a_t

    with :math:`v_0 = \bar g_0 = b_0 = 0`. There is no bias correction.

    Parameters
    ----------
    params : iterable of Tensor or dict
        Parameters or parameter groups (see ``Optimizer``).
    lr : float
        Learning rate :math:`\gamma` >= 0.
    alpha : float
        Smoothing constant :math:`\alpha` in [0, 1].
    eps : float
        :math:`\epsilon` > 0, keeps the division finite.
    weight_decay : float
        L2 penalty :math:`\lambda` >= 0, added to the gradient.
    momentum : float
        Momentum factor :math:`\mu` >= 0.
    centered : bool
        Normalize by an estimate of the gradient's variance instead of its second moment.
    maximize : bool
        Ascend the objective instead of descending.

    State
    -----
    ``step`` (int), ``square_avg`` (:math:`v_t`), with momentum ``momentum_buffer``
    (:math:`b_t`), when centered ``grad_avg`` (:math:`\bar g_t`); arrays like the parameter.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, maximize=False):
        defaults = {
            "lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
            "momentum": momentum, "centered": centered, "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group, owner):
        super()._check_hyperparameters(group, owner)
        check_number(owner, "alpha", group["alpha"])
        if not 0.0 <= group["alpha"] <= 1.0:
            raise ValueError(f"{owner}: alpha must be in [0, 1], got {group['alpha']}")
        check_positive(owner, "eps", group["eps"])
        check_at_least(owner, "weight_decay", group["weight_decay"], 0.0)
        check_at_least(owner, "momentum", group["momentum"], 0.0)

    def _update(self, param, grad, group):
        x = param.data
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        momentum = float(group["momentum"])
        state = self.state.setdefault(param, {})
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(x)
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(x)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(x)
        state["step"] += 1
        # One pass over x, its gradient and state (the backend's kernel; the NumPy twin in
        # backend/numpy_optim.py spells out the update above step by step).
        backend.current().rmsprop_step(
            x, grad, state["square_avg"], state.get("grad_avg"), state.get("momentum_buffer"),
            lr, alpha, eps, float(group["weight_decay"]), momentum, group["maximize"])
