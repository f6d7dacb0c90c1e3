"""Report how this scratchgen installation was built and how it is configured."""

import os
import platform
import sys

import numpy as np
import scipy

from . import _kernels, backend
from ._version import __version__

# Every environment switch scratchgen reads, with what it does. The README lists the same.
ENVIRONMENT_SWITCHES = {
    "SCRATCHGEN_BACKEND":
        "run time: 'numpy' or 'cython' picks the backend; unset: cython if built, else numpy",
    "SCRATCHGEN_REQUIRE_EXT":
        "build and run time: 1 makes missing compiled kernels an error, not a fallback",
    "SCRATCHGEN_PURE_PYTHON":
        "build time: 1 installs without compiled kernels (pure-NumPy backend)",
    "SCRATCHGEN_OPENMP":
        "build time: 0 compiles the kernels without OpenMP",
    "SCRATCHGEN_CYTHON_DEBUG":
        "build time: 1 compiles the kernels with bounds and wraparound checks, -O0 -g",
    "SCRATCHGEN_SANITIZE":
        "build time: 'address' compiles the kernels with AddressSanitizer",
    "SCRATCHGEN_ISA":
        "run time: 'avx512', 'avx2' or 'generic' forces the conv micro-kernels' ISA; "
        "unset: the widest this CPU runs",
    "SCRATCHGEN_MALLOC":
        "import time: 0 leaves glibc's malloc thresholds alone; unset: freed memory is kept "
        "for the next step",
}


def _blas_description(show_config):
    """One line naming the BLAS a library was built against, from its show_config()."""
    blas = show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    parts = [blas.get("name", "unknown"), blas.get("version", "unknown version")]
    if "openblas configuration" in blas:
        parts.append(f"({blas['openblas configuration'].strip()})")
    return " ".join(parts)


def config_dict():
    """Return the information `show_config` prints, as a dict.

    Returns
    -------
    dict
        ``scratchgen``, ``python``, ``numpy``, ``scipy``: version strings.
        ``backend``: name of the backend in use; ``backends_available``: list of names.
        ``kernels_built``: bool; ``kernels_import_error``: str or None, why they did not
        import; ``kernels_build``: dict or None, ``cython_debug`` and ``address_sanitizer``.
        ``conv_isa``: dict or None without kernels, ``in_use`` (the ISA of the conv
        kernels' micro-kernels: 'avx512', 'avx2' or 'generic') and ``supported`` (list).
        ``openmp``: dict with ``built_with_openmp`` (bool), ``max_threads`` (int or None
        without kernels), and ``OMP_NUM_THREADS``, ``OMP_WAIT_POLICY`` and ``GOMP_SPINCOUNT``
        (str or None; the last two say how idle OpenMP threads wait).
        ``blas``: dict, ``scipy`` (whose BLAS the kernels call) and ``numpy`` (whose BLAS
        the NumPy backend uses), one descriptive line each.
        ``malloc``: str, what the C library's malloc does with freed memory
        (``scratchgen._kernels.MALLOC``).
        ``environment``: dict mapping each name in `ENVIRONMENT_SWITCHES`, and any other
        ``SCRATCHGEN_*`` variable set, to its value (None when unset).
    """
    build = backend.kernels_build_info()
    environment = {name: os.environ.get(name) for name in ENVIRONMENT_SWITCHES}
    environment.update({name: value for name, value in sorted(os.environ.items())
                        if name.startswith("SCRATCHGEN_") and name not in environment})
    return {
        "scratchgen": __version__,
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "backend": backend.current().name,
        "backends_available": backend.available(),
        "kernels_built": build is not None,
        "kernels_import_error": backend.kernels_import_error(),
        "kernels_build": None if build is None else {
            "cython_debug": build["cython_debug"],
            "address_sanitizer": build["address_sanitizer"],
        },
        "conv_isa": None if build is None else {
            "in_use": build["conv_isa"], "supported": build["conv_isas_supported"],
        },
        "openmp": {
            "built_with_openmp": build is not None and build["openmp"],
            "max_threads": None if build is None else build["openmp_max_threads"],
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
            "GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT"),
        },
        "blas": {
            "scipy": _blas_description(scipy.show_config),
            "numpy": _blas_description(np.show_config),
        },
        "malloc": _kernels.MALLOC,
        "environment": environment,
    }


def show_config(file=None):
    """Print the versions, backend, compiled kernels, BLAS and environment switches in use.

    Parameters
    ----------
    file : file-like, optional
        Where to print; `sys.stdout` by default.
    """
    file = sys.stdout if file is None else file
    info = config_dict()
    if info["kernels_built"]:
        build = info["kernels_build"]
        flavour = ["debug, bounds checks on" if build["cython_debug"] else "release"]
        if build["address_sanitizer"]:
            flavour.append("AddressSanitizer")
        kernels = f"built ({', '.join(flavour)})"
    else:
        kernels = f"not built: {info['kernels_import_error']}"
    openmp = info["openmp"]
    if not info["kernels_built"]:
        openmp_line = "n/a (no compiled kernels)"
    elif openmp["built_with_openmp"]:
        openmp_line = f"yes, {openmp['max_threads']} threads"
    else:
        openmp_line = "no (kernel loops run on one thread)"
    if info["conv_isa"] is None:
        isa_line = "n/a (no compiled kernels)"
    else:
        isa_line = (f"{info['conv_isa']['in_use']} (this CPU runs: "
                    f"{', '.join(info['conv_isa']['supported'])})")
    omp_env = openmp["OMP_NUM_THREADS"]
    openmp_line += f" (OMP_NUM_THREADS={'unset' if omp_env is None else omp_env})"
    wait = ", ".join(f"{name}={openmp[name]}" for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
                     if openmp[name] is not None) or "the OpenMP runtime's default"

    lines = [
        f"scratchgen {info['scratchgen']}",
        f"  python:     {info['python']}",
        f"  numpy:      {info['numpy']}",
        f"  scipy:      {info['scipy']}",
        "backend:",
        f"  in use:     {info['backend']}",
        f"  available:  {', '.join(info['backends_available'])}",
        f"  kernels:    {kernels}",
        f"  openmp:     {openmp_line}",
        f"  idle wait:  {wait} (_kernels/__init__.py)",
        f"  conv ISA:   {isa_line}",
        f"  malloc:     {info['malloc']} (_kernels/__init__.py)",
        "blas (the conv kernels call none):",
        f"  kernels (scipy): {info['blas']['scipy']}",
        f"  numpy:           {info['blas']['numpy']}",
        "environment switches:",
    ]
    width = max(len(name) for name in info["environment"])
    for name, value in info["environment"].items():
        meaning = ENVIRONMENT_SWITCHES.get(name, "not a scratchgen switch (misspelt?)")
        shown = "<unset>" if value is None else repr(value)
        lines.append(f"  {name:<{width}} = {shown:<9} {meaning}")
    print("\n".join(lines), file=file)
