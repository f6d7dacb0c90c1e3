"""The training loop, written once for every generative model.

    for epoch in epochs:
        for x, y in shuffled mini-batches:
            losses = model.training_step(x, y, optimizers, rng, step)    # the model's update
        print the epoch's mean losses; write a sample grid from fixed noise; checkpoint

What a run writes under its folder: ``losses.csv`` (a row per step), ``samples_epoch_NNN.png``
(the same noise every epoch, so the grids show the model learning), ``checkpoint_epoch_NNN.sgz``
and ``last.sgz``, and at the end ``loss_curves.png`` and ``metrics.json``.

Every random draw of epoch e comes from ``numpy.random.default_rng([seed, e])``: the order of
the batches and the model's noise. A run resumed from the checkpoint of epoch e therefore
repeats the uninterrupted run exactly (on the NumPy backend, bit for bit).
"""
import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from ..progress import progress_bar
from ..serialization import write_atomically
from .checkpoint import save_checkpoint
from .records import LossLog

__all__ = ["STREAMS", "Trainer", "TrainingDiverged", "stream", "write_metrics"]

#: The random streams of a run besides the epochs' ([seed, epoch]): each its own second key,
#: far above any epoch number, so that no two draw the same numbers.
STREAMS = {"grid": 2**32 - 1, "evaluation": 2**32 - 2, "judge": 2**32 - 3,
           "quality": 2**32 - 4, "pictures": 2**32 - 5}


