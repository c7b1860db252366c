"""`coopy`: the headless command line (run, status, validate, init, export, and the engine commands)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from coopy_core.commands import COMMANDS
from coopy_core.config import Config, dump_config, starter_toml
from coopy_core.errors import CoopyError
from coopy_core.loader import load_target

if TYPE_CHECKING:
    from coopy_core.wire.remote import RemoteEngine

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


CONFIG_HELP = "the pipeline: coopy.toml, or one defined in Python: file.py[:attribute] or module:attribute"


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("coopy")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _sub(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str) -> argparse.ArgumentParser:
    """A subcommand whose --help opens with its one-line description."""
    return sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")


def _parser(prog: str = "coopy") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Run chains of operations over many configurations: a queue and a worker cap per stage.",
        epilog="`coopy COMMAND --help` says more about each command; coopy-tui CONFIG watches and steers.",
    )
    p.add_argument("--version", action="version", version=f"coopy {version()}", help="print the version")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = _sub(sub, "run", "run the pipeline until every configuration passed or failed for good")
    run.add_argument("config", metavar="CONFIG", help=CONFIG_HELP)
    run.add_argument(
        "--stop-running",
        action="store_true",
        help="on Ctrl-C, stop running commands (default: leave them running; the next start adopts them)",
    )
    run.add_argument("--detach", action="store_true", help="run the engine in the background (attach with coopy-tui)")
    run.add_argument(
        "--take-over", action="store_true", help="make a state dir that belongs to another config this one's"
    )
    planned = _sub(sub, "plan", "what the next run would run, and why (starts nothing, writes nothing)")
    planned.add_argument("config", metavar="CONFIG", help=CONFIG_HELP)
    planned.add_argument("--json", action="store_true", help="machine-readable output")
    why = _sub(sub, "why", "one line: why a run would run again at the next start, or why not")
    why.add_argument("config", metavar="CONFIG", help=CONFIG_HELP)
    why.add_argument("stage", help="the stage's name")
    why.add_argument("task", help="the run's name: a configuration's, or a group's (model=cnn, all)")
    forget = _sub(sub, "forget", "delete a pipeline's state dir (the record of every run), to start afresh")
    forget.add_argument("config", metavar="CONFIG", help=CONFIG_HELP)
    forget.add_argument("--yes", action="store_true", help="do not ask")
    status = _sub(sub, "status", "show the state of a pipeline (starts nothing)")
    status.add_argument("config", metavar="CONFIG", help=CONFIG_HELP)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    validate = _sub(sub, "validate", "check a config and say what it runs (starts nothing)")
    validate.add_argument("config", metavar="CONFIG", help=CONFIG_HELP)
    validate.add_argument(
        "--dump", action="store_true", help="print the normalized config as TOML (every key, defaults filled in)"
    )
    init = _sub(sub, "init", "write a starter coopy.toml")
    init.add_argument(
        "path",
        nargs="?",
        default="coopy.toml",
        help="a directory (gets DIR/coopy.toml, made if missing) or a file ending in .toml; default ./coopy.toml",
    )
    export = _sub(sub, "export", "one row per configuration: params, and per stage state, attempts, duration")
    export.add_argument("config", metavar="CONFIG", help=CONFIG_HELP)
    export.add_argument("--format", choices=("csv", "json"), default="csv", help="csv (default) or json")
    export.add_argument("--output", "-o", help="write to this file instead of stdout")
    _results_parsers(sub)
    stop = _sub(sub, "stop", "stop the background engine (running commands keep running)")
    stop.add_argument("config", metavar="CONFIG", help=CONFIG_HELP)
    stop.add_argument("--stop-running", action="store_true", help="also stop running commands (re-queued)")
    for command in COMMANDS.values():
        if not command.verb:
            continue
        cmd = _sub(sub, command.verb, command.help[0].lower() + command.help[1:].rstrip("."))
        cmd.add_argument("config", metavar="CONFIG", help=CONFIG_HELP)
        for arg in command.args:
            if command.name == "add_task" and arg.name == "params":
                cmd.add_argument("params", nargs="*", metavar="KEY=VALUE", help=arg.help)
            elif command.name == "set_pool" and arg.name == "size":
                cmd.add_argument("size", help="ids separated by commas (gpus), or an amount (mem_gb)")
            elif arg.flag:
                kind = int if arg.types[0] is int else str
                cmd.add_argument(arg.flag, dest=arg.name, type=kind, default=arg.default, help=arg.help)
            else:
                cmd.add_argument(arg.name, type=int if arg.types == (int,) else str, help=arg.help)
    return p


def main(argv: list[str] | None = None, prog: str = "coopy") -> int:
    args = _parser(prog).parse_args(_sort_values(sys.argv[1:] if argv is None else argv))
    try:
        if args.command == "run":
            if args.detach:
                return _detach(args.config, args.take_over)
            return _run(args.config, args.stop_running, args.take_over)
        if args.command == "plan":
            from coopy_core.plan.dryrun import make_plan, plan_json, plan_text

            config = load_target(args.config)
            the_plan = make_plan(config)
            print(plan_json(the_plan) if args.json else plan_text(config, the_plan, args.config))
            return EXIT_OK
        if args.command == "why":
            from coopy_core.plan.dryrun import why as explain

            config = load_target(args.config)
            try:
                print(explain(config, args.stage, args.task))
            except KeyError as exc:
                raise CoopyError(f"{args.config}: {exc.args[0]}") from None
            return EXIT_OK
        if args.command == "forget":
            return _forget(args.config, args.yes)
        if args.command in REMOTE_VERBS:
            return _remote(args)
        if args.command == "status":
            return _status(args.config, args.json)
        if args.command == "validate":
            config = load_target(args.config)
            if args.dump:
                sys.stdout.write(dump_config(config))
            else:
                print(f"{args.config}: ok: " + describe_graph(config))
            return EXIT_OK
        if args.command == "export":
            return _export(args.config, args.format, args.output)
        if args.command in ("results", "report"):
            return _results_command(args)
        if args.command == "init":
            return _init(Path(args.path))
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
    return EXIT_USAGE


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


REMOTE_VERBS = frozenset({"stop"} | {c.verb for c in COMMANDS.values() if c.verb})


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


def _detach(config_path: str, take_over: bool = False) -> int:
    from coopy_core.wire.daemon import ensure_engine

    config = load_target(config_path)
    client, started = ensure_engine(config, events=False, take_over=take_over)
    pid = client.info.get("pid")
    client.close()
    what = "started" if started else "already running"
    print(f"engine {what} in the background (pid {pid}); watch it with `coopy-tui {config_path}`")
    return EXIT_OK


def _remote(args: argparse.Namespace) -> int:
    """A command for the running background engine of a config (the same commands the TUI sends)."""
    from coopy_core.wire.daemon import connect
    from coopy_core.wire.remote import EngineUnavailable

    config = load_target(args.config)
    try:
        client = connect(config)
    except EngineUnavailable:
        print(
            f"coopy: {args.config}: no engine is running; start one with `coopy run --detach {args.config}`",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        if args.command == "stop":
            client.stop(stop_running=args.stop_running)
            print("engine stopping" + (" and stopping running commands" if args.stop_running else ""))
            return EXIT_OK
        command = next(c for c in COMMANDS.values() if c.verb == args.command)
        values = {arg.name: getattr(args, arg.name) for arg in command.args}
        if command.name == "add_task":
            values["params"] = dict(_parse_param(p) for p in args.params)
        elif command.name == "set_pool":
            values["size"] = _pool_size(client, args.name, args.size)
        result = getattr(client, command.name)(**values)
        print(command.done.format(**values, result=result, size_text=args.size if "size" in values else ""))
    finally:
        client.close()
    return EXIT_OK


def _pool_size(client: RemoteEngine, name: str, text: str) -> list[int | str] | float:
    pools = client.snapshot().pools
    if name not in pools:
        raise CoopyError(f"no resource pool named {name!r} (pools: {', '.join(pools) or 'none'})")
    if isinstance(pools[name]["size"], list):  # an id pool: "0,1,2"
        return [part.strip() for part in text.split(",") if part.strip()]
    try:
        return float(text)
    except ValueError:
        raise CoopyError(f"{text!r}: the pool {name!r} takes an amount") from None


def _parse_param(text: str) -> tuple[str, object]:
    import tomllib

    key, sep, raw = text.partition("=")
    if not sep or not key.isidentifier():
        raise CoopyError(f"{text!r}: parameters are KEY=VALUE")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]  # 3 -> int, 0.5 -> float, true -> bool
    except tomllib.TOMLDecodeError:
        value = raw  # anything else is a string
    if not isinstance(value, str | int | float | bool):
        value = raw
    return key, value


def _export(config_path: str, fmt: str, output: str | None) -> int:
    from coopy_core.report.export import to_csv, to_json

    config = load_target(config_path)
    text = to_csv(config) if fmt == "csv" else to_json(config) + "\n"
    if output:
        Path(output).write_text(text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


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


def _results_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`coopy results` and `coopy report` (results.py, report.py): both read the store only."""
    for verb, text in (
        ("results", "the metrics runs reported: one row per configuration, grouped and sorted as asked"),
        ("report", "write one self-contained HTML file: stages, timeline, durations, results, curves, failures"),
    ):
        cmd = _sub(sub, verb, text)
        cmd.add_argument("config", metavar="CONFIG", help=CONFIG_HELP)
        cmd.add_argument(
            "--group-by",
            action="append",
            default=[],
            metavar="PARAM[,PARAM]",
            help="aggregate the other params: mean ± std and n per metric",
        )
        cmd.add_argument("--sort", metavar="[-]NAME", help="a metric or param; -name sorts descending")
        cmd.add_argument("--stage", help="one row per run of this stage (per group for a stage over fewer params)")
        cmd.add_argument("--metrics", metavar="NAME[,NAME]", help="only these metrics, in this order")
        if verb == "results":
            cmd.add_argument(
                "--format",
                choices=("table", "csv", "json", "markdown"),
                default="table",
                help="table (default), csv, json or markdown",
            )
            cmd.add_argument("--output", "-o", help="write to this file instead of stdout")
        else:
            cmd.add_argument("--output", "-o", default="report.html", help="the HTML file (default report.html)")
            cmd.add_argument("--best", type=int, default=10, metavar="N", help="metric curves of the best N runs")
            cmd.add_argument(
                "--watch",
                action="store_true",
                help="rewrite it while the pipeline runs (atomically; the page reloads itself)",
            )
            cmd.add_argument(
                "--interval",
                type=float,
                default=None,
                metavar="S",
                help="with --watch: seconds between rewrites (default: the poll_interval, at least 2)",
            )


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
    from coopy_core.cli.progress import format_duration
    from coopy_core.report.status import live_status, read_status

    config = load_target(config_path)
    status = live_status(config, summary=not as_json) or read_status(config)
    if as_json:
        print(json.dumps(status, indent=2))
        return EXIT_OK
    engine = f"engine running (pid {status['engine_pid']})" if status["engine_pid"] else "no engine running"
    print(f"{status['pipeline']}: {status['tasks']} configurations; {engine}")
    width = max(len(s["name"]) for s in status["stages"])
    for s in status["stages"]:
        c = s["counts"]
        paused = " PAUSED" if s["paused"] else ""
        more = "".join(f", {state} {c[state]}" for state in ("waiting", "blocked") if c.get(state))
        print(
            f"  {s['name']:<{width}} workers {s['workers']}{paused}: queued {c['queued']}, running {c['running']}, "
            f"done {c['done']}, skipped {c['skipped']}, failed {c['failed']}, cancelled {c['cancelled']}{more}"
        )
    for r in status["runs"]:
        if r["state"] == "running" and r.get("job_id"):  # a Slurm or Ray job: its state and node
            print(f"  running: {r['stage']}/{r['task']} attempt {r['attempt']}: job {r['job_id']}: {r['reason']}")
        if r["state"] == "blocked":
            print(f"  blocked: {r['stage']}/{r['task']}: {r['reason']}")
        elif r["state"] in ("failed", "cancelled"):
            took = format_duration((r["ended_at"] or 0) - (r["started_at"] or 0)) if r["started_at"] else "--"
            print(f"  {r['state']}: {r['stage']}/{r['task']} attempt {r['attempt']} ({took}): {r['reason']}")
            if r["log"]:
                print(f"    log: {r['log']}")
    return EXIT_OK


