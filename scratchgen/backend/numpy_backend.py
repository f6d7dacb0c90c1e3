"""The NumPy backend: every kernel in plain NumPy, the reference all other backends match."""

import numpy as np


class NumpyBackend:
    """Reference implementation of the backend contract (see `scratchgen.backend.Backend`).

    Each method is the readable specification of a kernel: a faster backend must return
    what this one returns (up to floating-point rounding), and it defers here for any input
    its own kernels do not handle. It is also the fallback when the compiled kernels are
    not installed.
    """

    name = "numpy"
    xp = np

    def matmul(self, a, b):
        """Matrix product with exactly the semantics of `numpy.matmul`.

        Parameters
        ----------
        a : ndarray, shape (..., m, k)
        b : ndarray, shape (..., k, n)
            The leading (batch) dimensions broadcast against each other. A 1-D operand is
            a vector, as in `numpy.matmul`.

        Returns
        -------
        ndarray, shape (..., m, n)
            A new C-contiguous array.
        """
        return np.matmul(a, b)

    def __repr__(self):
        return f"<scratchgen backend {self.name!r}>"
