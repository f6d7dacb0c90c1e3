"""The ``scratchgen`` command line.

    scratchgen demo [--out runs/demo]          the main job: a GAN, a VAE and a GP on real data
    scratchgen train MODEL --out DIR [...]     train a GAN, VAE or GSN on digits
    scratchgen sample --checkpoint CKPT --out grid.png|samples.npy
    scratchgen export --checkpoint CKPT --out model.safetensors
    scratchgen gp fit --csv FILE --out DIR     fit a GP to columns of a CSV file
    scratchgen config                          versions, backend, kernels, BLAS, switches
"""

import argparse
import sys

from .._version import __version__
from ..train.trainer import TrainingDiverged


def _config(args):
    from .._config import show_config

    show_config()
    return 0


def _demo(args):
    from ..demo import run_demo

    run_demo(args.out, seed=args.seed, quick=args.quick)
    return 0


def _gp_fit(args):
    from ..gp.command import fit_csv

    metrics = fit_csv(args.csv, args.out, kernel=args.kernel, x_cols=args.x_cols,
                      y_col=args.y_col, n_restarts=args.restarts,
                      normalize_y=not args.no_normalize_y, seed=args.seed,
                      verbose=sys.stderr.isatty())     # the bar goes to stderr, as tqdm's
    print(f"fitted kernel: {metrics['fitted_kernel']}")
    print(f"log marginal likelihood: {metrics['log_marginal_likelihood']:.4f}")
    print(f"training RMSE: {metrics['train_rmse']:.4g}; reports written to {args.out}")
    return 0


def build_parser():
    """Return the argument parser of the ``scratchgen`` command."""
    parser = argparse.ArgumentParser(
        prog="scratchgen",
        description="Generative models built from scratch on NumPy and Cython.",
    )
    parser.add_argument("--version", action="version", version=f"scratchgen {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    config = commands.add_parser(
        "config", help="show versions, backend, compiled kernels, BLAS and switches",
        description="Print how this scratchgen installation was built and is configured.",
    )
    config.set_defaults(run=_config)

    demo = commands.add_parser(
        "demo", help="the main job: a DCGAN and a VAE on the bundled MNIST digits, and GPs",
        description="Train a DCGAN and a VAE on the MNIST digits that ship with scratchgen, "
                    "score their samples, fit Gaussian processes to scikit-learn's diabetes "
                    "data; write sample grids, loss curves and metrics.json.",
    )
    demo.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--quick", action="store_true",
                      help="a tiny version on the 8x8 digits, in seconds (for tests)")
    demo.set_defaults(run=_demo)

    from .models import add_model_commands

    add_model_commands(commands)

    gp = commands.add_parser("gp", help="Gaussian-process tools")
    gp_commands = gp.add_subparsers(dest="gp_command", required=True, metavar="COMMAND")
    fit = gp_commands.add_parser(
        "fit", help="fit a GP regressor to a CSV file",
        description="Fit a GP by maximizing the log marginal likelihood; write the fitted "
                    "hyperparameters (JSON), metrics and, for one input column, a plot.",
    )
    fit.add_argument("--csv", required=True, help="CSV file with a header row")
    fit.add_argument("--x-cols", nargs="+", help="input columns (default: all but the target)")
    fit.add_argument("--y-col", help="target column (default: the last)")
    fit.add_argument("--kernel", default="constant * rbf + white",
                     help='kernel expression, e.g. "rbf + white" or "constant * matern52 + white"')
    fit.add_argument("--out", required=True, help="output folder")
    fit.add_argument("--restarts", type=int, default=2, help="optimizer restarts (default 2)")
    fit.add_argument("--no-normalize-y", action="store_true",
                     help="do not standardize the target before fitting")
    fit.add_argument("--seed", type=int, default=0)
    fit.set_defaults(run=_gp_fit)
    return parser


def main(argv=None):
    """Run the ``scratchgen`` command.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name; `sys.argv[1:]` by default.

    Returns
    -------
    int
        The exit status. ``--version``, ``--help`` and bad arguments exit through
        `SystemExit`, as argparse does.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError, ImportError, TrainingDiverged) as err:
        # A user's mistake (bad CSV, missing file, corrupt checkpoint, missing extra) or a
        # diverged run: one clear line, no traceback; the files already written stay.
        message = str(err)
        if message.startswith(f"{args.command}: "):          # the function named the command
            message = message[len(args.command) + 2:]
        print(f"scratchgen {args.command}: error: {message}", file=sys.stderr)
        return 1