def _log_to_file(path: Path) -> None:
    """The engine's own log lines (a bad socket request, a store that cannot be written) go to engine.log, as the
    background engine's do: the terminal shows the pipeline. A log that cannot be written (a full disk) is
    skipped, never a traceback."""
    import logging

    logging.raiseExceptions = False
    handler = logging.FileHandler(path, delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("coopy", "asyncio"):  # asyncio's own (an accept that failed, a task that raised) too
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO if name == "coopy" else logging.WARNING)
        logger.propagate = False


def _run(config_path: str, stop_running: bool, take_over: bool = False) -> int:
    from coopy_core.runner import execute

    config = load_target(config_path)
    _log_to_file(config.state_dir / "engine.log")
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    live = sys.stdout.isatty()
    ending = asyncio.run(
        execute(config, stream=sys.stdout, live=live, stop_running=stop_running, signals=signals, take_over=take_over)
    )
    if ending.remote_stop:
        print("coopy: stopped by `coopy stop`", file=sys.stderr)
        return EXIT_INTERRUPTED
    if ending.signal is not None:
        if ending.running:
            what = "stopped and queued again" if stop_running else "left running; `coopy run` again adopts them"
            print(f"coopy: interrupted; {ending.running} running command(s) {what}", file=sys.stderr)
        return EXIT_INTERRUPTED if ending.signal == signal.SIGINT else 128 + ending.signal
    return EXIT_OK if ending.passed else EXIT_FAILED


if __name__ == "__main__":  # `python -m coopy_core.cli.main`: the same entry as the `coopy` command
    from coopy_core.cli.launch import main as launch

    sys.exit(launch())
