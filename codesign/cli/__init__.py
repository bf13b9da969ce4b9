"""The ``codesign`` command: every subcommand lives in this package.

evaluate and map (`codesign.cli.map`), sweep and pareto (`codesign.cli.sweep`),
export and verify (`codesign.cli.rtl`), import (`codesign.cli.onnx_import`).
Each module adds its subcommands through ``register(subparsers)``.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..errors import UserError

__all__ = ["main", "build_parser"]

#: modules adding subcommands through ``register(subparsers)``
COMMAND_MODULES = ("codesign.cli.map", "codesign.cli.sweep", "codesign.cli.rtl", "codesign.cli.onnx_import")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = argparse.ArgumentParser(prog="codesign", description="DNN accelerator hardware/software co-design.")
    sub = p.add_subparsers(dest="command", required=True)
    for mod in COMMAND_MODULES:
        importlib.import_module(mod).register(sub)
    return p


#: set (to anything) in a test's environment: SIGUSR1 prints every thread's stack to stderr
#: (`faulthandler`), so a test that gives up on a hung subprocess shows where it hung
HANG_DUMP_ENV = "CODESIGN_STACKS_ON_SIGUSR1"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``codesign`` console script."""
    if os.environ.get(HANG_DUMP_ENV):
        import faulthandler
        import signal
        faulthandler.register(signal.SIGUSR1, all_threads=True)     # a signal handler in C: no thread started
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
