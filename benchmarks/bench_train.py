"""A training step, scratchgen vs PyTorch side by side: a 784-400-20 MLP at batch 128, a small
CNN on 28x28 images at batch 64 (Adam, cross entropy), and with ``--dcgan`` / ``--vae`` the
models of the speed targets: a DCGAN on 28x28 images at batch 64 and a 784-400-20 VAE at
batch 128.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 \\
        python benchmarks/bench_train.py [--dcgan] [--vae] [--threads 2] [--processes] [--json]

(those two variables slow a current NumPy on some machines; unset them for this command
only). By default both libraries run in one process with the same thread count; with
``--processes`` each library runs in a process of its own (neither loads the other's
runtimes), the two alternating for five rounds. The table gives medians and the ratio
scratchgen / PyTorch (below 1.0: scratchgen is faster).

The DCGAN (Radford et al. 2016, as in pytorch/examples dcgan at 28x28): G is z (100) ->
Linear -> BatchNorm1d -> ReLU -> 128x7x7 -> ConvT 128->64 (4, stride 2, pad 1) ->
BatchNorm2d -> ReLU -> ConvT 64->1 -> tanh; D is Conv 1->64 -> LeakyReLU(0.2) -> Conv 64->128
-> BatchNorm2d -> LeakyReLU -> Linear -> logit. One step is D's update on a real and a fake
batch, then G's (non-saturating loss), both Adam(2e-4, betas (0.5, 0.999)). The VAE (Kingma
and Welling 2014): 784 -> 400 -> (mu, logvar) of 20 -> 400 -> 784 logits, Bernoulli
likelihood plus the KL term, Adam(1e-3).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

ROUNDS = 5  # alternations of the two processes with --processes


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dcgan", action="store_true", help="time the DCGAN step")
    parser.add_argument("--vae", action="store_true", help="time the VAE step")
    parser.add_argument("--processes", action="store_true",
                        help="each library in its own process, alternating")
    parser.add_argument("--only", choices=("scratchgen", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    return parser.parse_args()


# ------------------------------------------------------------------------ scratchgen models
def sg_models(which):
    import scratchgen as sg
    import scratchgen.nn.functional as F
    from scratchgen import nn, optim

    rng = np.random.default_rng(0)
    if which == "mlp":
        model = nn.Sequential(nn.Linear(784, 400, rng=rng), nn.ReLU(), nn.Linear(400, 20, rng=rng))
        return _classifier_step(sg, F, optim, model, (128, 784), 20)
    if which == "cnn":
        model = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),     # 16x14x14
            nn.Conv2d(16, 32, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),    # 32x7x7
            nn.Flatten(), nn.Linear(32 * 7 * 7, 10, rng=rng))
        return _classifier_step(sg, F, optim, model, (64, 1, 28, 28), 10)
    if which == "dcgan":
        G = nn.Sequential(
            nn.Linear(100, 128 * 7 * 7, bias=False, rng=rng), nn.BatchNorm1d(128 * 7 * 7),
            nn.ReLU(), nn.Unflatten(1, (128, 7, 7)),
            nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1, bias=False, rng=rng),
            nn.BatchNorm2d(64), nn.ReLU(),
            nn.ConvTranspose2d(64, 1, 4, stride=2, padding=1, rng=rng), nn.Tanh())
        D = nn.Sequential(
            nn.Conv2d(1, 64, 4, stride=2, padding=1, rng=rng), nn.LeakyReLU(0.2),
            nn.Conv2d(64, 128, 4, stride=2, padding=1, bias=False, rng=rng),
            nn.BatchNorm2d(128), nn.LeakyReLU(0.2), nn.Flatten(),
            nn.Linear(128 * 7 * 7, 1, rng=rng))
        opt_g = optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_d = optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        real = sg.tensor(rng.uniform(-1, 1, (64, 1, 28, 28)).astype(np.float32))
        z = sg.tensor(rng.standard_normal((64, 100)).astype(np.float32))
        ones, zeros = sg.ones(64, 1), sg.zeros(64, 1)
        bce = F.binary_cross_entropy_with_logits

        def step():
            opt_d.zero_grad()
            fake = G(z)
            loss_d = bce(D(real), ones) + bce(D(fake.detach()), zeros)
            loss_d.backward()
            opt_d.step()
            opt_g.zero_grad()
            bce(D(fake), ones).backward()
            opt_g.step()
        return step
    enc = nn.Sequential(nn.Linear(784, 400, rng=rng), nn.ReLU(), nn.Linear(400, 40, rng=rng))
    dec = nn.Sequential(nn.Linear(20, 400, rng=rng), nn.ReLU(), nn.Linear(400, 784, rng=rng))
    params = list(enc.parameters()) + list(dec.parameters())
    opt = optim.Adam(params, lr=1e-3)
    x = sg.tensor((rng.uniform(0, 1, (128, 784)) > 0.5).astype(np.float32))

    def step():
        opt.zero_grad()
        h = enc(x)
        mu, logvar = h[:, :20], h[:, 20:]
        eps = sg.tensor(rng.standard_normal((128, 20)).astype(np.float32))
        logits = dec(mu + (0.5 * logvar).exp() * eps)     # std = exp(logvar / 2)
        loss = (F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 128
                + F.kl_normal_standard(mu, logvar))
        loss.backward()
        opt.step()
    return step


def _classifier_step(sg, F, optim, model, x_shape, classes):
    rng = np.random.default_rng(1)
    x = sg.tensor(rng.standard_normal(x_shape).astype(np.float32))
    y = rng.integers(0, classes, x_shape[0])
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


# --------------------------------------------------------------------------- torch models
def torch_models(which):
    import torch
    tnn, F = torch.nn, torch.nn.functional
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    if which == "mlp":
        model = tnn.Sequential(tnn.Linear(784, 400), tnn.ReLU(), tnn.Linear(400, 20))
        return _torch_classifier_step(torch, model, (128, 784), 20)
    if which == "cnn":
        model = tnn.Sequential(
            tnn.Conv2d(1, 16, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Conv2d(16, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Flatten(), tnn.Linear(32 * 7 * 7, 10))
        return _torch_classifier_step(torch, model, (64, 1, 28, 28), 10)
    if which == "dcgan":
        G = tnn.Sequential(
            tnn.Linear(100, 128 * 7 * 7, bias=False), tnn.BatchNorm1d(128 * 7 * 7), tnn.ReLU(),
            tnn.Unflatten(1, (128, 7, 7)),
            tnn.ConvTranspose2d(128, 64, 4, stride=2, padding=1, bias=False),
            tnn.BatchNorm2d(64), tnn.ReLU(),
            tnn.ConvTranspose2d(64, 1, 4, stride=2, padding=1), tnn.Tanh())
        D = tnn.Sequential(
            tnn.Conv2d(1, 64, 4, stride=2, padding=1), tnn.LeakyReLU(0.2),
            tnn.Conv2d(64, 128, 4, stride=2, padding=1, bias=False),
            tnn.BatchNorm2d(128), tnn.LeakyReLU(0.2), tnn.Flatten(), tnn.Linear(128 * 7 * 7, 1))
        opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        real = torch.from_numpy(rng.uniform(-1, 1, (64, 1, 28, 28)).astype(np.float32))
        z = torch.from_numpy(rng.standard_normal((64, 100)).astype(np.float32))
        ones, zeros = torch.ones(64, 1), torch.zeros(64, 1)
        bce = F.binary_cross_entropy_with_logits

        def step():
            opt_d.zero_grad()
            fake = G(z)
            loss_d = bce(D(real), ones) + bce(D(fake.detach()), zeros)
            loss_d.backward()
            opt_d.step()
            opt_g.zero_grad()
            bce(D(fake), ones).backward()
            opt_g.step()
        return step
    enc = tnn.Sequential(tnn.Linear(784, 400), tnn.ReLU(), tnn.Linear(400, 40))
    dec = tnn.Sequential(tnn.Linear(20, 400), tnn.ReLU(), tnn.Linear(400, 784))
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3)
    x = torch.from_numpy((rng.uniform(0, 1, (128, 784)) > 0.5).astype(np.float32))

    def step():
        opt.zero_grad()
        h = enc(x)
        mu, logvar = h[:, :20], h[:, 20:]
        eps = torch.from_numpy(rng.standard_normal((128, 20)).astype(np.float32))
        logits = dec(mu + (0.5 * logvar).exp() * eps)
        loss = (F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 128
                + (0.5 * (logvar.exp() + mu * mu - 1 - logvar)).sum(1).mean())
        loss.backward()
        opt.step()
    return step


def _torch_classifier_step(torch, model, x_shape, classes):
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.standard_normal(x_shape).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, classes, x_shape[0]))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return step


# ------------------------------------------------------------------------------ measuring
NAMES = {"mlp": "mlp 784-400-20, batch 128", "cnn": "cnn 1-16-32 on 28x28, batch 64",
         "dcgan": "dcgan G+D step, 28x28, batch 64", "vae": "vae 784-400-20, batch 128"}


def median_ms(step, repeats, warmup=3):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def run_library(library, models, args):
    """{model: median ms} for one library, in this process; and its thread pools."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
        limiter = threadpool_limits(args.threads)  # noqa: F841  (held while timing)
    except ImportError:
        threadpool_info = None
    if library == "torch":
        import torch
        torch.set_num_threads(args.threads)
        make = torch_models
    else:
        make = sg_models
    times = {m: median_ms(make(m), args.repeats) for m in models}
    pools = [{k: p.get(k) for k in ("internal_api", "version", "num_threads", "filepath")}
             for p in threadpool_info()] if threadpool_info else "threadpoolctl missing"
    return times, pools


