"""``detect_anomaly``: stop at the first op whose forward or backward makes NaN or inf.

While the context manager is active every op remembers the line of user code that created it,
checks its output, and the engine checks every gradient it produces. The error names the op and
that line, which is usually all a learner needs to find a ``log(0)`` or an exploding ``exp``.
It slows every op down, so it is off by default.
"""
import contextlib
import os
import threading
import traceback

import numpy as np

_state = threading.local()
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class AnomalyError(FloatingPointError):
    """Raised inside ``detect_anomaly`` when an op produces a non-finite value."""


def is_anomaly_enabled():
    """Return True inside a ``detect_anomaly`` block."""
    return getattr(_state, "enabled", False)


@contextlib.contextmanager
def detect_anomaly():
    """Context manager that raises ``AnomalyError`` at the first op producing NaN or inf.

    Examples
    --------
    >>> import scratchgen as sg
    >>> x = sg.tensor([0.0, 1.0], requires_grad=True)
    >>> with sg.detect_anomaly():
    ...     y = x.log()          # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    AnomalyError: forward of Log produced -inf ...
    """
    previous = is_anomaly_enabled()
    _state.enabled = True
    try:
        with np.errstate(all="ignore"):
            yield
    finally:
        _state.enabled = previous


@contextlib.contextmanager
def backward_of(fn):
    """Mark that the engine is running ``fn.backward``.

    The ops inside a backward are checked as a whole by ``check_backward``, which names the op
    being differentiated; checking them one by one would blame, say, the ``Div`` inside
    ``Sqrt.backward`` instead of ``Sqrt``.
    """
    previous = getattr(_state, "in_backward", False)
    _state.in_backward = True
    try:
        yield
    finally:
        _state.in_backward = previous


def checks_forward():
    """True when ops should check their outputs: anomaly mode on, and not inside a backward."""
    return is_anomaly_enabled() and not getattr(_state, "in_backward", False)


def user_call_site():
    """Return ``'file:line in function: source'`` for the innermost frame outside scratchgen."""
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR + os.sep):
            return f"{frame.filename}:{frame.lineno} in {frame.name}: {frame.line}"
    return "<unknown>"


def _describe(array):
    bad = array[~np.isfinite(array)]
    kinds = sorted({"nan" if np.isnan(v) else ("inf" if v > 0 else "-inf") for v in bad.flat})
    return f"{', '.join(kinds)} in {bad.size} of {array.size} entries"


def check_forward(fn, out):
    """Raise ``AnomalyError`` if the forward output of ``fn`` is not finite."""
    if np.issubdtype(out.dtype, np.inexact) and not np.isfinite(out).all():
        raise AnomalyError(
            f"forward of {type(fn).__name__} produced {_describe(out)} "
            f"(output shape {out.shape}, dtype {out.dtype}); op created at {fn.created_at}"
        )


def check_backward(fn, grads):
    """Raise ``AnomalyError`` if a gradient returned by ``fn.backward`` is not finite."""
    for index, grad in enumerate(grads):
        if grad is not None and not np.isfinite(grad.data).all():
            raise AnomalyError(
                f"backward of {type(fn).__name__} produced {_describe(grad.data)} in the "
                f"gradient of input {index} (shape {grad.shape}); op created at {fn.created_at}"
            )
