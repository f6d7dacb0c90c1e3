"""Optimizer updates in plain NumPy: the reference definition of the fused update kernels.

One function per rule, updating a parameter and its state arrays in place. The Cython
kernels in ``scratchgen/_kernels/_optim.pyx`` compute the same in one pass over the arrays
(these functions make one pass per NumPy call: about ten over each parameter for Adam).
"""
import math

import numpy as np


def adam_step(x, grad, m, v, v_max, lr, beta1, beta2, eps, weight_decay, decoupled, maximize,
              step):
    r"""One Adam / AdamW step (see ``scratchgen.optim.Adam`` for the math), in place.

    x, m, v (and v_max, None without amsgrad) are arrays of one shape and float dtype;
    `grad` has x's shape. With `decoupled` (AdamW) x first shrinks by (1 - lr weight_decay),
    else weight_decay * x is added to the gradient; `step` is t >= 1.
    """
    if decoupled:
        # theta <- (1 - lr lambda) theta, before and apart from the adaptive step
        x *= 1.0 - lr * weight_decay
        weight_decay = 0.0
    # g = -+grad + lambda theta
    g = np.negative(grad) if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * x
    work = np.empty_like(x)
    # m_t = beta1 m_{t-1} + (1 - beta1) g_t
    m *= beta1
    np.multiply(g, 1.0 - beta1, out=work)
    m += work
    # v_t = beta2 v_{t-1} + (1 - beta2) g_t^2
    v *= beta2
    np.multiply(g, g, out=work)
    work *= 1.0 - beta2
    v += work
    if v_max is not None:
        np.maximum(v_max, v, out=v_max)
        v = v_max
    # denominator: sqrt(v_t) / sqrt(1 - beta2^t) + eps
    np.sqrt(v, out=work)
    work /= math.sqrt(1.0 - beta2 ** step)
    work += eps
    # theta_t = theta_{t-1} - lr / (1 - beta1^t) * m_t / denominator
    np.divide(m, work, out=work)
    work *= lr / (1.0 - beta1 ** step)
    x -= work


def sgd_step(x, grad, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
    """One SGD step (see ``scratchgen.optim.SGD``), in place; `buf` is the momentum buffer
    (None without momentum), which the first step (`first`) sets to the gradient."""
    # g = -+grad + lambda theta
    g = np.negative(grad) if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * x
    work = np.empty_like(x)
    direction = g
    if buf is not None:
        if first:
            buf[...] = g                                   # b_1 = g_1
        else:
            # b_t = mu b_{t-1} + (1 - tau) g_t
            buf *= momentum
            np.multiply(g, 1.0 - dampening, out=work)
            buf += work
        if nesterov:
            # d_t = g_t + mu b_t
            np.multiply(buf, momentum, out=work)
            work += g
            direction = work
        else:
            direction = buf
    # theta_t = theta_{t-1} - lr d_t
    np.multiply(direction, lr, out=work)
    x -= work


def rmsprop_step(x, grad, v, g_avg, buf, lr, alpha, eps, weight_decay, momentum, maximize):
    """One RMSprop step (see ``scratchgen.optim.RMSprop``), in place; `g_avg` (centered) and
    `buf` (momentum > 0) are None when not used."""
    g = np.negative(grad) if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * x
    work = np.empty_like(x)
    # v_t = alpha v_{t-1} + (1 - alpha) g_t^2
    v *= alpha
    np.multiply(g, g, out=work)
    work *= 1.0 - alpha
    v += work
    if g_avg is not None:
        # gbar_t = alpha gbar_{t-1} + (1 - alpha) g_t
        g_avg *= alpha
        np.multiply(g, 1.0 - alpha, out=work)
        g_avg += work
        # a_t = sqrt(v_t - gbar_t^2) + eps
        np.multiply(g_avg, g_avg, out=work)
        np.subtract(v, work, out=work)
        np.sqrt(work, out=work)
    else:
        # a_t = sqrt(v_t) + eps
        np.sqrt(v, out=work)
    work += eps
    np.divide(g, work, out=work)
    if buf is not None:
        # b_t = mu b_{t-1} + g_t / a_t;  theta_t = theta_{t-1} - lr b_t
        buf *= momentum
        buf += work
        np.multiply(buf, lr, out=work)
    else:
        # theta_t = theta_{t-1} - lr g_t / a_t
        work *= lr
    x -= work
