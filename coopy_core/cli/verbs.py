"""The verbs of `coopy`, in one table: each a row with its one-line help, its arguments and its handler.

The local verbs (run, plan, status, ...) are written here, each a small handler. The verbs that steer a running
engine (pause, workers, add, stop, ...) are rows of `coopy_core.commands.COMMANDS`: `command_verb` makes
their verb from the row (its arguments, each argument's parse hook, the line printed when done), so a
command is defined once for the socket, the remote client and the command line.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from coopy_core.cli import follow, local
from coopy_core.cli.common import CONFIG_HELP, EXIT_OK, EXIT_USAGE
from coopy_core.commands import COMMANDS, Command
from coopy_core.config import Config
from coopy_core.loader import load_target

Handler = Callable[[argparse.Namespace], int]
Arguments = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Verb:
    name: str
    help: str  # one line: the subcommand's help, and (capitalised) the opening of its --help page
    arguments: Arguments  # adds its arguments to its parser
    run: Handler
    readme: str = ""  # what the README's table adds to the help


def _config(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", metavar="CONFIG", help=CONFIG_HELP)


def _run_args(p: argparse.ArgumentParser) -> None:
    _config(p)
    p.add_argument(
        "--stop-running",
        action="store_true",
        help="on Ctrl-C, stop running commands (default: leave them running; the next start adopts them)",
    )
    p.add_argument("--detach", action="store_true", help="run the engine in the background (attach with coopy-tui)")
    p.add_argument(
        "--take-over", action="store_true", help="make a state dir that belongs to another config this one's"
    )
    p.add_argument(
        "--until",
        metavar="STAGE",
        help="run only STAGE and the stages it needs; the others wait (said at the end)",
    )
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="run the failed and cancelled runs again too (plain `coopy run` leaves them failed)",
    )


def _json_args(p: argparse.ArgumentParser) -> None:
    _config(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _why_args(p: argparse.ArgumentParser) -> None:
    _config(p)
    p.add_argument("stage", help="the stage's name")
    p.add_argument("task", help="the run's name: a configuration's, or a group's (model=cnn, all)")


def _forget_args(p: argparse.ArgumentParser) -> None:
    _config(p)
    p.add_argument("--yes", action="store_true", help="do not ask")


def _validate_args(p: argparse.ArgumentParser) -> None:
    _config(p)
    p.add_argument(
        "--dump", action="store_true", help="print the normalized config as TOML (every key, defaults filled in)"
    )


def _init_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "path",
        nargs="?",
        default="coopy.toml",
        help="a directory (gets DIR/coopy.toml, made if missing) or a file ending in .toml; default ./coopy.toml",
    )


def _export_args(p: argparse.ArgumentParser) -> None:
    _config(p)
    p.add_argument("--format", choices=("csv", "json"), default="csv", help="csv (default) or json")
    p.add_argument("--output", "-o", help="write to this file instead of stdout")


def _table_args(p: argparse.ArgumentParser) -> None:
    """What `coopy results` and `coopy report` share: both read the store only."""
    _config(p)
    p.add_argument(
        "--group-by",
        action="append",
        default=[],
        metavar="PARAM[,PARAM]",
        help="aggregate the other params: mean ± std and n per metric",
    )
    p.add_argument("--sort", metavar="[-]NAME", help="a metric or param; -name sorts descending")
    p.add_argument("--stage", help="one row per run of this stage (per group for a stage over fewer params)")
    p.add_argument("--metrics", metavar="NAME[,NAME]", help="only these metrics, in this order")


def _results_args(p: argparse.ArgumentParser) -> None:
    _table_args(p)
    p.add_argument(
        "--format",
        choices=("table", "csv", "json", "markdown"),
        default="table",
        help="table (default), csv, json or markdown",
    )
    p.add_argument("--output", "-o", help="write to this file instead of stdout")


def _report_args(p: argparse.ArgumentParser) -> None:
    _table_args(p)
    p.add_argument("--output", "-o", default="report.html", help="the HTML file (default report.html)")
    p.add_argument("--best", type=int, default=10, metavar="N", help="metric curves of the best N runs")
    p.add_argument(
        "--watch",
        action="store_true",
        help="rewrite it while the pipeline runs (atomically; the page reloads itself)",
    )
    p.add_argument(
        "--interval",
        type=float,
        default=None,
        metavar="S",
        help="with --watch: seconds between rewrites (default: the poll_interval, at least 2)",
    )


def _log_args(p: argparse.ArgumentParser) -> None:
    _config(p)
    p.add_argument("run", metavar="RUN", help="STAGE/TASK as `coopy status` names it, or TASK (with --stage)")
    p.add_argument("--stage", help="the run's stage (needed when more than one stage ran a run of that name)")
    p.add_argument("--attempt", type=int, metavar="N", help="this attempt's log (default: the latest)")
    p.add_argument("--follow", "-f", action="store_true", help="go on printing what it writes until the attempt ends")


def _wait_args(p: argparse.ArgumentParser) -> None:
    _config(p)
    p.add_argument(
        "target", nargs="?", metavar="STAGE|RUN", help="a stage, or one run as STAGE/TASK (default: the pipeline)"
    )


def _gpus_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", metavar="CONFIG", nargs="?", help="also this pipeline's reservations: " + CONFIG_HELP)


def _gpus(args: argparse.Namespace) -> int:
    from coopy_core.cli.gpus import gpus  # NVML is loaded only by this verb

    return gpus(args)


LOCAL_VERBS: tuple[Verb, ...] = (
    Verb(
        "run",
        "run the pipeline until every configuration passed or failed for good",
        _run_args,
        local.run,
        "a live line per stage on a terminal, plain lines otherwise; failed runs stay failed unless "
        "`--retry-failed`; `--until STAGE` runs only STAGE and the stages it needs (the others wait, said at the "
        "end). Exit 0 all done (with `--until`: all it ran), 1 some failed, 2 config error, 130 on Ctrl-C",
    ),
    Verb(
        "plan",
        "what the next run would run, and why (starts nothing, writes nothing)",
        _json_args,
        local.plan,
        "grouped by why (see [Results you can trust](#results-you-can-trust))",
    ),
    Verb("why", "one line: why a run would run again at the next start, or why not", _why_args, local.why),
    Verb(
        "forget",
        "delete a pipeline's state dir (the record of every run), to start afresh",
        _forget_args,
        local.forget,
    ),
    Verb(
        "status",
        "show the state of a pipeline (starts nothing)",
        _json_args,
        local.status,
        "live from the engine when one runs, else from the state store; the summary names only the runs running, "
        "blocked, failed or cancelled, at most 10 of each per stage and `... and N more` (the engine sends no more, "
        "and the file's configurations are not expanded to ask it: 0.3 s at 100,000 or 1,000,000 configurations), "
        "and a worker cap set at run time beside the config's (`workers 4 "
        "(config: 2)`) and what a `retry-failed` or `rerun` given with no engine left for the next start; `--json` has "
        'every run: `{"stages": [{"name", "workers", "config_workers", "paused", "counts": {...}, "total", "needs", '
        '"over"}], "runs": '
        '[{"task", "stage", "attempt", "state", "exit_code", "priority", "log", ..., "members" (group runs)}]}`',
    ),
    Verb(
        "log",
        "print a run's log (its latest attempt, or --attempt N); --follow goes on until the attempt ends",
        _log_args,
        follow.log,
        "read from the state store's log paths, with or without an engine. Exit 0, 1 when it has no such attempt "
        "or its log is gone",
    ),
    Verb(
        "wait",
        "block until the pipeline, a stage or a run has nothing left to run (queued, running or waiting)",
        _wait_args,
        follow.wait,
        "exit 0 all done, 1 some failed (failed, cancelled or blocked), 2 a usage error or no engine running "
        "while runs are left",
    ),
    Verb(
        "validate",
        "check a config and say what it runs (starts nothing)",
        _validate_args,
        local.validate,
        "the graph: needs, over, runs per stage",
    ),
    Verb(
        "init",
        "write a starter coopy.toml",
        _init_args,
        local.init,
        "`DIR/coopy.toml` (default: here; a path ending in `.toml` is the file itself)",
    ),
    Verb(
        "export",
        "one row per configuration: params, and per stage state, attempts, duration",
        _export_args,
        local.export,
    ),
    Verb(
        "results",
        "the metrics runs reported: one row per configuration, grouped and sorted as asked",
        _results_args,
        local.results,
        "see *Metrics, results and the report*",
    ),
    Verb(
        "report",
        "write one self-contained HTML file: results, curves, stages, timeline, durations, failures",
        _report_args,
        local.report,
    ),
    Verb(
        "gpus",
        "one line per GPU NVML sees: memory used by others, used and reserved by CooPy, free; the runs on it",
        _gpus_args,
        _gpus,
        "needs the `gpu` extra; see *GPUs on a shared lab machine*",
    ),
)


# ---------------------------------------------------------------------------------------------- engine verbs
def command_verb(command: Command) -> Verb:
    """The verb of a command of the table: `coopy VERB CONFIG ARGS...`, sent to the config's running engine."""

    def arguments(p: argparse.ArgumentParser) -> None:
        _config(p)
        for arg in command.args:
            cli = arg.cli
            if cli is not None:
                p.add_argument(arg.name, nargs=cli.nargs, metavar=cli.metavar, help=cli.help or arg.help)
            elif arg.flag and bool in arg.types:
                p.add_argument(arg.flag, dest=arg.name, action="store_true", help=arg.help)
            elif arg.flag:
                kind = int if arg.types[0] is int else str
                p.add_argument(arg.flag, dest=arg.name, type=kind, default=arg.default, help=arg.help)
            else:
                p.add_argument(arg.name, type=int if arg.types == (int,) else str, help=arg.help)

    def run(args: argparse.Namespace) -> int:
        return _send(command, args)

    return Verb(command.verb, command.help[0].lower() + command.help[1:].rstrip("."), arguments, run)


