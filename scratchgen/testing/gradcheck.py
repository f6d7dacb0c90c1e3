"""Check analytic gradients against central finite differences.

For f: inputs -> outputs, autograd computes vector-Jacobian products v^T J. Finite differences
estimate Jacobian-vector products J u = (f(x + eps u) - f(x - eps u)) / (2 eps). Two modes:

* full: for small inputs, every column of J numerically and every row analytically, compared
  entry by entry, so a failure can say exactly which output and input element disagree;
* random directions: for large inputs, random u and v, comparing the scalars
  <u, J^T v> (analytic) and <J u, v> (numeric), one input at a time.

``gradgradcheck`` applies the same check to the function x, v -> J(x)^T v, which is what a
second-order method (or a WGAN-GP gradient penalty) differentiates.
"""
import warnings

import numpy as np

from ..autograd.engine import grad as autograd_grad
from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.tensor import Tensor
from ..random_state import check_random_state

FULL_JACOBIAN_MAX = 256  # elements of input (and of output) up to which J is built in full


class GradcheckError(AssertionError):
    """Raised by ``gradcheck`` when analytic and numeric derivatives disagree."""


def _as_tuple(outputs):
    return tuple(outputs) if isinstance(outputs, (tuple, list)) else (outputs,)


def _prepare(inputs, caller):
    """Copy the inputs into fresh leaves (gradcheck perturbs them in place)."""
    copies = []
    for index, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"{caller}: input {index} must be a Tensor, got {type(x).__name__}")
        if x.requires_grad and x.dtype != np.float64:
            warnings.warn(
                f"{caller}: input {index} is {x.dtype}; finite differences need float64 to be "
                "accurate, so expect spurious failures",
                stacklevel=3,
            )
        copies.append(Tensor(np.array(x.data), requires_grad=x.requires_grad))
    return copies


def _evaluate(fn, inputs):
    """Outputs of ``fn`` as float64 arrays, without recording a graph."""
    with no_grad():
        return [np.asarray(o.data, dtype=np.float64) for o in _as_tuple(fn(*inputs))]


def _vjp(outputs, output_index, wrt, v):
    """v^T J for one output: a list of float64 arrays, one per tensor in ``wrt``."""
    out = outputs[output_index]
    if not out.requires_grad:
        return [np.zeros(t.shape) for t in wrt]
    grads = autograd_grad(out, wrt, grad_outputs=Tensor(v.astype(out.dtype)),
                          retain_graph=True, allow_unused=True)
    return [np.zeros(t.shape) if g is None else np.asarray(g.data, np.float64)
            for t, g in zip(wrt, grads)]


def _central_difference(fn, inputs, x, direction, eps):
    """(f(x + eps d) - f(x - eps d)) / (2 eps) for every output of ``fn``."""
    original = x.data.copy()
    x.data = original + eps * direction
    plus = _evaluate(fn, inputs)
    x.data = original - eps * direction
    minus = _evaluate(fn, inputs)
    x.data = original
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


def _fail(message, raise_exception):
    if raise_exception:
        raise GradcheckError(message)
    return False


def _check_full(fn, inputs, wrt_indices, outputs, eps, atol, rtol, raise_exception):
    wrt = [inputs[i] for i in wrt_indices]
    for out_index, out in enumerate(outputs):
        # Analytic Jacobian, one row (one backward pass) per output element.
        rows = []
        for j in range(out.data.size):
            v = np.zeros(out.data.size)
            v[j] = 1.0
            rows.append(_vjp(outputs, out_index, wrt, v.reshape(out.shape)))
        for k, (input_index, x) in enumerate(zip(wrt_indices, wrt)):
            analytic = np.array([row[k].ravel() for row in rows]).reshape(out.data.size, x.data.size)
            numeric = np.zeros_like(analytic)
            for e in range(x.data.size):
                direction = np.zeros(x.data.size)
                direction[e] = 1.0
                column = _central_difference(fn, inputs, x, direction.reshape(x.shape), eps)
                numeric[:, e] = column[out_index].ravel()
            bad = ~np.isclose(analytic, numeric, rtol=rtol, atol=atol)
            if bad.any():
                o, e = np.argwhere(bad)[0]
                return _fail(
                    f"gradcheck: Jacobian mismatch for output {out_index} (shape {out.shape}) "
                    f"with respect to input {input_index} (shape {x.shape}): first at output "
                    f"element {np.unravel_index(o, out.shape)}, input element "
                    f"{np.unravel_index(e, x.shape)}: analytic {analytic[o, e]!r} vs numeric "
                    f"{numeric[o, e]!r}; max abs difference {np.abs(analytic - numeric).max():.3g}"
                    f"\nanalytic:\n{analytic}\nnumeric:\n{numeric}",
                    raise_exception,
                )
    return True


