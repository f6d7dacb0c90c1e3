"""Kernel speed: scratchgen's cython and NumPy backends against NumPy's own matmul and PyTorch,
on the GEMMs and convolutions that an MLP and a DCGAN on MNIST spend their time in.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_kernels.py \\
        [--json] [--repeats N] [--threads 2] [--quick]

Run it with those two variables removed, as above: on some machines they make the OpenBLAS of
a current NumPy pick slower kernels. The script never changes them itself (it warns when they
are set).

Rows, all float32: square sgemm (n = 256, 1024, 2048); the GEMMs of a 784-400-20 MLP training
step at batch 128; the convolutions of a DCGAN on MNIST at batch 64, forward and forward +
backward (gradients of input, weight and, where the layer has one, bias); 2x2 max and average
pooling, forward + backward. Forward-only rows run under ``no_grad`` on both sides.

Method: all implementations run side by side in this one process, row by row. Within a row
each is timed in blocks of calls, one implementation at a time, every block after a warm-up of
at least a quarter second (so the previous library's thread pool has gone idle), in four
rounds (one with --quick); the table shows the median. Before timing, every result is compared
with the NumPy reference, so a fast wrong kernel fails instead of winning. Ratios are
throughputs, cython's over the other's (= the other's time over cython's; above 1, cython
wins); the ``x numpy@`` column is the one for the target "matmul at least 0.95x NumPy".

Peak memory is measured in a separate, untimed call: for scratchgen under `tracemalloc`
(NumPy reports its array allocations to it), as the most memory the call held on top of what
was alive before it; C allocations inside the compiled kernels and BLAS's own buffers are not
seen. For PyTorch it is the same peak, summed from the allocation events of `torch.profiler`.

Import order: ``--import-order`` prints another table instead: scratchgen's conv layers (the
DCGAN's and the 3x3 one, forward + backward) timed in child processes that import torch before
scratchgen, next to children that never import torch, alternating for three rounds (medians
of the children's medians). Loading torch first must not slow scratchgen down (target: within
1.3x).

Threads: ``--threads N`` sets OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS before
NumPy, SciPy's BLAS, the kernels' OpenMP runtime and torch load, enforces N on every loaded
thread pool with threadpoolctl when it is installed, and calls ``torch.set_num_threads(N)``.
"""
import argparse
import contextlib
import gc
import json
import os
import statistics
import sys
import time
import tracemalloc
import warnings
from typing import Callable, NamedTuple


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed calls per implementation (default 20, 3 with --quick)")
    parser.add_argument("--threads", type=int, default=2, help="threads for every library")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 3 repeats, one warm-up call, no n=2048 sgemm")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--import-order", action="store_true",
                        help="conv layers in processes that import torch first, or never")
    parser.add_argument("--child", choices=("torch-first", "no-torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads < 1 or (args.repeats is not None and args.repeats < 1):
        parser.error("--threads and --repeats must be at least 1")
    return args


# NOTE: OpenBLAS and OpenMP runtimes read their thread count once, when they are loaded, so
# the variables must be set before numpy, scratchgen (SciPy's BLAS, the kernels) and torch.
ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_name] = str(ARGS.threads)

if ARGS is not None and ARGS.child == "torch-first":
    import torch  # noqa: F401  (before numpy and scratchgen: the order under test)

import numpy as np  # noqa: E402  (after the thread variables, see above)

import scratchgen as sg  # noqa: E402
import scratchgen.nn.functional as F  # noqa: E402
from scratchgen.backend.conv_geometry import (  # noqa: E402
    conv_output_size,
    conv_transpose_output_size,
)
from scratchgen.backend.numpy_backend import NumpyBackend  # noqa: E402

from _kernel_report import print_environment, print_table  # noqa: E402  (next to this script)

try:
    if ARGS is not None and ARGS.child == "no-torch":
        raise ImportError("--child no-torch")
    import torch
    import torch.nn.functional as torch_F
except ImportError:
    torch = None
try:
    import threadpoolctl
except ImportError:
    threadpoolctl = None

IMPLS = ("cython", "numpy", "numpy@", "torch")  # column order
# NOTE: an idle OpenBLAS thread spins for about 0.1 s before it sleeps; while the threads of
# the library timed last still spin, they steal cores from the next one. So calls are timed
# in blocks, one implementation at a time, each after a warm-up of at least SETTLE_S seconds;
# and in ROUNDS passes over the implementations, so that a burst of load from elsewhere on
# the machine does not land on one implementation's samples only.
SETTLE_S = 0.25
ROUNDS = 4


class Impl(NamedTuple):
    run: Callable  # one call; returns its result arrays, for the correctness check
    reset: Callable = lambda: None  # untimed, before each call: drop the last call's grads
    context: Callable = contextlib.nullcontext  # around each call, outside the timer


class Case(NamedTuple):
    op: str
    shape: str
    flops: float  # of one call; None where FLOP/s mean nothing (pooling)
    kernels: tuple  # backend methods the op runs, to tell whether cython has its own
    impls: dict  # name in IMPLS -> Impl


# ------------------------------------------------------------------------------ the rows
def scratchgen_backends():
    """{"cython": ..., "numpy": ...}, the cython one only where its kernels imported."""
    return {name: sg.backend.get(name) for name in ("cython", "numpy")
            if name in sg.backend.available()}


def gemm_case(op, a, b):
    """``a @ b`` through each backend's matmul, NumPy's ``@`` and ``torch.mm``.

    Transposed operands are passed as views (``x.T``), as autograd's backward passes them."""
    m, k = a.shape
    n = b.shape[1]
    impls = {name: Impl(lambda be=be: (be.matmul(a, b),))
             for name, be in scratchgen_backends().items()}
    impls["numpy@"] = Impl(lambda: (a @ b,))
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)  # the same memory and strides
        impls["torch"] = Impl(lambda: (torch.mm(ta, tb).numpy(),))
    return Case(op, f"{m}x{k} @ {k}x{n}", 2.0 * m * n * k, ("matmul",), impls)


