"""``scratchgen train``, ``scratchgen sample`` and ``scratchgen export``: the generative models
on the command line. Each handler parses nothing itself: it turns the parsed arguments into
calls of ``scratchgen.train`` and ``scratchgen.models``.
"""
import argparse
import contextlib
import inspect
import json
import warnings
from pathlib import Path

import numpy as np

from ..data.datasets import DATASETS, load_train_test
from ..models import GP_MODELS, IMAGE_MODELS, MODELS, build_model
from ..serialization import write_atomically
from ..train import (
    Trainer,
    TrainingDiverged,
    load_checkpoint,
    model_from_checkpoint,
    stream,
    write_metrics,
)
from ..train.quality import quality_metrics

__all__ = ["add_model_commands"]


def add_model_commands(commands):
    """Add the ``train``, ``sample`` and ``export`` sub-commands to ``commands``."""
    train = commands.add_parser(
        "train", help="train a generative model on images",
        description="Train a GAN, VAE or GSN (write losses.csv, a sample grid and a checkpoint "
                    "per epoch, loss_curves.png and metrics.json to --out), or fit a GP-LVM "
                    "(gplvm, bgplvm: the same files, with one checkpoint and the latent "
                    "picture).",
    )
    # The model is checked in run_train, so that a wrong name is one line, not a usage block.
    train.add_argument("model", metavar="MODEL", help=f"one of: {', '.join(IMAGE_MODELS)}")
    train.add_argument("--dataset", choices=DATASETS, default="mnist",
                       help="mnist (default; the bundled 10,000 digits split 8,000 / 2,000 "
                            "unless --data), fashion-mnist or digits (scikit-learn's 8x8)")
    train.add_argument("--data", metavar="DIR",
                       help="folder with the train-* and t10k-* IDX files (full data set)")
    train.add_argument("--epochs", type=int, help="passes over the data (default 5)")
    train.add_argument("--batch-size", type=int,
                       help="images per step (default: the model's; bgplvm: mini-batch "
                            "stochastic variational inference, see --iters)")
    train.add_argument("--lr", type=float, help="learning rate (default: the model's)")
    train.add_argument("--latent-dim", type=int, help="size of z (default: the model's)")
    train.add_argument("--iters", type=int,
                       help="L-BFGS-B iterations of gplvm and bgplvm, or bgplvm's mini-batch "
                            "steps with --batch-size (default 500)")
    train.add_argument("--inducing", type=int, help="inducing points of bgplvm (default 50)")
    train.add_argument("--max-rows", type=int,
                       help="fit gplvm or bgplvm on a random subset of this many images "
                            "(default: 2000 for gplvm, all for bgplvm)")
    train.add_argument("--seed", type=int, help="seed of the weights, batches and noise "
                                                "(default 0)")
    train.add_argument("--out", required=True, metavar="DIR", help="output folder")
    train.add_argument("--resume", metavar="CKPT", help="continue from this checkpoint")
    train.add_argument("--backend", choices=("numpy", "cython"),
                       help="kernels to run on (default: cython when built)")
    train.add_argument("--no-quality", action="store_true",
                       help="skip the sample-quality metrics (a judge classifier is trained)")
    train.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="show a progress bar (default: only on a terminal)")
    train.set_defaults(run=run_train)

    sample = commands.add_parser(
        "sample", help="draw samples from a trained model",
        description="Write a grid of samples (.png) or the raw samples (.npy: float32 "
                    "(n, C, H, W) in [0, 1]).",
    )
    sample.add_argument("--checkpoint", required=True, metavar="CKPT")
    sample.add_argument("--n", type=int, default=64, help="how many samples (default 64)")
    sample.add_argument("--label", type=int, help="the class to draw (conditional models)")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", required=True, help="grid.png or samples.npy")
    sample.set_defaults(run=run_sample)

    export = commands.add_parser(
        "export", help="write a model's weights under PyTorch's names (safetensors)",
        description="Write the generator's (a GAN's) or the model's weights as a .safetensors "
                    "file that torch's same architecture loads with load_state_dict.",
    )
    export.add_argument("--checkpoint", required=True, metavar="CKPT")
    export.add_argument("--out", required=True, help="model.safetensors")
    export.set_defaults(run=run_export)


