"""Generative models, scratchgen and PyTorch side by side: sample quality and step time.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 \\
        python benchmarks/bench_models.py dcgan [--epochs 5] [--seed 0] [--no-torch]
    ... python benchmarks/bench_models.py ring [--steps 2000]

dcgan: on the bundled MNIST split (8,000 digits to train, 2,000 held out), PyTorch trains the
plain pytorch/examples DCGAN recipe (this architecture, minimax loss with the non-saturating
generator loss, Adam(2e-4, betas=(0.5, 0.999)), batch 64, N(0, 0.02) initialization) and
scratchgen trains what ``scratchgen train dcgan`` trains by default, for the same epochs. Each
library runs in its own process (their OpenMP pools never meet); both write 2,000 samples,
and one judge classifier trained with scratchgen on the 8,000 digits scores both: the
Frechet distance of its features to the held-out digits, the classes it recognizes.
ring: the 2-D ring of 8 Gaussians; modes covered and the share of samples within 3 standard
deviations of a mode.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def torch_plain_dcgan(x, epochs, seed, batch_size=64, latent=100, k=64):
    """The plain PyTorch recipe on images x (N, 1, 28, 28) in [0, 1]; returns (samples of the
    eval-mode and train-mode generator, seconds per step)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    c, h, w = x.shape[1], x.shape[2] // 4, x.shape[3] // 4
    generator = nn.Sequential(
        nn.Linear(latent, 2 * k * h * w), nn.BatchNorm1d(2 * k * h * w), nn.ReLU(),
        nn.Unflatten(1, (2 * k, h, w)),
        nn.ConvTranspose2d(2 * k, k, 4, 2, 1), nn.BatchNorm2d(k), nn.ReLU(),
        nn.ConvTranspose2d(k, c, 4, 2, 1), nn.Tanh())
    discriminator = nn.Sequential(
        nn.Conv2d(c, k, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(k, 2 * k, 4, 2, 1), nn.BatchNorm2d(2 * k), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(2 * k * h * w, 1))

    def weights_init(m):                       # pytorch/examples dcgan/main.py
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

    generator.apply(weights_init)
    discriminator.apply(weights_init)
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    data = torch.from_numpy(2 * x - 1)
    steps, seconds = 0, 0.0
    for epoch in range(epochs):
        order = torch.from_numpy(np.random.default_rng([seed, epoch]).permutation(len(x)))
        for b in range(len(x) // batch_size):
            start = time.perf_counter()
            real = data[order[b * batch_size:(b + 1) * batch_size]]
            fake = generator(torch.randn(batch_size, latent))
            opt_d.zero_grad()
            loss_d = (bce(discriminator(real), torch.ones(batch_size, 1))
                      + bce(discriminator(fake.detach()), torch.zeros(batch_size, 1)))
            loss_d.backward()
            opt_d.step()
            opt_g.zero_grad()
            loss_g = bce(discriminator(fake), torch.ones(batch_size, 1))
            loss_g.backward()
            opt_g.step()
            seconds += time.perf_counter() - start
            steps += 1
    samples = {}
    with torch.no_grad():
        for mode in ("eval", "train"):
            generator.train(mode == "train")
            z = torch.randn(2000, latent)
            samples[mode] = ((generator(z) + 1) / 2).clamp(0, 1).numpy()
    return samples, seconds / steps


def scratchgen_default_dcgan(x, y, epochs, seed, out):
    """``scratchgen train dcgan``'s default recipe; returns (samples, seconds per step)."""
    from scratchgen.models import DCGAN
    from scratchgen.train import Trainer

    model = DCGAN(image_shape=x.shape[1:], seed=seed)
    trainer = Trainer(model, (x, y), out, epochs, model.default_batch_size, seed=seed,
                      show_progress=False)
    summary = trainer.fit()
    return {"eval": model.sample(2000, np.random.default_rng([seed, 9]))}, \
        summary["seconds_per_step"]


def worker(args):
    """Run one library's training in this process; save its samples and timing."""
    from scratchgen.data import load_train_test

    (x, y), _ = load_train_test("mnist")
    if args.worker == "torch":
        import torch

        torch.set_num_threads(args.threads)
        samples, per_step = torch_plain_dcgan(x, args.epochs, args.seed)
    else:
        samples, per_step = scratchgen_default_dcgan(x, y, args.epochs, args.seed,
                                                     Path(args.out) / "run")
    for mode, images in samples.items():
        np.save(Path(args.out) / f"{args.worker}_{mode}.npy", images.astype(np.float32))
    Path(args.out, f"{args.worker}.json").write_text(json.dumps({"seconds_per_step": per_step}))


def run_dcgan(args):
    from scratchgen.data import load_train_test
    from scratchgen.train.quality import train_judge

    out = Path(args.out or tempfile.mkdtemp(prefix="bench_models_"))
    out.mkdir(parents=True, exist_ok=True)
    workers = ["scratchgen"] + ([] if args.no_torch else ["torch"])
    for name in workers:
        subprocess.run([sys.executable, __file__, "dcgan", "--worker", name, "--out", str(out),
                        "--epochs", str(args.epochs), "--seed", str(args.seed),
                        "--threads", str(args.threads)], check=True)
    train, test = load_train_test("mnist")
    judge, accuracy, real_features = train_judge(train, test, args.seed)
    floor = judge.evaluate_samples(train[0][:2000], real_features)["frechet_distance"]
    print(f"\nDCGAN, {args.epochs} epochs on 8,000 MNIST digits, judged on the other 2,000 "
          f"(judge accuracy {accuracy:.1%}; real training digits score {floor:.1f})")
    print(f"{'recipe':<44}{'Frechet':>9}{'classes':>9}{'balance':>9}{'ms/step':>9}")
    rows = {}
    for name in workers:
        timing = json.loads((out / f"{name}.json").read_text())
        for mode_file in sorted(out.glob(f"{name}_*.npy")):
            mode = mode_file.stem.split("_", 1)[1]
            scores = judge.evaluate_samples(np.load(mode_file), real_features)
            label = ("scratchgen train dcgan (default)" if name == "scratchgen"
                     else f"PyTorch plain recipe, {mode}-mode G")
            rows[(name, mode)] = scores["frechet_distance"]
            print(f"{label:<44}{scores['frechet_distance']:>9.1f}"
                  f"{scores['classes_recognized']:>9d}{scores['class_balance']:>9.2f}"
                  f"{1e3 * timing['seconds_per_step']:>9.1f}")
    if not args.no_torch:
        best_torch = min(v for (name, _), v in rows.items() if name == "torch")
        print(f"ratio scratchgen / best PyTorch Frechet distance: "
              f"{rows[('scratchgen', 'eval')] / best_torch:.2f} (target <= 0.75)")
    print(f"files: {out}")


def run_ring(args):
    from scratchgen.metrics import mode_coverage, ring_of_gaussians
    from scratchgen.models import MLPGAN

    model = MLPGAN(seed=args.seed)
    optimizers = model.configure_optimizers()
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    for step in range(args.steps):
        model.training_step(ring_of_gaussians(256, rng=rng), None, optimizers, rng, step)
    coverage = mode_coverage(model.sample(2000, np.random.default_rng(1)))
    print(f"ring of 8 Gaussians, {args.steps} steps of 256: {coverage['modes_covered']}/8 modes, "
          f"{coverage['high_quality_share']:.1%} of samples within 3 std of a mode, "
          f"{1e3 * (time.perf_counter() - start) / args.steps:.1f} ms per step")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job", choices=("dcgan", "ring"))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", 2)))
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--out", help="folder for the samples (default: a new temporary one)")
    parser.add_argument("--worker", choices=("torch", "scratchgen"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
    elif args.job == "dcgan":
        run_dcgan(args)
    else:
        run_ring(args)


if __name__ == "__main__":
    main()
