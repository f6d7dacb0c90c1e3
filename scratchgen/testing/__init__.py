"""Tools to test differentiable code: numerical gradient checks and hypothesis strategies.

``gradcheck`` and ``gradgradcheck`` compare the gradients autograd computes with central finite
differences; ``strategies`` generates shapes and arrays that keep ops inside their domains.
They ship with the package so users can check the ops and layers they write themselves.
"""
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]
