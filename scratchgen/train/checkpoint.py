"""Model checkpoints: everything needed to sample from a model or resume its training.

A checkpoint is a ``scratchgen.save`` file (atomic, checksummed, never pickled) holding

    format, version        "scratchgen-model", 1
    kind, config           the model's name and ``model.config()``: enough to rebuild it
    model                  its state dict
    optimizers             {name: optimizer state dict}
    epoch, step            epochs and steps completed
    seed, batch_size       the run's settings, so that a resumed run draws the same batches
    dataset                the data set's name and folder (None for the bundled one)
    train_seconds          time spent in training steps so far
"""
from pathlib import Path

from ..models import MODELS, build_model
from ..serialization import load, save

__all__ = ["CheckpointError", "load_checkpoint", "model_from_checkpoint", "save_checkpoint"]

FORMAT = "scratchgen-model"
VERSION = 1
_REQUIRED = ("kind", "config", "model", "optimizers", "epoch", "step", "seed", "batch_size")


class CheckpointError(ValueError):
    """A file that is not a model checkpoint, or a checkpoint of the wrong kind."""


def save_checkpoint(path, model, optimizers, *, epoch, step, seed, batch_size, dataset=None,
                    train_seconds=0.0):
    """Write a checkpoint of ``model`` and its ``optimizers`` to ``path`` (atomically)."""
    save({
        "format": FORMAT, "version": VERSION, "kind": model.kind, "config": model.config(),
        "model": model.state_dict(),
        "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
        "epoch": int(epoch), "step": int(step), "seed": int(seed),
        "batch_size": int(batch_size), "dataset": dataset,
        "train_seconds": float(train_seconds),
    }, path)
    return Path(path)


def load_checkpoint(path, kind=None):
    """Read and check a checkpoint; return its dictionary.

    Parameters
    ----------
    path : str or os.PathLike
    kind : str, optional
        The model the caller expects ("dcgan", ...); another kind raises CheckpointError.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CheckpointError
        If the file is truncated or altered, not a model checkpoint, of a newer version, or of
        another kind of model.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_checkpoint: no checkpoint at {path}")
    try:
        ckpt = load(path)
    except ValueError as err:       # truncated, altered or not a scratchgen file
        raise CheckpointError(f"load_checkpoint: {path} is not a readable checkpoint: {err}"
                              ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"load_checkpoint: {path} is a scratchgen file but not a model "
                              "checkpoint (written by `scratchgen train`)")
    if ckpt.get("version") != VERSION:
        raise CheckpointError(f"load_checkpoint: {path} has checkpoint version "
                              f"{ckpt.get('version')}; this scratchgen reads version {VERSION}")
    missing = [key for key in _REQUIRED if key not in ckpt]
    if missing:
        raise CheckpointError(f"load_checkpoint: {path} lacks {', '.join(missing)}")
    if ckpt["kind"] not in MODELS:
        raise CheckpointError(f"load_checkpoint: {path} holds an unknown model "
                              f"{ckpt['kind']!r}; known: {', '.join(MODELS)}")
    if kind is not None and ckpt["kind"] != kind:
        raise CheckpointError(f"load_checkpoint: {path} holds a {ckpt['kind']!r} model, not "
                              f"{kind!r}")
    return ckpt


def model_from_checkpoint(ckpt):
    """Rebuild the model a checkpoint dictionary describes and load its weights."""
    try:
        model = build_model(ckpt["kind"], **ckpt["config"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"model_from_checkpoint: the checkpoint's configuration does not "
                              f"build a {ckpt['kind']!r} model: {err}") from None
    try:
        model.load_state_dict(ckpt["model"])
    except (KeyError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"model_from_checkpoint: the weights do not fit a "
                              f"{ckpt['kind']!r} model of this configuration: {err}") from None
    return model