def stream(seed, name):
    """The generator of the run's stream ``name`` (a key of ``STREAMS``)."""
    return np.random.default_rng([seed, STREAMS[name]])


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message names the step and the last checkpoint."""


class Trainer:
    """Train a ``GenerativeModel`` on images, writing losses, grids and checkpoints.

    Parameters
    ----------
    model : GenerativeModel
    train_data : tuple of numpy.ndarray
        ``(images, labels)``: float32 (N, C, H, W) in [0, 1] and int64 (N,).
    out_dir : str or os.PathLike
        Where the run's files go (created if missing).
    epochs : int
        Total epochs; a resumed run continues up to this number.
    batch_size : int
        Images per step; the last incomplete batch of an epoch is skipped.
    seed : int
        Seed of the batches' order and the model's noise.
    dataset : dict, optional
        Description stored in checkpoints and metrics (name, folder).
    grid_size : int
        Images in each epoch's sample grid.
    show_progress : bool or None
        tqdm bar with live losses; None shows it only on a terminal.
    say : callable
        Where the per-epoch lines go (``print``).
    """

    def __init__(self, model, train_data, out_dir, epochs, batch_size=64, seed=0, dataset=None,
                 grid_size=64, show_progress=None, say=print):
        images, labels = train_data
        if images.ndim != 1 + len(model.image_shape) or images.shape[1:] != model.image_shape:
            raise ValueError(f"Trainer: the model takes samples of shape {model.image_shape} "
                             f"but the data has shape {images.shape[1:]}")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"Trainer: epochs must be a positive int, got {epochs!r}")
        if not 1 <= batch_size <= len(images):
            raise ValueError(f"Trainer: batch_size must be in [1, {len(images)}] (the number "
                             f"of training images), got {batch_size}")
        self.model, self.images, self.labels = model, images, labels
        self.out_dir = Path(out_dir)
        self.epochs, self.batch_size, self.seed = int(epochs), int(batch_size), int(seed)
        self.dataset, self.grid_size = dataset, grid_size
        self.show_progress, self.say = show_progress, say
        self.optimizers = model.configure_optimizers()
        self.log = LossLog(self.out_dir / "losses.csv", model.loss_names)
        self.epoch, self.step, self.train_seconds = 0, 0, 0.0
        self._pictures_ok = True

    @property
    def steps_per_epoch(self):
        return len(self.images) // self.batch_size

    def resume_from(self, ckpt):
        """Continue from a checkpoint dictionary (``load_checkpoint``): weights, optimizer
        state, epoch and step counters, and the seed and batch size of the original run."""
        self.model.load_state_dict(ckpt["model"])
        for name, state in ckpt["optimizers"].items():
            self.optimizers[name].load_state_dict(state)
        self.epoch, self.step = int(ckpt["epoch"]), int(ckpt["step"])
        self.seed, self.batch_size = int(ckpt["seed"]), int(ckpt["batch_size"])
        self.train_seconds = float(ckpt.get("train_seconds", 0.0))
        return self

    def fit(self):
        """Train up to ``epochs``; return the run's summary (also in the checkpoints).

        A fresh run (not resumed) refuses a folder that already holds a run's ``last.sgz``:
        its checkpoints and losses would mix with the new run's.
        """
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.step == 0 and (self.out_dir / "last.sgz").exists():
            raise FileExistsError(f"Trainer.fit: {self.out_dir} already holds a run "
                                  f"(last.sgz); resume it, or train into another folder")
        self.log.start(keep_steps=self.step)
        if self.epoch >= self.epochs:
            self.say(f"already trained for {self.epoch} epochs (asked for {self.epochs})")
        while self.epoch < self.epochs:
            means = self._run_epoch(self.epoch)
            self.epoch += 1
            shown = ", ".join(f"{name}: {value:.3f}" for name, value in means.items())
            self.say(f"epoch {self.epoch}/{self.epochs} [{shown}]")
            self._write_grid()
            self._write_checkpoint()
        self._write_curves()
        return {"epochs": self.epoch, "steps": self.step,
                "seconds_per_step": self.train_seconds / max(self.step, 1)}

    def _run_epoch(self, epoch):
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.images))
        totals = {name: [] for name in self.model.loss_names}
        rows = []
        self.model.train()
        # By default the bar shows only on a terminal: logs and pipes get the epoch lines.
        show = sys.stderr.isatty() if self.show_progress is None else self.show_progress
        bar = progress_bar(self.steps_per_epoch, f"epoch {epoch + 1}/{self.epochs}", show,
                           leave=False, dynamic_ncols=True)
        try:
            for b in range(self.steps_per_epoch):
                rows_b = order[b * self.batch_size:(b + 1) * self.batch_size]
                start = time.perf_counter()
                losses = self.model.training_step(self.images[rows_b], self.labels[rows_b],
                                                  self.optimizers, rng, self.step)
                self.train_seconds += time.perf_counter() - start
                self._check_finite(losses, epoch)
                rows.append({"epoch": epoch + 1, "step": self.step, **losses})
                for name, value in losses.items():
                    totals[name].append(value)
                self.step += 1
                bar.update()
                bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)
        finally:
            bar.close()
            self.log.append(rows)
        return {name: float(np.mean(v)) for name, v in totals.items() if v}

    def _check_finite(self, losses, epoch):
        for name, value in losses.items():
            if not math.isfinite(value):
                last = self.out_dir / "last.sgz"
                kept = (f"the last good checkpoint is {last} (epoch {epoch})" if last.is_file()
                        else "no checkpoint was written yet")
                raise TrainingDiverged(f"Trainer.fit: the {name} became {value} at step "
                                       f"{self.step} (epoch {epoch + 1}); stopped, {kept}")

    def fixed_noise_samples(self):
        """The grid's samples: the same noise (and labels) every epoch."""
        return self.model.sample(self.grid_size, stream(self.seed, "grid"))

    def _write_grid(self):
        if not self._pictures_ok:
            return
        from ..viz import save_image_grid

        try:
            save_image_grid(self.fixed_noise_samples(),
                            self.out_dir / f"samples_epoch_{self.epoch:03d}.png")
        except ImportError as err:
            self._pictures_ok = False
            warnings.warn(f"no sample grids: {err}", stacklevel=2)

    def _write_checkpoint(self):
        path = self.out_dir / f"checkpoint_epoch_{self.epoch:03d}.sgz"
        save_checkpoint(path, self.model, self.optimizers, epoch=self.epoch, step=self.step,
                        seed=self.seed, batch_size=self.batch_size, dataset=self.dataset,
                        train_seconds=self.train_seconds)
        # last.sgz is a second copy rather than a link: it survives copying the folder.
        write_atomically(self.out_dir / "last.sgz", lambda f: f.write(path.read_bytes()))

    def _write_curves(self):
        from ..viz import save_loss_curves

        try:
            save_loss_curves(self.log.curves(), self.out_dir / "loss_curves.png",
                             title=f"{self.model.kind}: training losses")
        except ImportError as err:
            warnings.warn(f"no loss-curve plot (losses.csv has the numbers): {err}",
                          stacklevel=2)


def _plain(value):
    """NumPy scalars and arrays as the Python numbers and lists JSON knows."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"write_metrics: cannot write a {type(value).__name__} as JSON")


def write_metrics(path, metrics):
    """Write ``metrics`` as indented JSON, atomically."""
    text = json.dumps(metrics, indent=2, default=_plain) + "\n"
    write_atomically(Path(path), lambda f: f.write(text.encode()))
