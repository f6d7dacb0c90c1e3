"""Helpers shared by the test_optim_*.py files: parameters, stepping, textbook update rules."""
import numpy as np
from hypothesis import strategies as st

import scratchgen as sg

SEED = st.integers(0, 2**32 - 1)
RTOL, ATOL = 1e-10, 1e-12  # float64 on both sides; only rounding order differs


def leaf(array, dtype=np.float64):
    return sg.tensor(array, requires_grad=True, dtype=dtype)


def run(opt, params, grads):
    """Give ``params[i]`` the gradient ``grads[t][i]`` and step, for each t; return the values
    after every step."""
    values = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else sg.tensor(g, dtype=p.dtype)
        opt.step()
        values.append([p.data.copy() for p in params])
    return values


def walk_plain(value, where="state_dict"):
    """Fail unless ``value`` holds only plain, pickle-free types (arrays owning their data)."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, (int, str)), f"{where}: key {key!r}"
            walk_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, list):
        for k, item in enumerate(value):
            walk_plain(item, f"{where}[{k}]")
    elif isinstance(value, np.ndarray):
        assert value.base is None, f"{where} is a view"
    else:
        assert value is None or type(value) in (int, float, bool, str), f"{where}: {value!r}"


# ---------------------------------------------------------------- textbook formulas
def sgd_textbook(x, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 maximize=False):
    out, b = [], None
    for g in grads:
        g = (-g if maximize else g) + weight_decay * x
        if momentum:
            b = g if b is None else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        x = x - lr * g
        out.append(x)
    return out


def adam_textbook(x, grads, lr, betas, eps, weight_decay=0.0, amsgrad=False, maximize=False,
                  decoupled=False):
    (b1, b2), out = betas, []
    m = v = v_max = np.zeros_like(x)
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if decoupled:
            x = x - lr * weight_decay * x
        else:
            g = g + weight_decay * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - b1**t)
        v_hat = (v_max if amsgrad else v) / (1 - b2**t)
        x = x - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(x)
    return out


def rmsprop_textbook(x, grads, lr, alpha, eps, weight_decay=0.0, momentum=0.0, centered=False,
                     maximize=False):
    out = []
    v = g_avg = b = np.zeros_like(x)
    for g in grads:
        g = (-g if maximize else g) + weight_decay * x
        v = alpha * v + (1 - alpha) * g**2
        g_avg = alpha * g_avg + (1 - alpha) * g
        a = np.sqrt(v - g_avg**2 if centered else v) + eps
        if momentum > 0:
            b = momentum * b + g / a
            x = x - lr * b
        else:
            x = x - lr * g / a
        out.append(x)
    return out


def adagrad_textbook(x, grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                     eps=1e-10, maximize=False):
    out, s = [], np.full_like(x, initial_accumulator_value)
    for t, g in enumerate(grads, start=1):
        g = (-g if maximize else g) + weight_decay * x
        s = s + g**2
        x = x - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)
        out.append(x)
    return out