def _backend(name):
    if name is None:
        return contextlib.nullcontext()
    from .. import backend

    return backend.use(name)


def run_train(args):
    """Train ``args.model``; write the run's files; return the exit status."""
    if args.model not in IMAGE_MODELS:
        raise ValueError(f"train: unknown model {args.model!r}; choose one of "
                         f"{', '.join(IMAGE_MODELS)}")
    if args.model in GP_MODELS:
        from .gplvm import run_train_gp

        return run_train_gp(args)
    for flag, value in (("--iters", args.iters), ("--inducing", args.inducing),
                        ("--max-rows", args.max_rows)):
        if value is not None:
            raise ValueError(f"train: {args.model} has no {flag} (an option of gplvm and "
                             f"bgplvm)")
    if args.epochs is None:
        args.epochs = 5
    out = Path(args.out)
    with _backend(args.backend):
        (x_train, y_train), (x_test, y_test) = load_train_test(args.dataset, args.data)
        dataset = {"name": args.dataset, "folder": args.data, "n_train": len(x_train),
                   "n_test": len(x_test)}
        if args.resume:
            ckpt = load_checkpoint(args.resume, kind=args.model)
            _check_resume(args, ckpt, dataset)
            model = model_from_checkpoint(ckpt)
            _carry_losses(Path(args.resume).parent, out)
        else:
            model = _new_model(args, x_train.shape[1:], int(y_train.max()) + 1)
        batch_size = model.default_batch_size if args.batch_size is None else args.batch_size
        trainer = Trainer(model, (x_train, y_train), out, args.epochs, batch_size,
                          seed=args.seed or 0, dataset=dataset, show_progress=args.progress)
        if args.resume:
            trainer.resume_from(ckpt)
            print(f"resuming {args.model} from {args.resume} (epoch {trainer.epoch}, "
                  f"step {trainer.step})")
        try:
            summary = trainer.fit()
        except TrainingDiverged as err:
            raise TrainingDiverged(f"{err}. Try a lower --lr.") from None
        metrics = {"model": args.model, "dataset": dataset, **summary,
                   "batch_size": trainer.batch_size, "seed": trainer.seed,
                   "hyperparameters": model.config()}
        # Written now and again below, so that a failure while scoring loses no summary.
        write_metrics(out / "metrics.json", metrics)
        metrics.update(model.evaluate(x_test, y_test, stream(trainer.seed, "evaluation")))
        _write_pictures(model, x_test, y_test, stream(trainer.seed, "pictures"), out)
        if not args.no_quality:
            metrics["quality"] = quality_metrics(model, (x_train, y_train), (x_test, y_test),
                                                 seed=trainer.seed)
    write_metrics(out / "metrics.json", metrics)
    print(f"wrote {out / 'losses.csv'}, the sample grids, checkpoints (last: "
          f"{out / 'last.sgz'}) and {out / 'metrics.json'}")
    return 0


def _new_model(args, image_shape, n_classes):
    """Build ``args.model`` with the options the user gave; the model's defaults otherwise."""
    cls = MODELS[args.model]
    options = {"seed": args.seed or 0}
    for name, value in (("lr", args.lr), ("latent_dim", args.latent_dim)):
        if value is not None:
            if not _accepts(cls, name):
                raise ValueError(f"train: {args.model} has no --{name.replace('_', '-')}")
            options[name] = value
    return build_model(args.model, image_shape=image_shape,
                       n_classes=n_classes if cls.conditional else None, **options)


def _accepts(cls, name):
    """Whether ``cls(...)`` takes the keyword ``name``, following ``**options`` to the
    parent classes that receive them."""
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = inspect.signature(klass.__init__).parameters
        if name in parameters:
            return True
        if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            return False
    return False


