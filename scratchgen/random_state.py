"""The one rule that turns a seed into a random generator, for every part of scratchgen.

Estimators, models, data loaders, initializers and factories all accept the same things and
make the same stream from them: ``np.random.default_rng(seed)``. So ``random_state=0`` in a GP
and ``rng=0`` in ``sg.randn`` mean the same generator, and an int seed gives the same numbers
wherever it is used.

>>> import numpy as np
>>> from scratchgen.random_state import check_random_state
>>> a, b = check_random_state(0), np.random.default_rng(0)
>>> bool(a.random() == b.random())
True
"""
import numbers

import numpy as np

__all__ = ["check_random_state"]


def check_random_state(random_state, caller=None, *, name="random_state"):
    """A ``numpy.random.Generator`` made from (or given as) ``random_state``.

    Parameters
    ----------
    random_state : None, int, numpy.random.SeedSequence or numpy.random.Generator
        None: a fresh generator seeded from the operating system's entropy. An int (>= 0) or
        a SeedSequence: ``np.random.default_rng(random_state)``, the same stream each time.
        A Generator: returned as it is (its state is shared, not copied).
    caller : str, optional
        Who asks (``"GaussianProcessRegressor.fit"``), named at the start of an error.
    name : str
        The argument's name in the caller's signature, used in error messages (the
        PyTorch-style API calls it ``rng``, the scikit-learn-style one ``random_state``).

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    TypeError
        For anything else: a float, a string, a bool, a legacy ``RandomState``...
    ValueError
        For a negative int.
    """
    prefix = f"{caller}: " if caller else ""
    if random_state is None or isinstance(random_state, np.random.SeedSequence):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"{prefix}{name} must be a non-negative int seed, got "
                             f"{random_state!r}")
        return np.random.default_rng(int(random_state))
    hint = ("; a legacy RandomState is not accepted, pass np.random.default_rng(seed)"
            if isinstance(random_state, np.random.RandomState) else "")
    raise TypeError(f"{prefix}{name} must be None, an int or a numpy Generator (or "
                    f"SeedSequence), got {random_state!r} ({type(random_state).__name__})"
                    f"{hint}")
