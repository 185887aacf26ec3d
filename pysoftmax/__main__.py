"""Command line: ``python -m pysoftmax demo``, ``python -m pysoftmax config``,
``python -m pysoftmax bench`` and ``python -m pysoftmax --version``."""

from __future__ import annotations

import argparse
import sys

import pysoftmax
from pysoftmax import _demo
from pysoftmax.bench import cli


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pysoftmax", description=__doc__)
    parser.add_argument("--version", action="version", version=f"pysoftmax {pysoftmax.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _demo.add_parser(sub)
    c = sub.add_parser("config", help="print the build and runtime configuration")
    c.set_defaults(func=lambda args: pysoftmax.show_config() or 0)
    cli.add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
