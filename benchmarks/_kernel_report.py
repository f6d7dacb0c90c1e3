"""The table and environment report that ``bench_kernels.py`` prints (pure functions of its rows
and info dicts; see that script for what they hold)."""
import os


def _fmt(value, digits=2, scale=1.0):
    return "-" if value is None else f"{value / scale:.{digits}f}"


def _ms(value):
    return _fmt(value, 3 if value is not None and value < 10 else 1)


def print_table(rows, info):
    plan = info["timing"]
    print(f"scratchgen kernels, float32, {info['threads']} threads each: median ms of "
          f"{plan['repeats']} calls, in {plan['rounds']} round(s) of one block per "
          f"implementation, each block after >= {plan['settle_s']} s of warm-up")
    header = ["op", "shape", "cython ms", "np-ref ms", "numpy@ ms", "torch ms", "GFLOP/s",
              "x torch", "x numpy@", "x np-ref", "MiB cy", "MiB torch"]
    lines = [header]
    for r in rows:
        ms, peak = r["median_ms"], r["peak_bytes"]
        mark = "" if r["cython_kernel"] or ms["cython"] is None else "*"
        lines.append([
            r["op"], r["shape"], _ms(ms["cython"]) + mark, _ms(ms["numpy"]), _ms(ms["numpy@"]),
            _ms(ms["torch"]), _fmt(r["gflops_cython"], 1), _fmt(r["x_torch"]),
            _fmt(r["x_numpy_matmul"]), _fmt(r["x_numpy_reference"]),
            _fmt(peak["cython"], scale=2**20), _fmt(peak["torch"], scale=2**20)])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(line, widths))))
    print("cython: scratchgen's cython backend; np-ref: its NumPy reference backend; "
          "numpy@: NumPy's own a @ b.")
    print("x torch, x numpy@, x np-ref: throughput of cython / throughput of the other "
          "(= its time / cython's; above 1: cython is faster).")
    print("GFLOP/s of the cython path: 2mnk per GEMM; 2 N C_out H_out W_out C_in KH KW per conv "
          "pass, 3 passes for fwd+bwd.")
    print("MiB: peak extra memory of one call (scratchgen: tracemalloc; torch: profiler "
          "allocation events).")
    if any(not r["cython_kernel"] and r["median_ms"]["cython"] is not None for r in rows):
        print("*: the cython backend has no kernel of its own for (part of) this op yet; it "
              "ran the NumPy twin.")


def print_environment(info):
    sgi, t, load = info["scratchgen"], info["torch"], info["load_average_1min"]
    omp = sgi["openmp"]
    kernels = "built" if sgi["kernels_built"] else f"not built ({sgi['kernels_import_error']})"
    print(f"\nscratchgen {sgi['scratchgen']} (numpy {sgi['numpy']}, scipy {sgi['scipy']}, "
          f"python {sgi['python']}): default backend {sgi['backend']}, available "
          f"{', '.join(sgi['backends_available'])}; kernels {kernels}; OpenMP "
          f"{'yes' if omp['built_with_openmp'] else 'no'}, max threads {omp['max_threads']} "
          f"(OMP_NUM_THREADS={omp['OMP_NUM_THREADS']})")
    print(f"  BLAS of the kernels (scipy): {sgi['blas']['scipy']}")
    print(f"  BLAS of numpy:               {sgi['blas']['numpy']}")
    if isinstance(info["threadpools"], list):
        print("threadpoolctl:")
        for pool in info["threadpools"]:
            print(f"  {pool.get('internal_api')} {pool.get('version')} "
                  f"{pool.get('architecture', '')} threads={pool.get('num_threads')} "
                  f"({os.path.basename(pool.get('filepath', ''))})")
    else:
        print("threadpoolctl: not installed; thread counts set through environment variables "
              "only, unchecked")
    print("torch: not installed" if t is None else
          f"torch {t['version']}: {t['threads']} threads, {t['interop_threads']} interop threads")
    if info["torch_memory"]:
        print(f"torch peak memory unavailable: {info['torch_memory']}")
    print(f"load average (1 min): {load['before']:.2f} before, {load['after']:.2f} after, on "
          f"{load['cpus']} CPUs (other processes make every number noisier)")
    for name, value in info["openblas_env"].items():
        if value is not None:
            print(f"NOTE: {name}={value} was set; NumPy's OpenBLAS may run slower than it can")
