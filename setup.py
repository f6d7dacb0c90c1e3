"""Build the optional Cython kernels in scratchgen/_kernels/ (metadata is in pyproject.toml).

Every ``*.pyx`` file in scratchgen/_kernels/ becomes the extension module
``scratchgen._kernels.<name>``. The build is steered by environment switches, all listed by
``scratchgen.show_config()``:

SCRATCHGEN_PURE_PYTHON=1    build no extension; scratchgen runs on its pure-NumPy backend.
SCRATCHGEN_REQUIRE_EXT=1    a failed extension build is an error instead of a warning.
SCRATCHGEN_OPENMP=0         compile without OpenMP even where the compiler supports it.
SCRATCHGEN_CYTHON_DEBUG=1   bounds, wraparound and initialisation checks on; -O0 -g.
SCRATCHGEN_SANITIZE=address compile and link with AddressSanitizer.
"""

import os
import tempfile
import warnings
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError

KERNEL_DIR = Path("scratchgen", "_kernels")


def env_flag(name, default):
    """Read an on/off switch: "1" is on, "0" is off, unset is `default`."""
    value = os.environ.get(name, "")
    if value not in ("", "0", "1"):
        raise SystemExit(f"setup.py: {name} must be 0 or 1, got {value!r}")
    return default if value == "" else value == "1"


def env_sanitizer():
    value = os.environ.get("SCRATCHGEN_SANITIZE", "")
    if value not in ("", "address"):
        raise SystemExit(f"setup.py: SCRATCHGEN_SANITIZE must be 'address' or unset, got {value!r}")
    return value


PURE_PYTHON = env_flag("SCRATCHGEN_PURE_PYTHON", default=False)
REQUIRE_EXT = env_flag("SCRATCHGEN_REQUIRE_EXT", default=False)
WANT_OPENMP = env_flag("SCRATCHGEN_OPENMP", default=True)
CYTHON_DEBUG = env_flag("SCRATCHGEN_CYTHON_DEBUG", default=False)
SANITIZE = env_sanitizer()

if CYTHON_DEBUG:
    DIRECTIVES = {"boundscheck": True, "wraparound": True, "initializedcheck": True}
else:
    DIRECTIVES = {"boundscheck": False, "wraparound": False, "initializedcheck": False,
                  "cdivision": True}
DIRECTIVES["language_level"] = 3


def compiler_supports_openmp(compiler):
    """Compile and link a tiny OpenMP program with the compiler this build will use."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "openmp_check.c")
        source.write_text("#include <omp.h>\n"
                          "int main(void) { return omp_get_max_threads() < 1; }\n")
        try:
            objects = compiler.compile([str(source)], output_dir=tmp, extra_postargs=["-fopenmp"])
            compiler.link_executable(objects, "openmp_check", output_dir=tmp,
                                     extra_postargs=["-fopenmp"])
        except CCompilerError:
            return False
    return True


class OptionalBuildExt(build_ext):
    """Cythonize and compile the kernels; a failure warns unless SCRATCHGEN_REQUIRE_EXT=1."""

    def build_extensions(self):
        compile_args, link_args, macros = [], [], []
        if WANT_OPENMP and compiler_supports_openmp(self.compiler):
            # The kernels learn that they were built with OpenMP from the standard _OPENMP
            # macro, which -fopenmp defines; no macro of our own is needed.
            compile_args.append("-fopenmp")
            link_args.append("-fopenmp")
        elif WANT_OPENMP:
            warnings.warn("setup.py: the C compiler cannot build OpenMP code; "
                          "the kernels are built without it (single-threaded loops)")
        if self.compiler.compiler_type == "unix":
            # a * b + c becomes one fused multiply-add in the micro-kernels (GCC's default in
            # its GNU modes, not clang's before version 14).
            compile_args.append("-ffp-contract=fast")
            # sqrt becomes the instruction itself, not a call that may set errno (which no
            # kernel reads): loops with a square root (Adam, RMSprop) can then vectorize.
            compile_args.append("-fno-math-errno")
            # No kernel enables floating-point traps, so a select between two computed values
            # need not stay a branch: the loops of sg_math.h's exponential (a clamp, a sign
            # test) vectorize only with this.
            compile_args.append("-fno-trapping-math")
        if CYTHON_DEBUG:
            # Later flags win, so -O0 overrides Python's own -O2/-O3.
            compile_args += ["-O0", "-g"]
            macros.append(("SCRATCHGEN_CYTHON_DEBUG", "1"))
        if SANITIZE:
            compile_args += [f"-fsanitize={SANITIZE}", "-fno-omit-frame-pointer"]
            link_args.append(f"-fsanitize={SANITIZE}")

        # NOTE: pip builds in the source tree and reuses build/, where an extension is only
        # rebuilt when its sources are newer. A build in another mode (debug, sanitizer,
        # OpenMP, compiler) must not reuse the last one's objects: a changed mode forces a rebuild.
        compiler_command = getattr(self.compiler, "compiler_so", None)  # None with MSVC
        mode = repr((compiler_command, sorted(DIRECTIVES.items()), compile_args, link_args, macros))
        mode_file = Path(self.build_temp, "scratchgen-build-mode.txt")
        if not mode_file.is_file() or mode_file.read_text() != mode:
            self.force = True

        self.check_extensions_list(self.extensions)
        built = []
        for ext in self.extensions:
            ext.extra_compile_args += compile_args
            ext.extra_link_args += link_args
            ext.define_macros += macros
            if self.build_one(ext):
                built.append(ext)
        # Later steps (copying an editable build, listing the wheel's files) see only the
        # extensions that exist.
        self.extensions = built
        mode_file.parent.mkdir(parents=True, exist_ok=True)
        mode_file.write_text(mode)

    def build_one(self, ext):
        """Cythonize and compile one extension; return whether it was built."""
        from Cython.Build import cythonize
        from Cython.Compiler.Errors import CompileError as CythonError

        try:
            # The generated C goes to the build directory, not next to the .pyx.
            ext.sources = cythonize([ext], build_dir=str(Path(self.build_temp, "cython")),
                                    compiler_directives=DIRECTIVES, force=self.force)[0].sources
            self.build_extension(ext)
        except (CCompilerError, CythonError) as exc:
            if REQUIRE_EXT:
                raise
            # An earlier build may have left this module in build/ (and, for an editable
            # install, in the source tree): it must not be shipped or imported.
            stale = [self.get_ext_fullpath(ext.name)]
            if self.editable_mode:
                stale.append(self.get_ext_filename(ext.name))
            for path in stale:
                Path(path).unlink(missing_ok=True)
            warnings.warn(f"setup.py: building {ext.name} failed ({type(exc).__name__}: {exc}); "
                          "installing without it, so scratchgen falls back to its pure-NumPy "
                          "backend. Set SCRATCHGEN_REQUIRE_EXT=1 to make this an error.")
            return False
        return True


def kernel_extensions():
    if PURE_PYTHON:
        return []
    # C headers next to the .pyx files (the micro-kernels, sg_microkernel.h) are found through
    # include_dirs, and a changed header rebuilds every kernel module.
    headers = [h.as_posix() for h in sorted(KERNEL_DIR.glob("*.h"))]
    return [Extension(f"scratchgen._kernels.{pyx.stem}", [pyx.as_posix()],
                      include_dirs=[KERNEL_DIR.as_posix()], depends=headers)
            for pyx in sorted(KERNEL_DIR.glob("*.pyx"))]


setup(ext_modules=kernel_extensions(), cmdclass={"build_ext": OptionalBuildExt})
