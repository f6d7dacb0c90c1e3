"""Compiled Cython kernels: the fast twins of scratchgen's pure-NumPy code.

Each ``*.pyx`` file here is built by setup.py into an extension module of the same name
(``_blas.pyx`` -> ``scratchgen._kernels._blas``). The modules are optional: an install
without a C compiler, or with ``SCRATCHGEN_PURE_PYTHON=1``, has none of them, and scratchgen
then runs on its NumPy backend.

Only ``scratchgen.backend`` imports from this package. The kernels assume valid,
C-contiguous, non-empty arrays of the right dtype: the backend checks all of that (or defers
to NumPy) before calling them, so nothing here validates its input again.
"""

import os

# NOTE: the kernels' OpenMP loops alternate with multithreaded BLAS calls. OpenMP's default
# "active" wait policy keeps idle threads spinning, holding the cores the BLAS threads need
# next; on a busy machine that made a small convolution 50-100x slower. So idle OpenMP threads
# sleep instead. This must be set before the compiled modules load the OpenMP runtime, which
# reads it once; a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
