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

# NOTE: how idle OpenMP threads wait. Passive (they sleep at once) makes every parallel loop
# wake a thread first: on a 2-core virtual machine that cost 50-100 microseconds per loop
# (a 16^3 product: 100 us on two threads, 3 us on one), and a DCGAN step has about a hundred
# loops. Spinning without end (OMP_WAIT_POLICY=ACTIVE) holds a core that BLAS's threads or
# another process may need. So they spin a little, then sleep: 10,000 rounds, tens of
# microseconds, bridge the gap between the kernels of one training step (DCGAN and VAE
# steps 10-20% faster than passive here). Where other processes keep the cores busy,
# OMP_WAIT_POLICY=PASSIVE is better (README, speed notes). This must be set before the
# compiled modules load the OpenMP runtime, which reads it once; a value the user set wins.
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["GOMP_SPINCOUNT"] = "10000"
