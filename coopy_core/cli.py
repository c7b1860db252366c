"""`coopy`: the headless command line (run, status, validate, init)."""

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
from coopy_core.config import Config, load_config, starter_toml
from coopy_core.errors import CoopyError

if TYPE_CHECKING:
    from coopy_core.remote import RemoteEngine

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="coopy", description="Run chains of operations over many configurations.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="run the pipeline until every configuration passed or failed for good")
    run.add_argument("config", help="path to coopy.toml")
    run.add_argument(
        "--stop-running",
        action="store_true",
        help="on Ctrl-C, stop running commands (default: leave them running; the next start adopts them)",
    )
    run.add_argument(
        "--detach", action="store_true", help="run the engine in the background (attach with coopy-tui)"
    )
    status = sub.add_parser("status", help="show the state of a pipeline (starts nothing)")
    status.add_argument("config")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    validate = sub.add_parser("validate", help="check a config file")
    validate.add_argument("config")
    init = sub.add_parser("init", help="write a starter coopy.toml")
    init.add_argument("path", nargs="?", default="coopy.toml")
    export = sub.add_parser("export", help="one row per configuration: params, per-stage state, attempts, ...")
    export.add_argument("config")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--output", "-o", help="write to this file instead of stdout")
    stop = sub.add_parser("stop", help="stop the background engine (running commands keep running)")
    stop.add_argument("config")
    stop.add_argument("--stop-running", action="store_true", help="also stop running commands (re-queued)")
    for command in COMMANDS.values():
        if not command.verb:
            continue
        cmd = sub.add_parser(command.verb, help=command.help[0].lower() + command.help[1:].rstrip("."))
        cmd.add_argument("config", help="path to coopy.toml")
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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            if args.detach:
                return _detach(args.config)
            return _run(args.config, args.stop_running)
        if args.command in REMOTE_VERBS:
            return _remote(args)
        if args.command == "status":
            return _status(args.config, args.json)
        if args.command == "validate":
            config = load_config(args.config)
            print(f"{args.config}: ok: " + describe_graph(config))
            return EXIT_OK
        if args.command == "export":
            return _export(args.config, args.format, args.output)
        if args.command == "init":
            return _init(Path(args.path))
    except CoopyError as exc:
        print(f"coopy: {exc}", file=sys.stderr)
        return exc.exit_code
    except sqlite3.Error as exc:
        from coopy_core.store import store_problem

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


def _detach(config_path: str) -> int:
    from coopy_core.daemon import ensure_engine

    config = load_config(config_path)
    client, started = ensure_engine(config, events=False)
    pid = client.info.get("pid")
    client.close()
    what = "started" if started else "already running"
    print(f"engine {what} in the background (pid {pid}); watch it with `coopy-tui {config_path}`")
    return EXIT_OK


def _remote(args: argparse.Namespace) -> int:
    """A command for the running background engine of a config (the same commands the TUI sends)."""
    from coopy_core.daemon import connect
    from coopy_core.remote import EngineUnavailable

    config = load_config(args.config)
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

    from coopy_core.errors import CoopyError

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
    from coopy_core.export import to_csv, to_json

    config = load_config(config_path)
    text = to_csv(config) if fmt == "csv" else to_json(config) + "\n"
    if output:
        Path(output).write_text(text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _init(path: Path) -> int:
    if path.exists():
        print(f"coopy: {path}: already exists; not overwriting", file=sys.stderr)
        return EXIT_USAGE
    path.write_text(starter_toml())
    print(f"wrote {path}; check it with `coopy validate {path}`")
    return EXIT_OK


def _status(config_path: str, as_json: bool) -> int:
    from coopy_core.progress import format_duration
    from coopy_core.status import live_status, read_status

    config = load_config(config_path)
    status = live_status(config) or read_status(config)
    if as_json:
        print(json.dumps(status, indent=2))
        return EXIT_OK
    engine = f"engine running (pid {status['engine_pid']})" if status["engine_pid"] else "no engine running"
    print(f"{status['pipeline']}: {status['tasks']} configurations; {engine}")
    width = max(len(s["name"]) for s in status["stages"])
    for s in status["stages"]:
        c = s["counts"]
        paused = " PAUSED" if s["paused"] else ""
        print(
            f"  {s['name']:<{width}} workers {s['workers']}{paused}: queued {c['queued']}, running {c['running']}, "
            f"done {c['done']}, skipped {c['skipped']}, failed {c['failed']}, cancelled {c['cancelled']}"
        )
    for r in status["runs"]:
        if r["state"] in ("failed", "cancelled"):
            took = format_duration((r["ended_at"] or 0) - (r["started_at"] or 0)) if r["started_at"] else "--"
            print(f"  {r['state']}: {r['stage']}/{r['task']} attempt {r['attempt']} ({took}): {r['reason']}")
            if r["log"]:
                print(f"    log: {r['log']}")
    return EXIT_OK


def _run(config_path: str, stop_running: bool) -> int:
    config = load_config(config_path)
    _log_to_file(config.state_dir / "engine.log")
    return asyncio.run(_run_async(config, stop_running))


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


async def _run_async(config: Config, stop_running: bool) -> int:
    from coopy_core.engine import Engine
    from coopy_core.progress import ProgressPrinter

    assert isinstance(config, Config)
    from coopy_core.server import ControlServer

    engine = Engine(config)
    printer = ProgressPrinter(engine, sys.stdout, live=sys.stdout.isatty())
    await engine.start()
    remote_stop = asyncio.Event()
    server = ControlServer(engine, remote_stop)  # coopy-tui and `coopy pause ...` can attach to this run
    await server.start()
    printer.start()
    loop = asyncio.get_running_loop()
    interrupted: list[int] = []
    stop = asyncio.Event()

    def on_signal(signum: int) -> None:
        interrupted.append(signum)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, on_signal, sig)
    finished = asyncio.ensure_future(engine.run_until_finished())
    stopper = asyncio.ensure_future(stop.wait())
    remote = asyncio.ensure_future(remote_stop.wait())
    await asyncio.wait({finished, stopper, remote}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    remote.cancel()
    printer.stop()
    await server.close()
    if remote_stop.is_set() and not finished.done():
        finished.cancel()
        await engine.shutdown(stop_running=server.stop_running)
        print("coopy: stopped by `coopy stop`", file=sys.stderr)
        return EXIT_INTERRUPTED
    if interrupted:
        finished.cancel()
        running = sum(v.running for v in (engine.stage_view(s) for s in config.stage_names))
        await engine.shutdown(stop_running=stop_running)
        if running:
            what = "stopped and queued again" if stop_running else "left running; `coopy run` again adopts them"
            print(f"coopy: interrupted; {running} running command(s) {what}", file=sys.stderr)
        return EXIT_INTERRUPTED if interrupted[0] == signal.SIGINT else 128 + interrupted[0]
    ok = finished.result()
    await engine.shutdown()
    return EXIT_OK if ok else EXIT_FAILED


if __name__ == "__main__":  # `python -m coopy_core.cli`: the same entry as the `coopy` command
    from coopy_core.launch import main as launch

    sys.exit(launch())
