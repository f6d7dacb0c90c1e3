"""Gradient clipping: rescale or clamp the ``.grad`` of parameters in place before a step."""
import math

import numpy as np

from ..autograd.tensor import Tensor


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    r"""Rescale gradients in place so that their joint norm is at most ``max_norm``.

    The norm is taken over all gradients together, as if they were one concatenated vector:

    .. math::

        N = \Big(\sum_i \lVert g_i \rVert_p^p\Big)^{1/p}
            \quad (N = \max_i \lVert g_i \rVert_\infty \text{ for } p = \infty), \qquad
        g_i \leftarrow g_i \cdot \min\Big(1, \frac{\text{max\_norm}}{N + 10^{-6}}\Big)

    as PyTorch's ``torch.nn.utils.clip_grad_norm_`` does (including the 1e-6 and multiplying
    even when the factor is 1).

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        Tensors whose ``.grad`` is rescaled; those with ``.grad`` None are ignored.
    max_norm : float
        Largest allowed norm, >= 0.
    norm_type : float
        :math:`p` > 0, or ``float("inf")`` for the largest absolute entry.
    error_if_nonfinite : bool
        Raise if the total norm is NaN or infinite, instead of scaling by it (which makes the
        gradients NaN or zero).

    Returns
    -------
    float
        The total norm :math:`N` of the gradients before clipping.
    """
    params = _as_list(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    if not norm_type > 0:
        raise ValueError(
            f"clip_grad_norm_: norm_type must be > 0 or inf, got {norm_type}"
        )
    grads = [p.grad.data for p in params if p.grad is not None]
    if not grads:
        return 0.0
    if norm_type == math.inf:
        # np.max, unlike Python's max, lets a NaN through whatever its position
        total = float(np.max([np.max(np.abs(g)) if g.size else 0.0 for g in grads]))
    elif norm_type == 2.0:
        # ||g||_2 of each array (in its own dtype, as PyTorch), then of the vector of norms
        total = math.sqrt(sum(float(np.linalg.norm(g)) ** 2 for g in grads))
    else:
        norms = [float(np.sum(np.abs(g) ** norm_type)) ** (1.0 / norm_type) for g in grads]
        total = sum(n ** norm_type for n in norms) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"{total}, so they cannot be clipped; pass error_if_nonfinite=False to scale them "
            "by it anyway"
        )
    coef = max_norm / (total + 1e-6)
    coef = 1.0 if coef > 1.0 else coef  # keeps NaN, as clamp(max=1) does
    _scale_grads(params, coef)
    return total


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient entry in place to ``[-clip_value, clip_value]``.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        Tensors whose ``.grad`` is clamped; those with ``.grad`` None are ignored.
    clip_value : float
        Largest allowed absolute value, >= 0.
    """
    params = _as_list(parameters)
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for grad in _private_grads(params):
        np.clip(grad, -clip_value, clip_value, out=grad)


def _as_list(parameters):
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for index, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(
                f"gradient clipping: parameter {index} should be a Tensor, got "
                f"{type(p).__name__}"
            )
    return params


def _scale_grads(params, coef):
    for grad in _private_grads(params):
        grad *= coef


def _private_grads(params):
    """Yield the gradient arrays of ``params`` that may be changed in place, each array once.

    NOTE: gradients kept with ``create_graph=True`` may be one array shared by several
    parameters (``a + b`` hands the same gradient to both), or read-only views: a shared array
    is yielded once so it is not scaled twice, and a read-only one is first replaced by a copy.
    """
    done = set()
    for p in params:
        if p.grad is None:
            continue
        if not p.grad.data.flags.writeable:
            p.grad = Tensor._wrap(np.array(p.grad.data))
        if id(p.grad.data) in done:
            continue
        done.add(id(p.grad.data))
        yield p.grad.data
