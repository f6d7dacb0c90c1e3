"""Switches that decide whether ops record the graph: ``no_grad``, ``enable_grad``.

The switch is thread-local, as in PyTorch, so a data-loading thread running under ``no_grad``
does not stop the training thread from recording.
"""
import contextlib
import threading

_state = threading.local()


def is_grad_enabled():
    """Return True when new ops are recorded for differentiation."""
    return getattr(_state, "enabled", True)


@contextlib.contextmanager
def set_grad_enabled(mode):
    """Context manager that turns recording on (``mode=True``) or off, then restores it."""
    previous = is_grad_enabled()
    _state.enabled = bool(mode)
    try:
        yield
    finally:
        _state.enabled = previous


def no_grad():
    """Context manager: ops inside it record nothing (inference, optimizer updates).

    Examples
    --------
    >>> import scratchgen as sg
    >>> w = sg.tensor([1.0, 2.0], requires_grad=True)
    >>> with sg.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """
    return set_grad_enabled(False)


def enable_grad():
    """Context manager: turn recording back on inside a ``no_grad`` block."""
    return set_grad_enabled(True)