def gemm_cases(rng, sizes):
    def randn(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    cases = [gemm_case(f"sgemm n={n}", randn(n, n), randn(n, n)) for n in sizes]
    # The MLP of bench_autograd.py: h = tanh(X W1), logits = h W2, G_i = dL/d(pre-activation).
    x, w1, w2 = randn(128, 784), randn(784, 400), randn(400, 20)
    h, g2, g1 = randn(128, 400), randn(128, 20), randn(128, 400)
    cases += [
        gemm_case("mlp fwd X W1", x, w1),
        gemm_case("mlp fwd H W2", h, w2),
        gemm_case("mlp bwd dW2 = H^T G2", h.T, g2),      # dL/dW2 = H^T G2
        gemm_case("mlp bwd dH = G2 W2^T", g2, w2.T),     # dL/dH = G2 W2^T
        gemm_case("mlp bwd dW1 = X^T G1", x.T, g1),      # dL/dW1 = X^T G1 (X is data: no dX)
    ]
    return cases


def conv_cases(rng, name, x_shape, C_out, K, stride, padding, transpose, bias):
    """A conv (or transposed conv) layer: a forward case and a forward + backward case."""
    N, C_in, H, W = x_shape
    if transpose:
        w_shape = (C_in, C_out, K, K)  # PyTorch's layout: (C_in, C_out // groups, KH, KW)
        H_out, W_out = (conv_transpose_output_size(s, K, stride, padding, 1, 0) for s in (H, W))
        # The adjoint of the convolution (N, C_out, H_out, W_out) -> (N, C_in, H, W).
        macs = N * C_in * H * W * C_out * K * K
        sg_fn, torch_fn, kernel = F.conv_transpose2d, "conv_transpose2d", "conv2d_backward_data"
    else:
        w_shape = (C_out, C_in, K, K)
        H_out, W_out = (conv_output_size(s, K, stride, padding, 1) for s in (H, W))
        macs = N * C_out * H_out * W_out * C_in * K * K
        sg_fn, torch_fn, kernel = F.conv2d, "conv2d", "conv2d"
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = rng.standard_normal(w_shape, dtype=np.float32) / np.float32(np.sqrt(C_in * K * K))
    b = rng.standard_normal(C_out, dtype=np.float32) if bias else None
    grad_y = rng.standard_normal((N, C_out, H_out, W_out), dtype=np.float32)
    shape = (f"x {'x'.join(map(str, x_shape))}, w {'x'.join(map(str, w_shape))}, "
             f"s{stride} p{padding}{', bias' if bias else ''}")
    forward = {}
    forward_backward = {}
    leaves = [sg.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    sg_grad_y = sg.tensor(grad_y)
    for be in scratchgen_backends():
        forward[be], forward_backward[be] = autograd_impls(
            lambda *t: sg_fn(*t, stride=stride, padding=padding), leaves, sg_grad_y,
            sg.no_grad, lambda t: t.data, context=lambda be=be: sg.backend.use(be))
    if torch is not None:
        fn = getattr(torch_F, torch_fn)
        leaves = [torch.from_numpy(a).requires_grad_() for a in (x, w, b) if a is not None]
        forward["torch"], forward_backward["torch"] = autograd_impls(
            lambda *t: fn(*t, stride=stride, padding=padding), leaves,
            torch.from_numpy(grad_y), torch.no_grad, lambda t: t.detach().numpy())
    kernels = ("conv2d", "conv2d_backward_data", "conv2d_backward_weight")
    return [Case(f"{name} fwd", shape, 2.0 * macs, (kernel,), forward),
            Case(f"{name} fwd+bwd", shape, 3 * 2.0 * macs, kernels, forward_backward)]


def autograd_impls(fn, leaves, grad_y, no_grad, to_numpy, context=contextlib.nullcontext):
    """(forward, forward + backward) Impls of ``fn(*leaves)`` for scratchgen or torch."""
    def forward():
        with no_grad():
            return (to_numpy(fn(*leaves)),)

    def forward_backward():
        y = fn(*leaves)
        y.backward(grad_y)
        return (to_numpy(y),) + tuple(to_numpy(t.grad) for t in leaves)

    def reset():
        for t in leaves:
            t.grad = None

    return Impl(forward, reset, context), Impl(forward_backward, reset, context)


def pool_case(rng, kind, x_shape):
    x = rng.standard_normal(x_shape, dtype=np.float32)
    grad_y = rng.standard_normal(x_shape[:2] + (x_shape[2] // 2, x_shape[3] // 2),
                                 dtype=np.float32)
    sg_fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    sg_x = sg.tensor(x, requires_grad=True)
    impls = {be: autograd_impls(lambda t: sg_fn(t, 2, 2), [sg_x], sg.tensor(grad_y),
                                sg.no_grad, lambda t: t.data,
                                context=lambda be=be: sg.backend.use(be))[1]
             for be in scratchgen_backends()}
    if torch is not None:
        fn = torch_F.max_pool2d if kind == "max" else torch_F.avg_pool2d
        impls["torch"] = autograd_impls(
            lambda t: fn(t, 2, 2), [torch.from_numpy(x).requires_grad_()],
            torch.from_numpy(grad_y), torch.no_grad, lambda t: t.detach().numpy())[1]
    kernels = (f"{kind}_pool2d", f"{kind}_pool2d_backward")
    return Case(f"{kind}_pool2d 2x2 fwd+bwd", f"x {'x'.join(map(str, x_shape))}, k2 s2", None,
                kernels, impls)


def all_cases(quick):
    """Every row, built one at a time (each holds its own arrays)."""
    rng = np.random.default_rng(0)
    yield from gemm_cases(rng, (256, 1024) if quick else (256, 1024, 2048))
    yield from layer_cases(rng)
    for kind in ("max", "avg"):
        yield pool_case(rng, kind, (64, 64, 32, 32))


def layer_cases(rng):
    """The conv layers' rows, forward and forward + backward."""
    # DCGAN on MNIST: D is conv 1->64, conv 64->128; G is a linear layer to 128x7x7, then
    # conv_transpose 128->64 and 64->1. Layers followed by batch norm have no bias.
    for name, x_shape, C_out, K, stride, padding, transpose, bias in [
        ("D1 conv2d 1->64", (64, 1, 28, 28), 64, 4, 2, 1, False, True),
        ("D2 conv2d 64->128", (64, 64, 14, 14), 128, 4, 2, 1, False, False),
        ("G1 conv_t2d 128->64", (64, 128, 7, 7), 64, 4, 2, 1, True, False),
        ("G2 conv_t2d 64->1", (64, 64, 14, 14), 1, 4, 2, 1, True, True),
        ("conv2d 64->64 3x3", (64, 64, 32, 32), 64, 3, 1, 1, False, True),
    ]:
        yield from conv_cases(rng, name, x_shape, C_out, K, stride, padding, transpose, bias)


# ------------------------------------------------------------------------ measuring
def call(impl):
    impl.reset()
    with impl.context():
        return impl.run()


def check_against_reference(case):
    """Every implementation must give the NumPy reference's arrays, or timing means nothing."""
    expected = call(case.impls["numpy"])
    for name, impl in case.impls.items():
        if name == "numpy":
            continue
        for i, (got, want) in enumerate(zip(call(impl), expected)):
            np.testing.assert_allclose(
                got, want, rtol=1e-3, atol=1e-3 * float(np.abs(want).max()),
                err_msg=f"{case.op} ({case.shape}): result {i} of {name} differs from NumPy")


def times_ms(impls, repeats, rounds, warmup, settle_s):
    """{name: [ms, ...]}: `rounds` passes over the implementations; in each pass every one
    warms up (`warmup` calls the first time, then one; at least `settle_s` seconds) and times
    its share of the `repeats` calls in a block."""
    times = {name: [] for name in impls}
    for r in range(rounds):
        for name, impl in impls.items():
            deadline = time.perf_counter() + settle_s
            calls = 0
            while calls < (warmup if r == 0 else 1) or time.perf_counter() < deadline:
                call(impl)
                calls += 1
            for _ in range(repeats // rounds + (r < repeats % rounds)):
                times[name].append(time_one_ms(impl))
    return times


def time_one_ms(impl):
    impl.reset()
    with impl.context():
        gc.disable()  # as timeit does: no collection of someone else's garbage
        try:
            start = time.perf_counter()
            out = impl.run()
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
    del out  # freed outside the timer, the same for everyone
    return elapsed * 1e3


def peak_bytes_tracemalloc(impl):
    """Most memory one call holds at once beyond what was alive before it (NumPy-visible)."""
    impl.reset()
    gc.collect()
    with impl.context():
        tracemalloc.start()
        try:
            out = impl.run()  # noqa: F841  (kept alive: the result is part of the peak)
            return tracemalloc.get_traced_memory()[1]  # traced from start(): the extra
        finally:
            tracemalloc.stop()


@contextlib.contextmanager
def quiet_stderr():
    """Silence C-level chatter on file descriptor 2 (the profiler logs start and stop)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


_profiler_failure = []  # why the torch memory column is '-', reported once


def peak_bytes_torch(impl):
    """The same peak for torch, from the profiler's allocation (+) and free (-) events."""
    if _profiler_failure:
        return None
    impl.reset()
    with quiet_stderr(), torch.profiler.profile(
            activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        out = impl.run()  # noqa: F841  (kept alive: the result is part of the peak)
    try:
        # NOTE: kineto_results is not public API; the public event list folds allocations
        # into the op that made them, which hides frees inside an op and so the peak.
        events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    except AttributeError as exc:
        _profiler_failure.append(f"{type(exc).__name__}: {exc}")
        warnings.warn(f"bench_kernels: no torch peak memory ({_profiler_failure[0]})")
        return None
    held = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        held += event.nbytes()
        peak = max(peak, held)
    return peak


def measure(case, plan, cython_kernels):
    check_against_reference(case)
    times = times_ms(case.impls, **plan)
    ms = {name: statistics.median(times[name]) if name in times else None for name in IMPLS}
    cy = ms["cython"]

    def faster(name):  # the other's time / cython's: above 1, cython is faster
        return None if cy is None or ms[name] is None else ms[name] / cy

    return {
        "op": case.op, "shape": case.shape,
        "gflop": None if case.flops is None else case.flops / 1e9,
        "median_ms": ms,
        "min_ms": {name: min(t) for name, t in times.items()},
        "max_ms": {name: max(t) for name, t in times.items()},
        "gflops_cython": None if cy is None or case.flops is None else case.flops / cy / 1e6,
        "x_torch": faster("torch"), "x_numpy_matmul": faster("numpy@"),
        "x_numpy_reference": faster("numpy"),
        "peak_bytes": {
            "cython": peak_bytes_tracemalloc(case.impls["cython"]) if cy is not None else None,
            "torch": peak_bytes_torch(case.impls["torch"]) if "torch" in case.impls else None,
        },
        # False: the cython backend runs the NumPy twin for (part of) this op.
        "cython_kernel": cy is not None and all(k in cython_kernels for k in case.kernels),
    }


# ------------------------------------------------------------------------ environment
OPENBLAS_SLOW_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def set_thread_limits(threads):
    """Enforce `threads` on every loaded pool; return threadpoolctl's limiter (or None)."""
    if torch is not None:
        torch.set_num_threads(threads)
    if threadpoolctl is None:
        warnings.warn("bench_kernels: threadpoolctl is not installed, so thread counts are set "
                      "only through OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS "
                      "and cannot be checked (pip install threadpoolctl)")
        return None
    return threadpoolctl.threadpool_limits(limits=threads)


def environment(args, plan, load_before):
    config = sg._config.config_dict()
    return {
        "dtype": "float32", "timing": plan, "threads": args.threads, "quick": args.quick,
        "openblas_env": {name: os.environ.get(name) for name in OPENBLAS_SLOW_VARIABLES},
        "scratchgen": {key: config[key] for key in (
            "scratchgen", "python", "numpy", "scipy", "backend", "backends_available",
            "kernels_built", "kernels_import_error", "openmp", "blas")},
        "threadpools": (threadpoolctl.threadpool_info() if threadpoolctl is not None
                        else "threadpoolctl not installed"),
        "torch": None if torch is None else {
            "version": torch.__version__, "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads()},
        "torch_memory": _profiler_failure[0] if _profiler_failure else None,
        # Other processes skew every number: a busy machine shows up here.
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0],
                              "cpus": os.cpu_count()},
    }


# ------------------------------------------------------------------------ import order
IMPORT_ORDER_ROUNDS = 3


def import_order_child(args, plan):
    """In a child: {row: median ms} of scratchgen's cython conv rows, fwd + bwd, as JSON."""
    limiter = set_thread_limits(args.threads)  # noqa: F841  (held for the whole run)
    rows = {}
    for case in layer_cases(np.random.default_rng(0)):
        if case.op.endswith("fwd+bwd"):
            times = times_ms({"cython": case.impls["cython"]}, **plan)
            rows[case.op] = statistics.median(times["cython"])
    pools = threadpoolctl.threadpool_info() if threadpoolctl is not None else []
    print(json.dumps({"rows": rows, "torch_loaded": "torch" in sys.modules,
                      "threadpools": [{k: p.get(k) for k in ("internal_api", "version",
                                                             "num_threads", "filepath")}
                                      for p in pools]}))


def import_order_main(args):
    """Children that import torch first next to children without torch, alternating."""
    import subprocess

    samples = {"no-torch": {}, "torch-first": {}}
    pools = {}
    for _ in range(IMPORT_ORDER_ROUNDS):
        for child in samples:
            command = [sys.executable, os.path.abspath(__file__), "--child", child,
                       "--threads", str(args.threads)]
            if args.repeats:
                command += ["--repeats", str(args.repeats)]
            if args.quick:
                command.append("--quick")
            result = json.loads(subprocess.run(command, capture_output=True, text=True,
                                               check=True).stdout.strip().splitlines()[-1])
            assert result["torch_loaded"] == (child == "torch-first"), result
            for op, ms in result["rows"].items():
                samples[child].setdefault(op, []).append(ms)
            pools[child] = result["threadpools"]
    ms = {child: {op: statistics.median(v) for op, v in rows.items()}
          for child, rows in samples.items()}
    rows = [{"op": op, "no_torch_ms": ms["no-torch"][op], "torch_first_ms": ms["torch-first"][op],
             "ratio": ms["torch-first"][op] / ms["no-torch"][op]} for op in ms["no-torch"]]
    if args.json:
        print(json.dumps({"rows": rows, "threadpools": pools, "threads": args.threads},
                         indent=2, default=str))
        return
    print(f"scratchgen conv layers, float32, {args.threads} threads: a process that imported "
          f"torch first vs one without torch (medians of {IMPORT_ORDER_ROUNDS} alternating "
          "processes' medians; target ratio <= 1.3)")
    print(f"{'layer':<28}{'no torch ms':>13}{'torch first ms':>16}{'ratio':>8}")
    for r in rows:
        print(f"{r['op']:<28}{r['no_torch_ms']:>13.2f}{r['torch_first_ms']:>16.2f}"
              f"{r['ratio']:>8.2f}")
    for child, child_pools in pools.items():
        print(f"thread pools ({child}): " + "; ".join(
            f"{p['internal_api']} {p['version']} x{p['num_threads']} "
            f"({os.path.basename(p['filepath'] or '')})" for p in child_pools))


def main(args):
    repeats = args.repeats or (3 if args.quick else 20)
    plan = {"repeats": repeats, "rounds": 1 if args.quick else min(ROUNDS, repeats),
            "warmup": 1 if args.quick else 2, "settle_s": 0.12 if args.quick else SETTLE_S}
    for name in OPENBLAS_SLOW_VARIABLES:
        if name in os.environ:
            warnings.warn(f"bench_kernels: {name} is set and can slow NumPy's OpenBLAS; run "
                          "with `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`")
    if args.import_order:
        return import_order_main(args)
    if args.child:
        return import_order_child(args, plan)
    limiter = set_thread_limits(args.threads)  # noqa: F841  (held for the whole run)
    cy = scratchgen_backends().get("cython")
    # Kernels the cython backend implements itself rather than inheriting from the NumPy twin.
    cython_kernels = set() if cy is None else {
        name for name in dir(NumpyBackend) if not name.startswith("_")
        and getattr(type(cy), name) is not getattr(NumpyBackend, name)}
    load_before = os.getloadavg()[0]
    rows = [measure(case, plan, cython_kernels) for case in all_cases(args.quick)]
    info = environment(args, plan, load_before)
    if args.json:
        print(json.dumps({"info": info, "rows": rows}, indent=2, default=str))
    else:
        print_table(rows, info)
        print_environment(info)


if __name__ == "__main__":
    main(ARGS)
