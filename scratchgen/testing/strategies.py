"""Hypothesis strategies for gradient checks: shapes, broadcastable shapes, and arrays that stay
inside an op's domain and away from its kinks.

Finite differences are only meaningful where a function is smooth: ``relu`` near 0, ``clip``
near its bounds or ``max`` near a tie would fail a correct gradient. ``arrays`` therefore takes
``avoid`` (points to keep a distance ``margin`` from) and ``distinct`` (no two entries within
``margin``, so reductions have no ties). Requires the ``test`` extra (hypothesis).
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Array shapes with ``min_dims..max_dims`` axes of length ``min_side..max_side``."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Tuples of ``num_shapes`` shapes that broadcast together (some axes of length 1, some
    missing), so every broadcasting rule gets exercised."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side,
    ).map(lambda result: result.input_shapes)


def arrays(shape, low=-2.0, high=2.0, avoid=(), margin=0.05, distinct=False, dtype=np.float64):
    """Arrays of ``shape`` with entries in ``[low, high]``.

    Parameters
    ----------
    avoid : sequence of float
        Kinks or singular points; every entry stays at least ``margin`` away from each.
    distinct : bool
        Entries at least ``margin`` apart from each other (for max, min, sorting).
    """
    if distinct:
        steps = int((high - low) / margin)
        elements = st.integers(0, steps).map(lambda k: low + k * margin)
        elements = elements.filter(lambda v: all(abs(v - p) >= margin for p in avoid))
        return hnp.arrays(dtype, shape, elements=elements, unique=True)
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False)
    if avoid:
        elements = elements.filter(lambda v: all(abs(v - p) >= margin for p in avoid))
    return hnp.arrays(dtype, shape, elements=elements)


@st.composite
def axes(draw, ndim):
    """An ``axis`` argument for a reduction over ``ndim`` axes: None, an int (maybe negative)
    or a tuple of distinct axes."""
    if ndim == 0:
        return None
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    return tuple(draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)))
