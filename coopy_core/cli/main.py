"""`coopy`: the headless command line, made from the table of verbs (verbs.py): the local verbs (run, status,
validate, init, export, ...) and one verb per engine command of `coopy_core.commands.COMMANDS`."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys

from coopy_core.cli.common import EXIT_INTERRUPTED, EXIT_USAGE
from coopy_core.cli.verbs import VERBS
from coopy_core.errors import CoopyError


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("coopy")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _parser(prog: str = "coopy") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Run chains of operations over many configurations: a queue and a worker cap per stage.",
        epilog="`coopy COMMAND --help` says more about each command; coopy-tui CONFIG watches and steers.",
    )
    p.add_argument("--version", action="version", version=f"coopy {version()}", help="print the version")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for verb in VERBS.values():
        # a subcommand whose --help opens with its one-line description
        verb.arguments(
            sub.add_parser(
                verb.name,
                help=verb.help,
                description=verb.help[0].upper() + verb.help[1:] + ".",
                epilog=verb.readme[0].upper() + verb.readme[1:] + "." if verb.readme else None,
            )
        )
    return p


def main(argv: list[str] | None = None, prog: str = "coopy") -> int:
    args = _parser(prog).parse_args(_sort_values(sys.argv[1:] if argv is None else argv))
    try:
        return VERBS[args.command].run(args)
    except CoopyError as exc:
        print(f"coopy: {exc}", file=sys.stderr)
        return exc.exit_code
    except sqlite3.Error as exc:
        from coopy_core.state.store import store_problem

        print(f"coopy: {store_problem(None, exc, 'read')}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `coopy status | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _sort_values(argv: list[str]) -> list[str]:
    """`--sort -accuracy` means descending, not an unknown option: argparse is told `--sort=-accuracy`."""
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--sort":
            value = next(it, None)
            out.append(arg if value is None else f"--sort={value}")
        else:
            out.append(arg)
    return out


if __name__ == "__main__":  # `python -m coopy_core.cli.main`: the same entry as the `coopy` command
    from coopy_core.cli.fast_exit import exit_now
    from coopy_core.cli.guard import guarded

    exit_now(guarded("coopy", lambda: lambda: main(prog="coopy")))
