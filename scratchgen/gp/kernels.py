"""Covariance functions for Gaussian processes: the public namespace, ``parse`` and ``from_config``.

The kernels live in one module per family and are all importable from here:

============================  =====================================  ======================
class (alias)                  k(x, x')                               module
============================  =====================================  ======================
``RBF``                        exp(-S / 2)                            kernels_stationary
``Matern`` (nu 1/2, 3/2, 5/2)  polynomial(r) exp(-sqrt(2 nu) r)       kernels_stationary
``RationalQuadratic``          (1 + S / (2 alpha))^-alpha             kernels_stationary
``ExpSineSquared`` (Periodic)  exp(-2 sin^2(pi |x - x'| / p) / l^2)   kernels_periodic
``DotProduct`` (Linear)        sigma_0^2 + x . x'                     kernels_dot
``Polynomial``                 (sigma_0^2 + x . x')^degree            kernels_dot
``ConstantKernel`` (Constant)  c                                      kernels_constant
``WhiteKernel`` (White)        s if x is x' else 0                    kernels_constant
``Sum``, ``Product``           k1 + k2, k1 * k2                       kernels_composite
============================  =====================================  ======================

with S = sum_k (x_k - x'_k)^2 / l_k^2 and r = sqrt(S). Names, hyperparameter order, theta
(log values) and gradients follow scikit-learn's ``sklearn.gaussian_process.kernels``, so
values can be compared one to one. ``2.0 * k`` is ``ConstantKernel(2.0) * k``.

>>> from scratchgen.gp import kernels
>>> kernels.parse("constant * rbf + white")
1**2 * RBF(length_scale=1) + WhiteKernel(noise_level=1)
"""
import re

import numpy as np

from .kernels_base import Hyperparameter, Kernel
from .kernels_composite import Product, Sum
from .kernels_constant import ConstantKernel, WhiteKernel
from .kernels_dot import DotProduct, Polynomial
from .kernels_periodic import ExpSineSquared
from .kernels_stationary import RBF, Matern, RationalQuadratic

Constant = ConstantKernel
White = WhiteKernel
Periodic = ExpSineSquared
Linear = DotProduct

__all__ = [
    "Constant", "ConstantKernel", "DotProduct", "ExpSineSquared", "Hyperparameter", "Kernel",
    "Linear", "Matern", "Periodic", "Polynomial", "Product", "RBF", "RationalQuadratic", "Sum",
    "White", "WhiteKernel", "from_config", "parse",
]

_LEAVES = {cls.__name__: cls for cls in (RBF, Matern, RationalQuadratic, ExpSineSquared,
                                          DotProduct, Polynomial, ConstantKernel, WhiteKernel)}
_OPERATORS = {"Sum": Sum, "Product": Product}

# Names accepted by ``parse``, each with default hyperparameters.
_PARSE_NAMES = {
    "rbf": RBF,
    "matern12": lambda: Matern(nu=0.5),
    "matern32": lambda: Matern(nu=1.5),
    "matern52": lambda: Matern(nu=2.5),
    "rq": RationalQuadratic,
    "periodic": ExpSineSquared,
    "linear": DotProduct,
    "polynomial": Polynomial,
    "constant": ConstantKernel,
    "white": WhiteKernel,
}