def _check_directions(fn, inputs, wrt_indices, outputs, eps, atol, rtol, raise_exception,
                      rng, n_directions):
    wrt = [inputs[i] for i in wrt_indices]
    for _ in range(n_directions):
        for out_index, out in enumerate(outputs):
            v = rng.standard_normal(out.shape)
            vjps = _vjp(outputs, out_index, wrt, v)
            for k, (input_index, x) in enumerate(zip(wrt_indices, wrt)):
                u = rng.standard_normal(x.shape)
                analytic = float(np.sum(u * vjps[k]))  # <u, J^T v>
                jvp = _central_difference(fn, inputs, x, u, eps)[out_index]
                numeric = float(np.sum(jvp * v))  # <J u, v>
                if not np.isclose(analytic, numeric, rtol=rtol, atol=atol * np.sqrt(u.size)):
                    return _fail(
                        f"gradcheck: directional derivative mismatch for output {out_index} "
                        f"(shape {out.shape}) with respect to input {input_index} (shape "
                        f"{x.shape}): analytic <u, J^T v> = {analytic!r} vs numeric "
                        f"<J u, v> = {numeric!r}",
                        raise_exception,
                    )
    return True


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              full_jacobian_max=FULL_JACOBIAN_MAX, n_directions=3, rng=None):
    """Compare ``fn``'s autograd gradients with central finite differences.

    Parameters
    ----------
    fn : callable
        Takes the Tensors in ``inputs`` and returns a Tensor or a tuple of Tensors.
    inputs : sequence of Tensor
        The gradient is checked with respect to those with ``requires_grad=True``. Use float64:
        float32 finite differences are too coarse (a warning says so).
    eps : float
        Finite-difference step.
    atol, rtol : float
        An entry passes when ``|analytic - numeric| <= atol + rtol * |numeric|``.
    raise_exception : bool
        Raise ``GradcheckError`` on failure (default) instead of returning False.
    full_jacobian_max : int
        Compare full Jacobians when every input and output has at most this many elements;
        otherwise compare ``n_directions`` random directional derivatives.
    rng : numpy.random.Generator or int, optional
        Source of the random directions.

    Returns
    -------
    bool
        True when every checked derivative matches.
    """
    inputs = _prepare(inputs, "gradcheck")
    wrt_indices = [i for i, x in enumerate(inputs) if x.requires_grad]
    if not wrt_indices:
        raise ValueError("gradcheck: no input has requires_grad=True, nothing to check")
    outputs = _as_tuple(fn(*inputs))
    small = all(x.data.size <= full_jacobian_max for x in inputs) and all(
        o.data.size <= full_jacobian_max for o in outputs
    )
    if small:
        return _check_full(fn, inputs, wrt_indices, outputs, eps, atol, rtol, raise_exception)
    return _check_directions(fn, inputs, wrt_indices, outputs, eps, atol, rtol, raise_exception,
                             check_random_state(rng, "gradcheck", name="rng"), n_directions)


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, full_jacobian_max=FULL_JACOBIAN_MAX, n_directions=3,
                  rng=None):
    """Check second derivatives: ``gradcheck`` of (inputs, v) -> J(inputs)^T v.

    The vectors ``v`` (``grad_outputs``, random when omitted) are themselves checked as inputs,
    since a double backward is differentiable in them too. Parameters as in ``gradcheck``.
    """
    inputs = _prepare(inputs, "gradgradcheck")
    n_inputs = len(inputs)
    wrt_indices = [i for i, x in enumerate(inputs) if x.requires_grad]
    outputs = _as_tuple(fn(*inputs))
    generator = check_random_state(rng, "gradgradcheck", name="rng")
    if grad_outputs is None:
        grad_outputs = [generator.standard_normal(o.shape) for o in outputs]
    vs = [Tensor(np.array(getattr(v, "data", v), dtype=np.float64), requires_grad=True)
          for v in _as_tuple(grad_outputs)]
    if len(vs) != len(outputs):
        raise ValueError(f"gradgradcheck: got {len(vs)} grad_outputs for {len(outputs)} outputs")

    def first_derivative(*args):
        xs, v = args[:n_inputs], args[n_inputs:]
        # NOTE: gradcheck evaluates this under no_grad; the inner derivative still needs a graph.
        with enable_grad():
            outs = _as_tuple(fn(*xs))
            keep = [k for k, o in enumerate(outs) if o.requires_grad]
            wrt = [xs[i] for i in wrt_indices]
            if not keep:
                return tuple(x * 0.0 for x in wrt)
            grads = autograd_grad([outs[k] for k in keep], wrt, [v[k] for k in keep],
                                  create_graph=True, allow_unused=True)
        # An input the first derivative does not depend on still needs a well-formed output.
        return tuple(x * 0.0 if g is None else g for x, g in zip(wrt, grads))

    return gradcheck(first_derivative, inputs + vs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, full_jacobian_max=full_jacobian_max,
                     n_directions=n_directions, rng=rng)
