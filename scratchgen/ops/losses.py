"""Loss functions, each with ``reduction="mean" | "sum" | "none"`` as in PyTorch.

Most are composed from primitives. ``BinaryCrossEntropyWithLogits`` is a fused primitive for
stability: written from primitives, its gradient at logit 0 would go through the kinks of
relu and abs and come out wrong, and exp would overflow for large logits; fused, the loss is
finite and its gradient exact (sigmoid(x) - y) for logits as large as +-1e4.
"""
import math

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor import Tensor
from .elementwise import where


def _reduce(loss, reduction, caller):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{caller}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _target(target, like, caller):
    target = target if isinstance(target, Tensor) else Tensor(np.asarray(target, like.dtype))
    if target.shape != like.shape:
        raise ValueError(f"{caller}: target shape {target.shape} does not match input shape "
                         f"{like.shape}")
    return target


class BinaryCrossEntropyWithLogits(Function):
    """l = -[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))] = max(x, 0) - x y + log(1 + e^-|x|).

    dl/dx = sigmoid(x) - y,  dl/dy = -x.

    Each direction of dl/dx is one pass on the backend's kernel; under ``create_graph`` the
    backward is recorded as Tensor ops, so that it can be differentiated again.
    """

    def forward(self, x, y):
        return self.backend.bce_with_logits(x, y)

    def backward(self, grad_out):
        x, y = self.inputs
        grad_x = grad_y = None
        if self.needs_input_grad[0]:
            grad_x = (grad_out * (x.sigmoid() - y) if is_grad_enabled() else Tensor._wrap(
                self.backend.bce_with_logits_backward(grad_out.data, x.data, y.data)))
        if self.needs_input_grad[1]:
            grad_y = grad_out * -x
        return grad_x, grad_y


def binary_cross_entropy_with_logits(input, target, reduction="mean"):
    """Binary cross entropy of ``sigmoid(input)`` against ``target`` in [0, 1], stable for any
    logit (the GAN discriminator loss)."""
    target = _target(target, input, "binary_cross_entropy_with_logits")
    loss = BinaryCrossEntropyWithLogits.apply(input, target)
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def binary_cross_entropy(input, target, reduction="mean"):
    """-[y log p + (1 - y) log(1 - p)] for probabilities ``input``; each log is clamped at
    -100, as in PyTorch, so p = 0 or 1 gives a large finite loss instead of inf."""
    target = _target(target, input, "binary_cross_entropy")
    log_p = _clamped_log(input)
    log_not_p = _clamped_log(1.0 - input)
    return _reduce(-(target * log_p + (1.0 - target) * log_not_p), reduction,
                   "binary_cross_entropy")


def _clamped_log(p):
    """max(log p, -100) whose value and gradient stay finite at p = 0.

    NOTE: ``p.log().clip(min=-100)`` has the same value, but it evaluates log(0) = -inf (a
    divide-by-zero warning) and its backward multiplies the clip's zero gradient by log's
    1 / 0, giving 0 * inf = nan. Here the log only sees p where p > e^-100 (1 elsewhere), and
    the clamped entries are the constant -100, with zero gradient.
    """
    clamped = p.data <= math.exp(-100.0)
    return where(clamped, -100.0, where(clamped, 1.0, p).log())


def mse_loss(input, target, reduction="mean"):
    """(input - target)^2."""
    diff = input - _target(target, input, "mse_loss")
    return _reduce(diff * diff, reduction, "mse_loss")


def l1_loss(input, target, reduction="mean"):
    """|input - target|."""
    return _reduce((input - _target(target, input, "l1_loss")).abs(), reduction, "l1_loss")


def _class_targets(input, target, caller):
    """``target`` as an integer array (N, ...), checked against scores ``input`` (N, C, ...)."""
    target = np.asarray(target.data if isinstance(target, Tensor) else target)
    if target.dtype.kind not in "iu":
        raise TypeError(f"{caller}: target must hold integer class indices, got {target.dtype}")
    if input.ndim < 2 or target.shape != input.shape[:1] + input.shape[2:]:
        raise ValueError(f"{caller}: expected input (N, C, ...) and target (N, ...), got "
                         f"input {input.shape} and target {target.shape}")
    classes = input.shape[1]
    if target.size and (target.min() < 0 or target.max() >= classes):
        raise ValueError(f"{caller}: target values must lie in [0, {classes}), got "
                         f"[{target.min()}, {target.max()}]")
    return target


def _pick_nll(log_probs, target, reduction, caller):
    """-log_probs[n, target[n]] for a target already checked by ``_class_targets``."""
    classes = log_probs.shape[1]
    if log_probs.ndim > 2:  # move the class axis last, then treat every position as a sample
        log_probs = log_probs.permute(0, *range(2, log_probs.ndim), 1).reshape(-1, classes)
    flat_target = target.reshape(-1)
    loss = -log_probs[np.arange(flat_target.size), flat_target]
    if reduction == "none":
        return loss.reshape(target.shape)
    return _reduce(loss, reduction, caller)


def nll_loss(input, target, reduction="mean"):
    """-input[n, target[n]] for log-probabilities ``input`` (N, C) or (N, C, d1, ...) and
    integer class indices ``target`` (N,) or (N, d1, ...)."""
    return _pick_nll(input, _class_targets(input, target, "nll_loss"), reduction, "nll_loss")


def cross_entropy(input, target, reduction="mean"):
    """nll_loss(log_softmax(input, axis=1), target): softmax cross entropy for logits."""
    target = _class_targets(input, target, "cross_entropy")
    return _pick_nll(input.log_softmax(axis=1), target, reduction, "cross_entropy")


def gaussian_nll(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Negative log likelihood of ``target`` under N(input, var):
    0.5 (log var + (input - target)^2 / var) [+ 0.5 log 2 pi when ``full``].

    ``var`` is clamped at ``eps`` for stability (as ``torch.nn.functional.gaussian_nll_loss``
    does, except that here the clamp also stops the gradient below eps).
    """
    target = _target(target, input, "gaussian_nll")
    var = var.clip(min=eps)
    diff = input - target
    loss = 0.5 * (var.log() + diff * diff / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, "gaussian_nll")


def kl_normal_standard(mu, logvar, reduction="mean"):
    """KL(N(mu, diag(exp(logvar))) || N(0, I)), summed over the features of each sample:
    0.5 sum(exp(logvar) + mu^2 - 1 - logvar).

    ``logvar`` is the log of the *variance*; a sampler must use std = exp(0.5 logvar).
    ``reduction``: "mean" over the batch (the usual VAE term), "sum", or "none" (one value per
    sample). Inputs are (N, D) or (N, ...) with every axis but the first summed.
    """
    if mu.shape != logvar.shape:
        raise ValueError(f"kl_normal_standard: mu {mu.shape} and logvar {logvar.shape} differ")
    per_element = 0.5 * (logvar.exp() + mu * mu - 1.0 - logvar)
    per_sample = per_element.sum(axis=tuple(range(1, mu.ndim))) if mu.ndim > 1 else per_element
    return _reduce(per_sample, reduction, "kl_normal_standard")