def from_config(config):
    """Rebuild a kernel from ``kernel.to_config()``.

    Parameters
    ----------
    config : dict
        ``{"class": "RBF", "params": {...}}`` for a single kernel, or
        ``{"class": "Sum" | "Product", "k1": config, "k2": config}``.

    Returns
    -------
    Kernel
    """
    if not isinstance(config, dict) or "class" not in config:
        raise ValueError(f"kernels.from_config: expected a dict with a 'class' entry, got "
                         f"{config!r:.200}")
    name = config["class"]
    if name in _OPERATORS:
        if "k1" not in config or "k2" not in config:
            raise ValueError(f"kernels.from_config: a {name} needs 'k1' and 'k2', got keys "
                             f"{sorted(config)}")
        return _OPERATORS[name](from_config(config["k1"]), from_config(config["k2"]))
    if name not in _LEAVES:
        raise ValueError(f"kernels.from_config: unknown kernel class {name!r}; expected one "
                         f"of {sorted(_LEAVES) + sorted(_OPERATORS)}")
    params = config.get("params", {})
    if not isinstance(params, dict):
        raise ValueError(f"kernels.from_config: 'params' of {name} must be a dict, got "
                         f"{params!r:.200}")
    params = {key: (np.asarray(value, dtype=np.float64) if isinstance(value, list)
                    and not key.endswith("_bounds") else value)
              for key, value in params.items()}
    try:
        return _LEAVES[name](**params)
    except TypeError as err:
        raise ValueError(f"kernels.from_config: bad parameters for {name}: {err}") from None


_TOKEN = re.compile(r"\s*(?:(?P<number>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
                    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[+*()]))")


def parse(spec):
    """Build a kernel from a formula such as ``"constant * matern52 + white"``.

    Grammar: ``expr := term ('+' term)*``, ``term := factor ('*' factor)*``,
    ``factor := name | number | '(' expr ')'``, with the usual precedence (``*`` before
    ``+``). Names: rbf, matern12, matern32, matern52, rq, periodic, linear, polynomial,
    constant, white (any case), each with its default hyperparameters; a number c stands
    for ``ConstantKernel(c)``.

    Parameters
    ----------
    spec : str

    Returns
    -------
    Kernel

    Raises
    ------
    ValueError
        For an unknown name or a malformed formula, giving the position.
    """
    if not isinstance(spec, str):
        raise TypeError(f"kernels.parse: expected a string such as 'rbf + white', got "
                        f"{type(spec).__name__}")
    tokens, pos = [], 0
    stripped = spec.rstrip()
    while pos < len(stripped):
        match = _TOKEN.match(stripped, pos)
        if match is None or match.end() == pos:
            at = len(stripped) - len(stripped[pos:].lstrip())
            raise ValueError(f"kernels.parse: unexpected character {stripped[at]!r} at "
                             f"position {at} of {spec!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind), match.start(kind)))
        pos = match.end()
    if not tokens:
        raise ValueError("kernels.parse: empty kernel formula; expected e.g. 'rbf + white'")
    parser = _Parser(tokens, spec)
    kernel = parser.expr()
    if parser.i < len(tokens):
        _, text, at = tokens[parser.i]
        raise ValueError(f"kernels.parse: unexpected {text!r} at position {at} of {spec!r}")
    return kernel


class _Parser:
    """Recursive descent over the token list; one method per grammar rule."""

    def __init__(self, tokens, spec):
        self.tokens, self.spec, self.i = tokens, spec, 0

    def _peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None, len(self.spec))

    def expr(self):
        kernel = self.term()
        while self._peek()[1] == "+":
            self.i += 1
            kernel = kernel + self.term()
        return kernel

    def term(self):
        kernel = self.factor()
        while self._peek()[1] == "*":
            self.i += 1
            kernel = kernel * self.factor()
        return kernel

    def factor(self):
        kind, text, at = self._peek()
        self.i += 1
        if kind == "name":
            maker = _PARSE_NAMES.get(text.lower())
            if maker is None:
                raise ValueError(f"kernels.parse: unknown kernel {text!r} at position {at} of "
                                 f"{self.spec!r}; expected one of {', '.join(_PARSE_NAMES)}")
            return maker()
        if kind == "number":
            return ConstantKernel(float(text))
        if text == "(":
            kernel = self.expr()
            if self._peek()[1] != ")":
                raise ValueError(f"kernels.parse: missing ')' at position {self._peek()[2]} "
                                 f"of {self.spec!r}")
            self.i += 1
            return kernel
        found = "the end" if text is None else repr(text)
        raise ValueError(f"kernels.parse: expected a kernel name, a number or '(' but found "
                         f"{found} at position {at} of {self.spec!r}")
