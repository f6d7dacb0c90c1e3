"""Stochastic gradient descent, with optional (Nesterov) momentum and L2 weight decay."""
import numpy as np

from .. import backend
from .optimizer import Optimizer, check_at_least


class SGD(Optimizer):
    r"""Stochastic gradient descent, PyTorch's ``torch.optim.SGD``.

    For each parameter :math:`\theta` with gradient :math:`g_t` at step :math:`t`:

    .. math::

        g_t &\leftarrow \pm g_t + \lambda \theta_{t-1}
            \quad (- \text{ when maximizing}, \lambda = \text{weight\_decay}) \\
        b_t &= \begin{cases} g_t & t = 1 \\
                             \mu b_{t-1} + (1 - \tau) g_t & t > 1 \end{cases}
            \quad (\mu = \text{momentum}, \tau = \text{dampening}) \\
        d_t &= \begin{cases} g_t + \mu b_t & \text{nesterov} \\
                             b_t & \text{otherwise} \end{cases}
            \quad (d_t = g_t \text{ when } \mu = 0) \\
        \theta_t &= \theta_{t-1} - \gamma d_t \quad (\gamma = \text{lr})

    Note that the first momentum buffer is the gradient itself, undamped.

    Parameters
    ----------
    params : iterable of Tensor or dict
        Parameters or parameter groups (see ``Optimizer``).
    lr : float
        Learning rate :math:`\gamma` >= 0.
    momentum : float
        Momentum factor :math:`\mu` >= 0.
    dampening : float
        Dampening :math:`\tau` of the momentum (usually 0).
    weight_decay : float
        L2 penalty :math:`\lambda` >= 0, added to the gradient.
    nesterov : bool
        Use Nesterov momentum (needs momentum > 0 and dampening 0).
    maximize : bool
        Ascend the objective instead of descending.

    State
    -----
    ``momentum_buffer`` : :math:`b_t`, an array like the parameter (only when momentum != 0).
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=False):
        defaults = {
            "lr": lr, "momentum": momentum, "dampening": dampening,
            "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group, owner):
        super()._check_hyperparameters(group, owner)
        check_at_least(owner, "momentum", group["momentum"], 0.0)
        check_at_least(owner, "weight_decay", group["weight_decay"], 0.0)
        check_at_least(owner, "dampening", group["dampening"], 0.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"{owner}: nesterov=True needs momentum > 0 and dampening = 0, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _update(self, param, grad, group):
        x = param.data
        momentum = float(group["momentum"])
        buf, first = None, False
        if momentum != 0:
            state = self.state.setdefault(param, {})
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.empty_like(x)   # the step sets b_1 = g_1
                first = True
        # One pass over x, its gradient and buffer (the backend's kernel; the NumPy twin in
        # backend/numpy_optim.py spells out the update above step by step).
        backend.current().sgd_step(
            x, grad, buf, float(group["lr"]), momentum, float(group["dampening"]),
            float(group["weight_decay"]), group["nesterov"], group["maximize"], first)
