"""Running a pipeline in this process until it finishes: `coopy run` and `Pipeline.run()` share it.

The engine serves its control socket meanwhile (coopy-tui, `coopy status`, `coopy pause` attach to
it), prints progress if asked, and on a stop signal shuts down leaving the commands running (the next
start adopts them) or, with `stop_running`, stopping them and queueing them again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from coopy_core.config import Config

if TYPE_CHECKING:
    from coopy_core.outcome import Results


@dataclass(frozen=True)
class Ending:
    """How a run of the engine ended."""

    passed: bool  # every run done or skipped
    signal: int | None = None  # the stop signal it got (SIGINT, SIGTERM, SIGHUP)
    remote_stop: bool = False  # `coopy stop`
    running: int = 0  # commands running when it stopped early (left running, or stopped if asked)
    left: tuple[tuple[str, int], ...] = ()  # `until`: the stages it left out, and how many of their runs wait


async def execute(
    config: Config,
    *,
    stream: TextIO | None = None,
    live: bool = False,
    stop_running: bool = False,
    signals: tuple[int, ...] = (),
    take_over: bool = False,
    until: str | None = None,
) -> Ending:
    """Start an engine for `config`, serve its socket, wait until the pipeline finished or a stop came.

    `stream`: where progress goes (None: no progress); `live`: redrawn lines (a terminal) instead of a
    line per event. `signals`: the signals that stop it (handled on this loop). `until`: run only that stage and
    what it needs (the others start nothing; `passed` is about those)."""
    from coopy_core.cli.progress import ProgressPrinter
    from coopy_core.engine import Engine
    from coopy_core.wire.server import ControlServer

    if config.gpu_note:
        print(f"coopy: {config.gpu_note}", file=sys.stderr)  # said once: the GPUs are not what NVML would show
    engine = Engine(config, take_over=take_over, until=until)
    printer = ProgressPrinter(engine, stream, live=live) if stream is not None else None
    await engine.start()
    remote_stop = asyncio.Event()
    server = ControlServer(engine, remote_stop)
    try:
        await server.start()
    except BaseException:
        await engine.shutdown()
        raise
    logging.getLogger("coopy.run").info("coopy run (pid %d) started: %s", os.getpid(), config.path)
    if printer is not None:
        printer.start()
    loop = asyncio.get_running_loop()
    got: list[int] = []
    stop = asyncio.Event()

    def on_signal(signum: int) -> None:
        got.append(signum)
        stop.set()

    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
    finished = asyncio.ensure_future(engine.run_until_finished())
    stopper = asyncio.ensure_future(stop.wait())
    remote = asyncio.ensure_future(remote_stop.wait())
    try:
        await asyncio.wait({finished, stopper, remote}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        stopper.cancel()
        remote.cancel()
        if printer is not None:
            printer.stop()
        await server.close()
    if finished.done() and not finished.cancelled() and not got and not remote_stop.is_set():
        try:
            passed = finished.result()  # raises the engine's failure (a store no retry mends): one line, exit 2
            left = tuple(
                (view.name, view.total - view.counts.get("done", 0) - view.counts.get("skipped", 0))
                for view in (engine.stage_view(s) for s in engine.held_stages())
            )
        finally:
            await engine.shutdown()
        return Ending(passed, left=tuple((name, n) for name, n in left if n))
    finished.cancel()
    running = sum(v.running for v in (engine.stage_view(s) for s in config.stage_names))
    if remote_stop.is_set():
        await engine.shutdown(stop_running=server.stop_running)
        return Ending(False, remote_stop=True, running=running)
    await engine.shutdown(stop_running=stop_running)
    return Ending(False, signal=got[0], running=running)


def run(config: Config, *, progress: bool | None = None, stop_running: bool = False) -> Results:
    """`Pipeline.run()`: see there. Raises RuntimeError where it cannot work instead of hanging."""
    from coopy_core.import_guard import being_loaded

    if being_loaded():
        raise RuntimeError(
            "run() was called while CooPy imports this file to load the pipeline: "
            'put the code that runs it under `if __name__ == "__main__":`'
        )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(
            "run() cannot be called from a running event loop (async code, Jupyter): "
            "use `await pipeline.run_async()`, or an Engine"
        )
    show = sys.stdout.isatty() if progress is None else progress
    main_thread = threading.current_thread() is threading.main_thread()
    return asyncio.run(_run(config, show, stop_running, (signal.SIGINT,) if main_thread else ()))


async def run_async(config: Config, *, progress: bool = False, stop_running: bool = False) -> Results:
    """`Pipeline.run_async()`: `run()` on the caller's loop (no signal handling: the loop is theirs)."""
    return await _run(config, progress, stop_running, ())


async def _run(config: Config, progress: bool, stop_running: bool, signals: tuple[int, ...]) -> Results:
    from coopy_core.outcome import collect

    stream = sys.stdout if progress else None
    ending = await execute(
        config, stream=stream, live=progress and sys.stdout.isatty(), stop_running=stop_running, signals=signals
    )
    if ending.signal == signal.SIGINT:
        if ending.running and progress:
            what = "stopped and queued again" if stop_running else "left running; the next run adopts them"
            print(f"coopy: interrupted; {ending.running} running command(s) {what}", file=sys.stderr)
        raise KeyboardInterrupt
    return await asyncio.to_thread(collect, config)
