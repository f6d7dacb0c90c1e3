"""``scratchgen demo``: the main job. Generative models trained on real handwritten digits.

On the MNIST test set that ships inside the package (first 8,000 digits to train, last 2,000
held out) the demo trains

1. a DCGAN (``scratchgen.models.DCGAN``) and
2. a variational autoencoder (``scratchgen.models.VAE``, 784-400-20),

each with the same trainer as ``scratchgen train``, then scores both with one judge
classifier (Frechet distance of its features to the held-out digits, classes recognized),
reports the VAE's held-out -ELBO and importance-weighted -log p(x) in nats, and fits
3. Gaussian-process regressions on scikit-learn's diabetes data.

It writes under ``runs/demo`` (``--out``): ``samples.png`` (real digits beside each model's),
one folder per model with its sample grids, loss curves, ``losses.csv`` and checkpoints,
``gp/gp_bmi.png``, and ``metrics.json`` with every number printed. ``--quick`` runs a tiny
version on the 8x8 digits (for tests).
"""
import time
from pathlib import Path

import numpy as np

from .data.datasets import load_train_test
from .models import DCGAN, VAE
from .train import Trainer, stream, write_metrics
from .train.quality import quality_metrics, train_judge

__all__ = ["run_demo"]

#: (model, epochs, batch size) of the full demo and of --quick.
_FULL = {"dataset": "mnist", "dcgan": (DCGAN, 5, 16), "vae": (VAE, 10, 128)}
_QUICK = {"dataset": "digits", "dcgan": (DCGAN, 1, 64), "vae": (VAE, 2, 128)}


def _train(name, spec, train, out_dir, seed, say):
    cls, epochs, batch_size = spec
    say(f"\n== {name}: {cls.__doc__.splitlines()[0]} ==")
    model = cls(image_shape=train[0].shape[1:], seed=seed)
    trainer = Trainer(model, train, out_dir / name, epochs, batch_size, seed=seed, say=say)
    summary = trainer.fit()
    say(f"{summary['steps']} steps, {1e3 * summary['seconds_per_step']:.0f} ms per step")
    return model, summary


def _side_by_side(real, panels, path):
    """One picture: a row of real digits, then a row of each model's samples."""
    from .viz import save_image_grid

    rows = [real] + [images for _, images in panels]
    save_image_grid(np.concatenate(rows), path, nrow=len(real))


def run_demo(out_dir="runs/demo", seed=0, quick=False, say=print):
    """Run the demo; return the metrics dictionary written to ``out_dir/metrics.json``."""
    start = time.perf_counter()
    plan = _QUICK if quick else _FULL
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train, test = load_train_test(plan["dataset"])
    say(f"{plan['dataset']}: {len(train[0])} training and {len(test[0])} held-out digits of "
        f"shape {train[0].shape[1:]}")

    metrics = {"seed": seed, "dataset": plan["dataset"], "n_train": len(train[0]),
               "n_test": len(test[0])}
    models = {}
    for name in ("dcgan", "vae"):
        models[name], metrics[name] = _train(name, plan[name], train, out_dir, seed, say)

    say("\n== judging the samples ==")
    judge = train_judge(train, test, seed)
    say(f"judge classifier: {judge[1]:.1%} accuracy on the held-out digits")
    panels = []
    for name, model in models.items():
        quality = quality_metrics(model, train, test, seed=seed, judge=judge)
        metrics[name]["quality"] = quality
        line = (f"{name}: Frechet distance {quality['frechet_distance']:.1f} "
                f"(real digits: {quality['real_frechet_distance']:.1f}), "
                f"{quality['classes_recognized']}/10 classes")
        if name == "vae":
            nll = model.evaluate(test[0], test[1], stream(seed, "evaluation"))
            metrics[name].update(nll)
            line += (f"; held-out -ELBO {nll['test_neg_elbo']:.1f} nats, "
                     f"-log p(x) <= {nll['test_nll_iwae']:.1f} nats (importance-weighted)")
        say(line)
        panels.append((name, model.sample(16, stream(seed, "pictures"))))

    from .gp.demo import run_gp_demo

    say("\n== Gaussian processes: scikit-learn's diabetes data ==")
    (out_dir / "gp").mkdir(exist_ok=True)
    metrics["gaussian_process"] = run_gp_demo(out_dir / "gp", seed=seed, say=say)

    metrics["seconds"] = time.perf_counter() - start
    write_metrics(out_dir / "metrics.json", metrics)
    try:
        _side_by_side(test[0][:16], panels, out_dir / "samples.png")
        pictures = f"{out_dir / 'samples.png'} (real digits, then DCGAN, then VAE samples), "
    except ImportError as err:
        pictures = f"no pictures ({err}); "
    say(f"\nwrote {pictures}{out_dir / 'metrics.json'}, and per model "
        f"{out_dir / 'dcgan'}/ and {out_dir / 'vae'}/ (sample grids per epoch, "
        f"loss_curves.png, losses.csv, checkpoints); {metrics['seconds']:.0f} s in all")
    return metrics