def _check_resume(args, ckpt, dataset):
    """A resumed run continues the same run: refuse options that would change it."""
    config = ckpt["config"]
    for flag, given, saved in (("--lr", args.lr, config.get("lr", config.get("lr_g"))),
                               ("--latent-dim", args.latent_dim, config.get("latent_dim")),
                               ("--batch-size", args.batch_size, ckpt["batch_size"]),
                               ("--seed", args.seed, ckpt["seed"])):
        if given is not None and given != saved:
            raise ValueError(f"train: {flag} {given} differs from the checkpoint's {saved}; "
                             "a resumed run keeps its settings (leave the option out)")
    saved = ckpt.get("dataset") or {}
    if any(key in saved and saved[key] != dataset[key] for key in ("name", "folder", "n_train")):
        raise ValueError(f"train: the checkpoint was trained on {_describe(saved)}, not on "
                         f"{_describe(dataset)}; resume with the same --dataset and --data")


def _describe(dataset):
    folder = dataset.get("folder") or "the default files"
    return f"{dataset.get('name')} ({folder}, {dataset.get('n_train')} training images)"


def _carry_losses(source, out):
    """Resuming into a new folder: start its losses.csv from the original run's rows."""
    if source.resolve() != out.resolve() and (source / "losses.csv").is_file() \
            and not (out / "losses.csv").exists():
        out.mkdir(parents=True, exist_ok=True)
        data = (source / "losses.csv").read_bytes()
        write_atomically(out / "losses.csv", lambda f: f.write(data))


def _write_pictures(model, x, y, rng, out):
    """The model's own pictures (reconstructions, latent plane, chain), if it has any."""
    try:
        from ..viz import save_image_grid

        for stem, (images, nrow) in model.pictures(x, y, rng).items():
            save_image_grid(images, out / f"{stem}.png", nrow=nrow)
    except ImportError as err:
        warnings.warn(f"no pictures: {err}", stacklevel=2)


def run_sample(args):
    """Draw ``args.n`` samples from a checkpoint into a PNG grid or an .npy array."""
    out = Path(args.out)
    if out.suffix not in (".png", ".npy"):
        raise ValueError(f"sample: --out must end in .png (a grid) or .npy (the samples), "
                         f"got {out.name!r}")
    if args.n < 1:
        raise ValueError(f"sample: --n must be at least 1, got {args.n}")
    model = model_from_checkpoint(load_checkpoint(args.checkpoint))
    if args.label is not None and not model.conditional:
        raise ValueError(f"sample: --label needs a conditional model; {args.checkpoint} holds "
                         f"a {model.kind!r} model")
    images = model.sample(args.n, np.random.default_rng(args.seed), labels=args.label)
    if out.suffix == ".npy":
        write_atomically(out, lambda f: np.save(f, images, allow_pickle=False))
    else:
        from ..viz import save_image_grid

        save_image_grid(images, out)
    print(f"wrote {args.n} samples of shape {images.shape[1:]} to {out}")
    return 0


def run_export(args):
    """Write the exported network's state dict as safetensors, with the model's config."""
    try:
        from safetensors.numpy import save as safetensors_bytes
    except ImportError:
        raise ImportError("export needs the safetensors package: pip install "
                          "'scratchgen[export]'") from None
    ckpt = load_checkpoint(args.checkpoint)
    model = model_from_checkpoint(ckpt)
    tensors = {name: np.ascontiguousarray(value)
               for name, value in model.export_network().state_dict().items()}
    metadata = {"format": "scratchgen-export", "kind": model.kind,
                "config": json.dumps(model.config())}
    data = safetensors_bytes(tensors, metadata=metadata)
    write_atomically(Path(args.out), lambda f: f.write(data))
    print(f"wrote {len(tensors)} tensors of the {model.kind} "
          f"{type(model.export_network()).__name__} to {args.out}")
    return 0
