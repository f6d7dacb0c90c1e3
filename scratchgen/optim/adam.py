"""Adam and AdamW: running averages of the gradient and its square, with bias correction."""
import numpy as np

from .. import backend
from .optimizer import Optimizer, check_at_least, check_fraction, check_positive


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015, "Adam: A Method for Stochastic Optimization", Algorithm 1),
    PyTorch's ``torch.optim.Adam``.

    For each parameter :math:`\theta` with gradient :math:`g_t` at step :math:`t = 1, 2, ...`:

    .. math::

        g_t &\leftarrow \pm g_t + \lambda \theta_{t-1}
            \quad (- \text{ when maximizing}, \lambda = \text{weight\_decay}) \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \hat v_t &= \max(\hat v_{t-1}, v_t) \text{ with amsgrad, else } v_t \\
        \theta_t &= \theta_{t-1} - \frac{\gamma}{1 - \beta_1^t}
            \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    with :math:`m_0 = v_0 = \hat v_0 = 0`. This is the paper's update with the bias-corrected
    :math:`\hat m_t = m_t / (1 - \beta_1^t)` folded into the step size; :math:`\epsilon` is
    added after the correction of :math:`v`, as in the paper.

    Parameters
    ----------
    params : iterable of Tensor or dict
        Parameters or parameter groups (see ``Optimizer``).
    lr : float
        Learning rate :math:`\gamma` >= 0.
    betas : tuple of float
        :math:`(\beta_1, \beta_2)`, each in [0, 1): decay rates of the two averages.
    eps : float
        :math:`\epsilon` > 0, keeps the division finite.
    weight_decay : float
        L2 penalty :math:`\lambda` >= 0, added to the gradient (for decoupled decay use
        ``AdamW``).
    amsgrad : bool
        Divide by the running maximum of :math:`v_t` (Reddi et al., 2018).
    maximize : bool
        Ascend the objective instead of descending.

    State
    -----
    ``step`` (int), ``exp_avg`` (:math:`m_t`), ``exp_avg_sq`` (:math:`v_t`) and, with amsgrad,
    ``max_exp_avg_sq`` (:math:`\hat v_t`); arrays like the parameter.
    """

    # Adam adds lambda * theta to the gradient; AdamW shrinks theta directly.
    decoupled_weight_decay = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, maximize=False):
        defaults = {
            "lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
            "amsgrad": amsgrad, "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group, owner):
        super()._check_hyperparameters(group, owner)
        check_betas(owner, group["betas"])
        check_positive(owner, "eps", group["eps"])
        check_at_least(owner, "weight_decay", group["weight_decay"], 0.0)

    def _update(self, param, grad, group):
        x = param.data
        lr, eps = float(group["lr"]), float(group["eps"])
        weight_decay = float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        state = self.state.setdefault(param, {})
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(x)
            state["exp_avg_sq"] = np.zeros_like(x)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(x)
        state["step"] += 1
        # One pass over x, its gradient and state (the backend's kernel; the NumPy twin in
        # backend/numpy_optim.py spells out the update above step by step).
        backend.current().adam_step(
            x, grad, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"), lr,
            beta1, beta2, eps, weight_decay, self.decoupled_weight_decay, group["maximize"],
            state["step"])


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019, "Decoupled Weight Decay
    Regularization"), PyTorch's ``torch.optim.AdamW``.

    The parameter is shrunk directly instead of adding :math:`\lambda \theta` to the gradient,
    so the decay is not rescaled by the adaptive denominator:

    .. math::

        \theta_{t-1} &\leftarrow (1 - \gamma \lambda) \theta_{t-1} \\
        g_t &\leftarrow \pm g_t \quad (- \text{ when maximizing})

    followed by the ``Adam`` update (moments, bias correction, amsgrad) with no L2 term.

    Parameters
    ----------
    params, lr, betas, eps, amsgrad, maximize
        As for ``Adam``.
    weight_decay : float
        Decoupled decay :math:`\lambda` >= 0; note the default 1e-2 (Adam's is 0).

    State
    -----
    As for ``Adam``.
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)


def check_betas(owner, betas):
    """``betas`` must be a pair, each in [0, 1)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
    check_fraction(owner, "betas[0]", betas[0])
    check_fraction(owner, "betas[1]", betas[1])
