"""Compiled Cython kernels: the fast twins of scratchgen's pure-NumPy code.

Each ``*.pyx`` file here is built by setup.py into an extension module of the same name
(``_blas.pyx`` -> ``scratchgen._kernels._blas``). The modules are optional: an install
without a C compiler, or with ``SCRATCHGEN_PURE_PYTHON=1``, has none of them, and scratchgen
then runs on its NumPy backend.

Only ``scratchgen.backend`` imports from this package. The kernels assume valid,
C-contiguous, non-empty arrays of the right dtype: the backend checks all of that (or defers
to NumPy) before calling them, so nothing here validates its input again.
"""

import ctypes
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


# NOTE: where the arrays of a training step come from. glibc's malloc serves large blocks
# from fresh mmap pages and hands freed memory at the top of its heap back to the system
# (thresholds it adjusts from 128 KB up), so every step of a training loop touches its tens
# of megabytes of temporaries as new pages: 8,300 page faults (32 MB) per DCGAN step here,
# which made LeakyReLU's passes 3-4x slower in the step than on a warm buffer (14 ms of a
# 220 ms step, against 4). Keeping up to 256 MB of freed memory, and taking blocks under
# 32 MB (glibc's largest such threshold) from the heap, the step makes none; the process
# keeps its peak memory instead. PyTorch's CPU tuning guide gets the same from jemalloc or
# tcmalloc. SCRATCHGEN_MALLOC=0, or the user's own MALLOC_*_THRESHOLD_ variables,
# leave malloc as it is.
MALLOC_TRIM_THRESHOLD = 256 * 2**20
MALLOC_MMAP_THRESHOLD = 32 * 2**20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3        # mallopt's parameter numbers (malloc.h)


def _keep_freed_memory():
    """Set glibc's malloc thresholds as described above; return what malloc does, in words
    (show_config prints it)."""
    if os.environ.get("SCRATCHGEN_MALLOC") == "0":
        return "the C library's defaults (SCRATCHGEN_MALLOC=0)"
    if "MALLOC_TRIM_THRESHOLD_" in os.environ or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return "as the MALLOC_*_THRESHOLD_ environment variables say"
    try:
        is_glibc = os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (ValueError, OSError, AttributeError):     # not a GNU C library, or no confstr
        is_glibc = False
    if not is_glibc:
        return "the C library's defaults (not glibc)"
    try:
        libc = ctypes.CDLL(None)
        done = (libc.mallopt(_M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD) == 1
                and libc.mallopt(_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD) == 1)
    except (OSError, AttributeError):
        done = False
    if not done:
        return "the C library's defaults (mallopt failed)"
    return (f"keeps up to {MALLOC_TRIM_THRESHOLD >> 20} MB freed; blocks under "
            f"{MALLOC_MMAP_THRESHOLD >> 20} MB from its heap")


MALLOC = _keep_freed_memory()