def in_processes(models, args):
    """Each library in its own child process, alternating for ROUNDS rounds."""
    samples = {"scratchgen": {m: [] for m in models}, "torch": {m: [] for m in models}}
    pools = {}
    flags = [f"--{m}" for m in models if m in ("dcgan", "vae")]
    for _ in range(ROUNDS):
        for library in ("scratchgen", "torch"):
            out = subprocess.run(
                [sys.executable, __file__, "--only", library, "--json", "--repeats",
                 str(args.repeats), "--threads", str(args.threads)] + flags,
                capture_output=True, text=True, check=True, env=child_env(args.threads))
            result = json.loads(out.stdout)
            for m, ms in result["times"].items():
                samples[library][m].append(ms)
            pools[library] = result["threadpools"]
    return ({lib: {m: statistics.median(v) for m, v in s.items()} for lib, s in samples.items()},
            pools)


def child_env(threads):
    """The environment of a timed child: every thread pool sized `threads` before it loads
    (threadpoolctl reaches only the pools already loaded when it is called, and OpenMP's
    loads with the library)."""
    return dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
                MKL_NUM_THREADS=str(threads))


def main():
    args = parse_args()
    models = [m for m in ("dcgan", "vae") if getattr(args, m)] or ["mlp", "cnn"]
    if args.only:
        times, pools = run_library(args.only, models, args)
        print(json.dumps({"times": times, "threadpools": pools}, default=str))
        return
    if args.processes:
        times, pools = in_processes(models, args)
    else:
        try:
            import torch  # noqa: F401
            libraries = ("scratchgen", "torch")
        except ImportError:
            libraries = ("scratchgen",)
        times, pools = {}, {}
        for library in libraries:
            times[library], pools[library] = run_library(library, models, args)
    theirs = times.get("torch", {})
    rows = [{"model": NAMES[m], "scratchgen_ms": times["scratchgen"][m],
             "torch_ms": theirs.get(m),
             "ratio": None if m not in theirs else times["scratchgen"][m] / theirs[m]}
            for m in models]
    if args.json:
        print(json.dumps({"rows": rows, "threadpools": pools, "threads": args.threads},
                         indent=2, default=str))
        return
    where = "each library in its own process" if args.processes else "one process"
    print(f"training step, float32, median of {args.repeats} ({where}), {args.threads} threads")
    print(f"{'model':<34}{'scratchgen ms':>15}{'PyTorch ms':>12}{'ratio':>8}")
    for r in rows:
        torch_ms = "-" if r["torch_ms"] is None else f"{r['torch_ms']:.3f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        print(f"{r['model']:<34}{r['scratchgen_ms']:>15.3f}{torch_ms:>12}{ratio:>8}")
    for library, lib_pools in pools.items():
        print(f"thread pools ({library}):")
        for pool in lib_pools if isinstance(lib_pools, list) else []:
            print(f"  {pool['internal_api']} {pool['version']} threads={pool['num_threads']}")


if __name__ == "__main__":
    main()
