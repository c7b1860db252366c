"""The local verbs of `coopy`: each a small handler of its parsed arguments (the table is in verbs.py)."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from coopy_core.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from coopy_core.cli.guard import run_whole
from coopy_core.config import Config, dump_config, starter_toml
from coopy_core.errors import CoopyError
from coopy_core.loader import load_target

if TYPE_CHECKING:
    from coopy_core.runner import Ending


def run(args: argparse.Namespace) -> int:
    config = load_target(args.config)  # once: a Python pipeline is imported once
    if args.until is not None and args.until not in config.stage_names:
        stages = ", ".join(config.stage_names)
        raise CoopyError(f"{args.config}: --until: no stage named {args.until!r} (stages: {stages})")
    if args.detach and args.until:
        raise CoopyError(f"{args.config}: --until runs in the foreground only (not with --detach)")
    _say_kept(config)
    if args.retry_failed:
        _mark_failed(config, args.config)
    if args.detach:
        return _detach(config, args.config, args.take_over)
    return _run(config, args.config, args.stop_running, args.take_over, args.until)


def _say_kept(config: Config) -> None:
    """Settings changed at run time that this start keeps over the config, said before it starts."""
    from coopy_core.report.status import kept_settings
    from coopy_core.state.store import EngineLock

    if config.state_dir.exists() and EngineLock.holder(config.state_dir) is None:
        for line in kept_settings(config):
            print(f"coopy: {line}", file=sys.stderr)


def _mark_failed(config: Config, config_path: str) -> None:
    """`coopy run --retry-failed`: the failed and cancelled runs are marked in the store, and the start about to
    happen runs them (an engine already running: the start is refused as without the flag, nothing marked)."""
    from coopy_core.cli import offline
    from coopy_core.state.store import EngineLock

    if config.state_dir.exists() and EngineLock.holder(config.state_dir) is not None:
        print(f"coopy: an engine runs this pipeline: `coopy retry-failed {config_path}` asks it", file=sys.stderr)
        return
    n = offline.retry_failed(config, None)
    print(f"coopy: {n} failed or cancelled run(s) run again" if n else "coopy: no failed or cancelled runs to retry")


def plan(args: argparse.Namespace) -> int:
    from coopy_core.plan.dryrun import make_plan, plan_json, plan_text

    config = load_target(args.config)
    the_plan = make_plan(config)
    print(plan_json(the_plan) if args.json else plan_text(the_plan, args.config))
    return EXIT_OK


def why(args: argparse.Namespace) -> int:
    from coopy_core.plan.dryrun import why as explain

    config = load_target(args.config)
    try:
        print(explain(config, args.stage, args.task))
    except KeyError as exc:
        raise CoopyError(f"{args.config}: {exc.args[0]}") from None
    return EXIT_OK


def forget(args: argparse.Namespace) -> int:
    return _forget(args.config, args.yes)


def status(args: argparse.Namespace) -> int:
    return _status(args.config, args.json)


def validate(args: argparse.Namespace) -> int:
    from coopy_core.config.load import check_engine_memory
    from coopy_core.state.store import EngineLock

    config = load_target(args.config)
    if not config.state_dir.exists() or EngineLock.holder(config.state_dir) is None:
        check_engine_memory(config)  # would an engine fit now (with one running, its memory is not free)
    if args.dump:
        sys.stdout.write(dump_config(config))
    else:
        print(f"{args.config}: ok: " + describe_graph(config))
    return EXIT_OK


def init(args: argparse.Namespace) -> int:
    return _init(Path(args.path))


def export(args: argparse.Namespace) -> int:
    return _export(args.config, args.format, args.output)


def results(args: argparse.Namespace) -> int:
    return _results_command(args)


def report(args: argparse.Namespace) -> int:
    return _results_command(args)


def describe_graph(config: Config) -> str:
    """`6 configurations, 3 stages (prepare -> train -> evaluate)`, then a line per stage when the stages
    are more than a chain: what it needs, what its runs are over, how many runs."""
    names = config.stage_names
    chain = all(needs == ((names[i - 1],) if i else ()) for i, needs in enumerate(config.needs))
    chain = chain and all(s.over is None for s in config.stages)
    head = f"{len(config.tasks)} configurations, {len(names)} stages"
    if chain:
        return f"{head} ({' -> '.join(names)})"
    graph = config.graph()
    width = max(len(n) for n in names)
    needs_width = max(len(", ".join(n) or "-") for n in config.needs)
    lines = [f"{head}:"]
    for stage, needs in zip(config.stages, config.needs, strict=True):
        if stage.over is None:
            over = "each configuration"
        elif not stage.over:
            over = "all configurations (one run)"
        else:
            over = "over " + ", ".join(stage.over)
        n = graph.run_count(stage.name)
        lines.append(
            f"  {stage.name:<{width}}  needs {', '.join(needs) or '-':<{needs_width}}  {over:<28} "
            f"{n} run{'s' if n != 1 else ''}"
        )
    return "\n".join(lines)


def _forget(config_path: str, yes: bool) -> int:
    import shutil

    from coopy_core.state.store import EngineLock

    config = load_target(config_path)
    state = config.state_dir
    if not state.exists():
        print(f"{state}: nothing to forget")
        return EXIT_OK
    holder = EngineLock.holder(state)
    if holder is not None:
        raise CoopyError(f"{state}: an engine (pid {holder}) runs this pipeline; stop it first (coopy stop)")
    if not yes:
        if not sys.stdin.isatty():
            raise CoopyError(f"{state}: give --yes to delete the state dir (every run's record and its logs there)")
        answer = input(f"delete {state} (the record of every run, and the logs in it)? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("kept")
            return EXIT_OK
    shutil.rmtree(state)
    print(f"deleted {state}; the next `coopy run` starts afresh")
    return EXIT_OK


def _detach(config: Config, config_path: str, take_over: bool = False) -> int:
    from coopy_core.wire.daemon import ensure_engine

    client, started = ensure_engine(
        config, events=False, take_over=take_over, on_wait=lambda text: print(f"coopy: {text}", file=sys.stderr)
    )
    pid = client.info.get("pid")
    client.close()
    what = "started" if started else "already running"
    print(f"engine {what} in the background (pid {pid}); watch it with `coopy-tui {config_path}`")
    return EXIT_OK


def _export(config_path: str, fmt: str, output: str | None) -> int:
    from coopy_core.report.export import to_csv, to_json

    config = load_target(config_path)
    text = to_csv(config) if fmt == "csv" else to_json(config) + "\n"
    if output:
        Path(output).write_text(text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _results_command(args: argparse.Namespace) -> int:
    config = load_target(args.config)
    group_by = [p.strip() for item in args.group_by for p in item.split(",") if p.strip()]
    metrics = [m.strip() for m in (args.metrics or "").split(",") if m.strip()]
    if args.command == "report":
        from coopy_core.report.html import ReportOptions, watch, write_report

        options = ReportOptions(group_by, args.sort, args.stage, metrics, max(1, args.best))
        if args.watch:
            return watch(config, Path(args.output), options, args.interval)
        print(write_report(config, Path(args.output), options))
        return EXIT_OK
    from coopy_core.report import results

    table = results.arrange(results.collect(config, args.stage), group_by, args.sort, metrics)
    text = results.render(table, args.format)
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _init(path: Path) -> int:
    """`coopy init DIR` writes DIR/coopy.toml; a path ending in .toml is the file itself."""
    if path.is_dir() or (path.suffix != ".toml" and not path.exists()):
        path = path / "coopy.toml"
    if path.exists():
        print(f"coopy: {path}: already exists; not overwriting", file=sys.stderr)
        return EXIT_USAGE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(starter_toml())
    except OSError as exc:
        print(f"coopy: {path}: cannot write it ({exc.strerror})", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {path}; check it with `coopy validate {path}`")
    return EXIT_OK


def _status(config_path: str, as_json: bool) -> int:
    from coopy_core.cli.status_text import status_lines
    from coopy_core.config.load import load_config_unexpanded
    from coopy_core.report.status import read_status
    from coopy_core.wire.live import live_status

    if not as_json and Path(config_path).is_file() and Path(config_path).suffix != ".py":
        # a live engine answers with its summary: its configurations need not be expanded here to ask it
        live = live_status(load_config_unexpanded(config_path), summary=True, summary_only=True)
        if live is not None:
            print("\n".join(status_lines(live)))
            return EXIT_OK
    config = load_target(config_path)
    status = live_status(config, summary=not as_json) or read_status(config)
    if as_json:
        print(json.dumps(status, indent=2))
    else:
        print("\n".join(status_lines(status)))
    return EXIT_OK


def _log_to_file(path: Path) -> None:
    """The engine's own log lines (a bad socket request, a store that cannot be written) go to engine.log, as the
    background engine's do: the terminal shows the pipeline. A log that cannot be written (a full disk) is
    skipped, never a traceback."""
    import logging

    class SkippingFileHandler(logging.FileHandler):
        def emit(self, record: logging.LogRecord) -> None:
            with contextlib.suppress(OSError):  # FileHandler opens its file (delay=True) outside its own guard
                super().emit(record)

    logging.raiseExceptions = False
    handler = SkippingFileHandler(path, delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("coopy", "asyncio"):  # asyncio's own (an accept that failed, a task that raised) too
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO if name == "coopy" else logging.WARNING)
        logger.propagate = False


def _how_it_ended(ending: Ending) -> str:
    """The last line a `coopy run` writes to engine.log."""
    if ending.remote_stop:
        return "stopped by `coopy stop`"
    if ending.signal is not None:
        return f"interrupted by signal {ending.signal}"
    return "every run passed" if ending.passed else "finished with failures"


def _run(config: Config, config_path: str, stop_running: bool, take_over: bool, until: str | None) -> int:
    import logging
    import os

    from coopy_core.runner import execute

    _log_to_file(config.state_dir / "engine.log")  # the start line comes once the engine made the state dir
    log = logging.getLogger("coopy.run")
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    live = sys.stdout.isatty()
    try:
        ending = run_whole(
            execute(
                config,
                stream=sys.stdout,
                live=live,
                stop_running=stop_running,
                signals=signals,
                take_over=take_over,
                until=until,
            )
        )
    except BaseException as exc:
        if config.state_dir.exists():  # not when it stopped before writing anything (a plug-in that cannot be made)
            log.info("coopy run (pid %d) ended: %s", os.getpid(), str(exc) or type(exc).__name__)
        raise
    log.info("coopy run (pid %d) ended: %s", os.getpid(), _how_it_ended(ending))
    if ending.left:
        waiting = ", ".join(f"{name} ({n} run{'s' if n != 1 else ''})" for name, n in ending.left)
        print(f"coopy: --until {until}: not run this time: {waiting}; `coopy run {config_path}` runs them")
    if ending.remote_stop:
        print("coopy: stopped by `coopy stop`", file=sys.stderr)
        return EXIT_INTERRUPTED
    if ending.signal is not None:
        if ending.running:
            what = "stopped and queued again" if stop_running else "left running; `coopy run` again adopts them"
            print(f"coopy: interrupted; {ending.running} running command(s) {what}", file=sys.stderr)
        return EXIT_INTERRUPTED if ending.signal == signal.SIGINT else 128 + ending.signal
    return EXIT_OK if ending.passed else EXIT_FAILED
