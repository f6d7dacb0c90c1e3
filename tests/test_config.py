"""Tests for scratchgen._config (show_config, config_dict) and the scratchgen command line."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scratchgen import backend
from scratchgen._config import ENVIRONMENT_SWITCHES, config_dict, show_config
from scratchgen._version import __version__
from scratchgen.cli import main

SWITCHES = ["SCRATCHGEN_BACKEND", "SCRATCHGEN_REQUIRE_EXT", "SCRATCHGEN_PURE_PYTHON",
            "SCRATCHGEN_OPENMP", "SCRATCHGEN_CYTHON_DEBUG", "SCRATCHGEN_SANITIZE",
            "SCRATCHGEN_ISA", "SCRATCHGEN_MALLOC"]


def run_python(tmp_path, *args, **env):
    """Run the installed scratchgen in a fresh interpreter, outside the repository."""
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("SCRATCHGEN_") and k != "OMP_NUM_THREADS"}
    environ.update(env)
    return subprocess.run([sys.executable, *args], cwd=tmp_path, env=environ,
                          capture_output=True, text=True, timeout=120, check=True)


def test_every_switch_is_documented():
    assert list(ENVIRONMENT_SWITCHES) == SWITCHES
    assert all(meaning.strip() for meaning in ENVIRONMENT_SWITCHES.values())


def test_config_dict_keys_and_values():
    info = config_dict()
    assert set(info) == {
        "scratchgen", "python", "numpy", "scipy", "backend", "backends_available",
        "kernels_built", "kernels_import_error", "kernels_build", "conv_isa", "openmp",
        "blas", "malloc", "environment",
    }
    assert info["scratchgen"] == __version__
    assert info["backend"] == backend.current().name
    assert info["backends_available"] == backend.available()
    assert info["kernels_built"] == ("cython" in backend.available())
    assert info["kernels_import_error"] == backend.kernels_import_error()
    assert set(info["openmp"]) == {"built_with_openmp", "max_threads", "OMP_NUM_THREADS",
                                   "OMP_WAIT_POLICY", "GOMP_SPINCOUNT"}
    assert set(info["blas"]) == {"scipy", "numpy"}
    assert isinstance(info["malloc"], str) and info["malloc"]
    assert set(SWITCHES) <= set(info["environment"])


def test_config_dict_follows_the_backend_in_use():
    with backend.use("numpy"):
        assert config_dict()["backend"] == "numpy"


def test_config_dict_reads_the_environment(monkeypatch):
    monkeypatch.setenv("SCRATCHGEN_OPENMP", "0")
    monkeypatch.delenv("SCRATCHGEN_SANITIZE", raising=False)
    environment = config_dict()["environment"]
    assert environment["SCRATCHGEN_OPENMP"] == "0"
    assert environment["SCRATCHGEN_SANITIZE"] is None


def test_show_config_lists_version_backend_and_switches(monkeypatch):
    monkeypatch.setenv("SCRATCHGEN_CYTHON_DEBUG", "1")
    monkeypatch.setenv("SCRATCHGEN_TYPO", "1")
    out = io.StringIO()
    show_config(file=out)
    text = out.getvalue()
    assert f"scratchgen {__version__}" in text
    assert f"in use:     {backend.current().name}" in text
    for name in SWITCHES:
        assert name in text
        assert ENVIRONMENT_SWITCHES[name] in text
    assert "SCRATCHGEN_CYTHON_DEBUG = '1'" in text
    assert "SCRATCHGEN_TYPO" in text and "not a scratchgen switch" in text


def test_show_config_prints_to_stdout_by_default(capsys):
    show_config()
    assert f"scratchgen {__version__}" in capsys.readouterr().out


def test_show_config_reports_why_kernels_are_missing(tmp_path):
    blocked = (
        "import importlib.abc, sys\n"
        "class BlockKernels(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'scratchgen._kernels._blas':\n"
        "            raise ImportError('kernels blocked by the test')\n"
        "sys.meta_path.insert(0, BlockKernels())\n"
        "from scratchgen._config import show_config\n"
        "show_config()\n"
    )
    result = run_python(tmp_path, "-W", "ignore", "-c", blocked, SCRATCHGEN_BACKEND="numpy")
    assert "kernels:    not built: ImportError: kernels blocked by the test" in result.stdout


def test_openmp_threads_honour_omp_num_threads(tmp_path):
    if not config_dict()["openmp"]["built_with_openmp"]:
        pytest.skip("kernels not built with OpenMP")
    code = "from scratchgen._config import config_dict; print(config_dict()['openmp'])"
    result = run_python(tmp_path, "-c", code, OMP_NUM_THREADS="3")
    assert "'max_threads': 3" in result.stdout
    assert "'OMP_NUM_THREADS': '3'" in result.stdout


def test_show_config_names_the_conv_isa_and_the_switch_forces_it(tmp_path):
    if not config_dict()["kernels_built"]:
        pytest.skip("no compiled kernels")
    supported = config_dict()["conv_isa"]["supported"]
    assert supported[-1] == "generic"
    code = "from scratchgen import show_config; show_config()"
    for isa in supported:
        out = run_python(tmp_path, "-c", code, SCRATCHGEN_ISA=isa).stdout
        assert f"conv ISA:   {isa} (this CPU runs: {', '.join(supported)})" in out
    default = run_python(tmp_path, "-c", code).stdout
    assert f"conv ISA:   {supported[0]} " in default


@pytest.mark.parametrize("value", ["sse", "AVX2"])
def test_an_unknown_isa_is_an_error_at_import(tmp_path, value):
    if not config_dict()["kernels_built"]:
        pytest.skip("no compiled kernels")
    with pytest.raises(subprocess.CalledProcessError) as error:
        run_python(tmp_path, "-c", "import scratchgen", SCRATCHGEN_ISA=value)
    assert "SCRATCHGEN_ISA must be one of ['avx512', 'avx2', 'generic']" in error.value.stderr


def test_cli_config(capsys):
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert f"scratchgen {__version__}" in out
    assert "environment switches:" in out


def test_cli_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"scratchgen {__version__}"


def test_cli_without_a_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_python_dash_m_scratchgen(tmp_path):
    assert run_python(tmp_path, "-m", "scratchgen", "--version").stdout.strip() == (
        f"scratchgen {__version__}"
    )
    assert f"scratchgen {__version__}" in run_python(tmp_path, "-m", "scratchgen", "config").stdout


def test_console_script(tmp_path):
    script = Path(sys.executable).with_name("scratchgen")
    if not script.is_file():
        pytest.skip(f"no scratchgen console script next to {sys.executable}")
    result = subprocess.run([str(script), "--version"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, check=True)
    assert result.stdout.strip() == f"scratchgen {__version__}"


def test_show_config_is_exported_at_the_top_level():
    import scratchgen

    assert scratchgen.show_config is show_config
    assert scratchgen.__version__ == __version__


@pytest.mark.skipif("cython" not in backend.available(), reason="no compiled kernels")
@pytest.mark.parametrize(("env", "expected"), [
    ({}, "10000 None"),                                   # brief spinning by default
    ({"OMP_WAIT_POLICY": "PASSIVE"}, "None PASSIVE"),     # the user's policy wins
    ({"GOMP_SPINCOUNT": "7"}, "7 None"),                  # and so does the user's count
])
def test_the_kernels_set_a_brief_openmp_spin_unless_told(tmp_path, env, expected):
    environ = {k: v for k, v in os.environ.items()
               if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    environ.update(env)
    script = ("import os, scratchgen\n"
              "from scratchgen._config import show_config\n"
              "print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'))\n"
              "show_config()\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=environ,
                            capture_output=True, text=True, timeout=120, check=True)
    first, rest = result.stdout.split("\n", 1)
    assert first == expected
    wait_line = next(line for line in rest.splitlines() if "idle wait:" in line)
    for value in expected.split():
        if value != "None":
            assert value in wait_line


# A training step's temporaries, in the sizes of a DCGAN step's: allocated, written, freed.
_STEP_SCRIPT = """
import resource, numpy as np, scratchgen
from scratchgen._config import show_config
def step():
    arrays = [np.empty(n, np.float32) for n in (802816, 401408, 3211264, 401408, 802816) * 4]
    for a in arrays:
        a.fill(1.0)
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
show_config()
"""


def _glibc():
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (ValueError, OSError, AttributeError):
        return False


@pytest.mark.skipif(not _glibc(), reason="the malloc tuning is glibc's mallopt")
@pytest.mark.parametrize("tuning", [None, "0"])
def test_freed_memory_is_kept_for_the_next_step_unless_told(tmp_path, tuning):
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("MALLOC_") and k != "SCRATCHGEN_MALLOC"}
    if tuning is not None:
        environ["SCRATCHGEN_MALLOC"] = tuning
    result = subprocess.run([sys.executable, "-c", _STEP_SCRIPT], cwd=tmp_path, env=environ,
                            capture_output=True, text=True, timeout=120, check=True)
    faults, rest = result.stdout.split("\n", 1)
    malloc_line = next(line for line in rest.splitlines() if "malloc:" in line)
    if tuning is None:
        # 28 MB of temporaries per step, and (almost) no page touched for the first time
        assert int(faults) < 200, faults
        assert "keeps up to 256 MB freed" in malloc_line
    else:
        assert "SCRATCHGEN_MALLOC=0" in malloc_line
