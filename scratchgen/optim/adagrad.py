"""Adagrad: per-coordinate step sizes from the sum of all past squared gradients."""
import numpy as np

from .optimizer import Optimizer, check_at_least, check_positive, effective_gradient


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan & Singer, 2011, "Adaptive Subgradient Methods for Online Learning
    and Stochastic Optimization"), PyTorch's ``torch.optim.Adagrad``.

    For each parameter :math:`\theta` with gradient :math:`g_t` at step :math:`t = 1, 2, ...`:

    .. math::

        g_t &\leftarrow \pm g_t + \lambda \theta_{t-1}
            \quad (- \text{ when maximizing}, \lambda = \text{weight\_decay}) \\
        \tilde\gamma_t &= \frac{\gamma}{1 + (t - 1) \eta} \quad (\eta = \text{lr\_decay}) \\
        s_t &= s_{t-1} + g_t^2 \\
        \theta_t &= \theta_{t-1} - \tilde\gamma_t \frac{g_t}{\sqrt{s_t} + \epsilon}

    with :math:`s_0` = ``initial_accumulator_value`` everywhere.

    Parameters
    ----------
    params : iterable of Tensor or dict
        Parameters or parameter groups (see ``Optimizer``).
    lr : float
        Learning rate :math:`\gamma` >= 0.
    lr_decay : float
        :math:`\eta` >= 0: the step size decays as :math:`1 / (1 + (t - 1) \eta)`.
    weight_decay : float
        L2 penalty :math:`\lambda` >= 0, added to the gradient.
    initial_accumulator_value : float
        Starting value :math:`s_0` >= 0 of the sum of squares.
    eps : float
        :math:`\epsilon` > 0, keeps the division finite.
    maximize : bool
        Ascend the objective instead of descending.

    State
    -----
    ``step`` (int) and ``sum`` (:math:`s_t`, an array like the parameter). Unlike PyTorch,
    which creates it in the constructor, the state appears at a parameter's first step, and
    :math:`s_0` is the parameter's own group's ``initial_accumulator_value`` (PyTorch fills
    every group's sum with the constructor's value).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, maximize=False):
        defaults = {
            "lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value, "eps": eps,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group, owner):
        super()._check_hyperparameters(group, owner)
        check_at_least(owner, "lr_decay", group["lr_decay"], 0.0)
        check_at_least(owner, "weight_decay", group["weight_decay"], 0.0)
        check_at_least(owner, "initial_accumulator_value", group["initial_accumulator_value"],
                       0.0)
        check_positive(owner, "eps", group["eps"])

    def _update(self, param, grad, group):
        x = param.data
        state = self.state.setdefault(param, {})
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(x, float(group["initial_accumulator_value"]))
        state["step"] += 1
        g = effective_gradient(grad, x, float(group["weight_decay"]), group["maximize"])
        # lr_t = lr / (1 + (t - 1) lr_decay)
        lr = float(group["lr"]) / (1.0 + (state["step"] - 1) * float(group["lr_decay"]))

        work = np.empty_like(x)
        # s_t = s_{t-1} + g_t^2
        s = state["sum"]
        np.multiply(g, g, out=work)
        s += work
        # theta_t = theta_{t-1} - lr_t g_t / (sqrt(s_t) + eps)
        np.sqrt(s, out=work)
        work += float(group["eps"])
        np.divide(g, work, out=work)
        work *= lr
        x -= work
