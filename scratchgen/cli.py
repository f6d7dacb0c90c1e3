"""The ``scratchgen`` command line: ``scratchgen config``, ``scratchgen --version``."""

import argparse

from ._version import __version__


def _config(args):
    from ._config import show_config

    show_config()
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
    return args.run(args)
