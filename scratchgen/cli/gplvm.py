"""``scratchgen train gplvm|bgplvm``: fit a GP latent variable model to images.

The GP-LVMs are fitted on all rows at once by L-BFGS-B (``bgplvm --batch-size B`` instead takes
``--iters`` mini-batch steps of stochastic variational inference), not in epochs, so
this path replaces the trainer but writes what a trained model's folder holds: ``losses.csv``
(the objective after each iteration), ``loss_curves.png``, ``samples.png``, ``last.sgz`` (a
model checkpoint that ``scratchgen sample`` reads), ``latent.png`` (the latent points coloured
by label over images decoded on a grid), ``latent_grid.png``, ``ard.png`` (the relevance of
each latent dimension) and ``metrics.json`` with the same quality report as the neural models.
"""
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from ..data.datasets import load_train_test
from ..models import MODELS
from ..train import save_checkpoint, stream, write_metrics
from ..train.quality import quality_metrics
from ..train.records import LossLog

__all__ = ["run_train_gp"]

#: Rows the exact GP-LVM fits by default: one evaluation factors an n x n matrix.
GPLVM_MAX_ROWS = 2000
DEFAULT_ITERS = 500


def run_train_gp(args):
    """Fit ``args.model`` ("gplvm" or "bgplvm"); write the run's files; return 0."""
    stochastic = args.model == "bgplvm" and args.batch_size is not None
    for flag, value in (("--resume", args.resume), ("--epochs", args.epochs),
                        ("--batch-size", None if args.model == "bgplvm" else args.batch_size),
                        ("--lr", None if stochastic else args.lr)):
        if value is not None:
            raise ValueError(f"train: {args.model} has no {flag}: it is fitted in one run by "
                             f"L-BFGS-B (set --iters, --inducing, --max-rows, --latent-dim"
                             f"{'; bgplvm also --batch-size and --lr' if args.model == 'bgplvm' else ''})")
    if args.inducing is not None and args.model != "bgplvm":
        raise ValueError(f"train: {args.model} has no --inducing (only bgplvm is sparse)")
    out = Path(args.out)
    if (out / "last.sgz").exists():
        raise FileExistsError(f"train: {out} already holds a run (last.sgz); train into "
                              f"another folder")
    (x_train, y_train), (x_test, y_test) = load_train_test(args.dataset, args.data)
    dataset = {"name": args.dataset, "folder": args.data, "n_train": len(x_train),
               "n_test": len(x_test)}
    seed = args.seed or 0
    options = {"latent_dim": args.latent_dim or 2, "max_iter": args.iters or DEFAULT_ITERS,
               "seed": seed,
               "max_rows": args.max_rows or (GPLVM_MAX_ROWS if args.model == "gplvm" else None)}
    if args.inducing is not None:
        options["n_inducing"] = args.inducing
    if stochastic:
        options["batch_size"] = args.batch_size
        if args.lr is not None:
            options["learning_rate"] = args.lr
    model = MODELS[args.model](x_train.shape[1:], **options)
    show = sys.stderr.isatty() if args.progress is None else args.progress
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    labels = model.fit(x_train, y_train, verbose=show)
    seconds = time.perf_counter() - start
    history = model.estimator.history_
    print(f"fitted {args.model} on {len(labels)} images in {seconds:.1f} s "
          f"({len(history)} iterations); objective {model.objective():.6g} nats")

    log = LossLog(out / "losses.csv", ("objective",))
    log.start()
    log.append({"epoch": 0, "step": i + 1, "objective": value} for i, value in
               enumerate(history))
    save_checkpoint(out / "last.sgz", model, {}, epoch=1, step=len(history), seed=seed,
                    batch_size=len(labels), dataset=dataset, train_seconds=seconds)
    hyperparameters = {k: v for k, v in model.config().items() if k != "fitted"}
    metrics = {"model": args.model, "dataset": dataset, "seed": seed, "fit_seconds": seconds,
               "iterations": len(history), "rows_fitted": len(labels),
               "hyperparameters": hyperparameters}
    write_metrics(out / "metrics.json", metrics)
    metrics.update(model.evaluate(x_test, y_test, stream(seed, "evaluation")))
    if args.model == "bgplvm":
        metrics["ard_weights"] = model.relevance().tolist()
        metrics["active_dims"] = model.estimator.active_dims_.tolist()
    _write_pictures(model, labels, history, out, seed)
    if not args.no_quality:
        metrics["quality"] = quality_metrics(model, (x_train, y_train), (x_test, y_test),
                                             seed=seed)
    write_metrics(out / "metrics.json", metrics)
    print(f"wrote {out / 'losses.csv'}, samples.png, latent.png, the checkpoint "
          f"{out / 'last.sgz'} and {out / 'metrics.json'}")
    return 0


def _write_pictures(model, labels, history, out, seed):
    """Samples, the latent plane, the ARD weights and the objective curve."""
    try:
        from ..viz import (save_ard_weights, save_image_grid, save_latent_picture,
                           save_loss_curves)

        save_image_grid(model.sample(64, stream(seed, "grid")), out / "samples.png")
        for stem, (images, nrow) in model.pictures(None, None, None).items():
            save_image_grid(images, out / f"{stem}.png", nrow=nrow)
        size = 12
        grid = model.latent_grid(size)
        dims = model.plane()
        if dims.size > 1:
            x_cols = grid[:size, dims[0]]
            y_rows = grid[::size, dims[1]]
            step_x, step_y = np.diff(x_cols[:2])[0] / 2, np.diff(y_rows[:2])[0] / 2
            extent = (x_cols[0] - step_x, x_cols[-1] + step_x,
                      y_rows[-1] + step_y, y_rows[0] - step_y)
            save_latent_picture(model.latent_means, labels, model.decode_images(grid), extent,
                                out / "latent.png", dims=tuple(int(d) for d in dims),
                                title=f"{model.kind}: latent means and decoded images")
        save_ard_weights(model.relevance(), out / "ard.png",
                         title=f"{model.kind}: relevance of each latent dimension")
        # the first iterations climb from far below: show the curve from its tenth iterate
        start = min(9, max(len(history) - 2, 0))
        save_loss_curves({"objective": (np.arange(start + 1, len(history) + 1),
                                        history[start:])},
                         out / "loss_curves.png", title=f"{model.kind}: the objective",
                         smooth=1, xlabel="L-BFGS-B iteration", ylabel="nats")
    except ImportError as err:
        warnings.warn(f"no pictures: {err}", stacklevel=2)