def _send(command: Command, args: argparse.Namespace) -> int:
    """A command for the running background engine of a config (the same commands the TUI sends)."""
    from coopy_core.wire.daemon import connect
    from coopy_core.wire.remote import EngineUnavailable

    config = load_target(args.config)
    try:
        client = connect(config)
    except EngineUnavailable:
        return _unanswered(command, args, config)
    try:
        given = {arg.name: getattr(args, arg.name) for arg in command.args}
        values = dict(given)
        for arg in command.args:
            if arg.cli is not None:
                values[arg.name] = arg.cli.parse(given[arg.name], client, values)
        result = getattr(client, command.name)(**values)
        texts = {f"{name}_text": value for name, value in given.items()}
        print(command.said({**values, **texts, "result": result}))
    finally:
        client.close()
    return EXIT_OK


def _unanswered(command: Command, args: argparse.Namespace, config: Config) -> int:
    """No engine answers on the socket: none runs, or one holds the state dir and is still starting (its start
    can take minutes: a big new input to hash). Never "no engine is running" about an engine that will run."""
    from coopy_core.state.store import EngineLock

    holder = EngineLock.holder(config.state_dir) if config.state_dir.exists() else None
    offline = _offline(command.name)
    if holder is None and offline is not None:  # none runs: written to the store for the next start
        return offline(config, args)
    if holder is None or holder <= 0:
        print(
            f"coopy: {args.config}: no engine is running; start one with `coopy run --detach {args.config}`",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not command.while_starting:
        print(
            f"coopy: {args.config}: the engine (pid {holder}) is still starting; try again once it answers",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        os.kill(holder, command.while_starting)
    except OSError as exc:
        print(f"coopy: {args.config}: cannot reach the starting engine (pid {holder}): {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    values = {arg.name: False if arg.types == (bool,) else getattr(args, arg.name) for arg in command.args}
    print(command.said({**values, "result": None}) + f" (it was still starting, pid {holder}: it started no run)")
    return EXIT_OK


def _offline(name: str) -> Callable[[Config, argparse.Namespace], int] | None:
    """The commands that, with no engine running, are checked against the store and kept for the next start."""
    from coopy_core.cli import offline

    handlers: dict[str, Callable[[Config, argparse.Namespace], int]] = {
        "retry_failed": offline.retry_failed_verb,
        "rerun": offline.rerun_verb,
    }
    return handlers.get(name)


ENGINE_VERBS: tuple[Verb, ...] = tuple(command_verb(c) for c in COMMANDS.values() if c.verb)
VERBS: dict[str, Verb] = {v.name: v for v in (*LOCAL_VERBS, *ENGINE_VERBS)}
