"""The background engine: the pipeline keeps flowing with no screen; screens attach through the socket.

`python -m coopy_core.wire.daemon CONFIG` runs an Engine plus its ControlServer until asked to stop (a
client's "stop", or SIGTERM), logging its events to `state_dir/engine.log`. Once the pipeline has
finished and no client has been connected for `LINGER` seconds it stops by itself. `ensure_engine()`
finds the live engine of a config or starts one, replacing a stale socket left by a killed engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from coopy_core.config import Config
from coopy_core.config.load import check_engine_memory
from coopy_core.engine import Engine
from coopy_core.errors import CoopyError, StateError
from coopy_core.lifecycle.plugins import make_plugins
from coopy_core.loader import is_module_source, load_target
from coopy_core.model import Event, EventKind
from coopy_core.state.store import EngineLock
from coopy_core.wire.address import socket_path
from coopy_core.wire.remote import EngineUnavailable, RemoteEngine, connect  # connect: also for its callers
from coopy_core.wire.server import ControlServer

LOG_NAME = "engine.log"
LINGER = 600.0
START_NOTE = 20.0  # seconds: a start still going then is said once (and waited for while the engine lives)
HOLDER_NOTE = 5.0  # an engine that took the lock binds its socket within a second, unless its start is long


def _log_events(stream: logging.Logger) -> Callable[[Event], None]:
    def on_event(event: Event) -> None:
        if event.kind == EventKind.RUN and event.run is not None:
            r = event.run
            extra = f" exit={r.exit_code}" if r.exit_code is not None else ""
            reason = f" ({r.reason})" if r.reason else ""
            stream.info("run %s/%s attempt %d %s%s%s", r.stage, r.task, r.attempt, r.state.value, extra, reason)
        elif event.kind == EventKind.STAGE and event.stage is not None:
            s = event.stage
            stream.info("stage %s workers=%d paused=%s", s.name, s.workers, s.paused)
        elif event.message:
            stream.info("%s: %s", event.kind.value, event.message)

    return on_event


async def serve(config: Config, linger: float = LINGER, take_over: bool = False) -> int:
    engine = Engine(config, take_over=take_over)
    events = logging.getLogger("coopy.events")
    log_event = _log_events(events)
    # Runs' lines from the end of the start on: the start's own transitions (every queued run of 100,000
    # configurations) would be held as events until its commit, doubling its time and the engine's memory;
    # they are in the store, and a line per stage says where the start left them.
    engine.subscribe(log_event, frozenset(EventKind) - {EventKind.RUN})
    stop = asyncio.Event()
    stopped_while_starting = _stop_while_starting(engine)
    await engine.start()
    if stopped_while_starting():  # `coopy stop` (or SIGTERM) during the start: it started no run
        await engine.shutdown()
        events.info("engine stopped while it was starting; no run was started")
        return 0
    server = ControlServer(engine, stop)
    engine.subscribe(log_event, frozenset({EventKind.RUN}))
    for name in engine.config.stage_names:
        counts = ", ".join(f"{k} {n}" for k, n in engine.stage_view(name).counts.items() if n)
        events.info("stage %s started with %s", name, counts or "no runs")
    await server.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: None)  # no terminal to lose
    events.info("engine pid %d serving %s on %s", os.getpid(), config.path, server.path)
    idle_since: float | None = None
    while not stop.is_set() and engine.failure is None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)
        finished = engine.finished
        if finished and server.clients == 0:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= linger:
                events.info("pipeline finished and nobody attached for %.0fs: stopping", linger)
                break
        else:
            idle_since = None
    await server.close()
    await engine.shutdown(stop_running=server.stop_running)
    if engine.failure is not None:  # its one line is in the log already (an error event)
        return engine.failure.exit_code
    events.info("engine stopped%s", " (running commands stopped)" if server.stop_running else "")
    return 0


def _stop_while_starting(engine: Engine) -> Callable[[], bool]:
    """Until the control socket answers, `coopy stop` reaches the engine as SIGTERM (SIGINT alike): taken as a
    stop before any run starts, even while the start is busy (Python runs the handler between two bytecodes of
    the start; the loop's own handlers replace these once it serves)."""
    asked: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        asked.append(signum)
        engine.hold_dispatch()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    return lambda: bool(asked)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    take_over = "--take-over" in args
    args = [a for a in args if a != "--take-over"]
    if not args:
        print("usage: python -m coopy_core.wire.daemon CONFIG [--take-over]", file=sys.stderr)
        return 2
    try:
        config = load_target(args[0])
    except CoopyError as exc:
        print(f"coopy: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        return asyncio.run(serve(config, float(os.environ.get("COOPY_LINGER", LINGER)), take_over))
    except CoopyError as exc:  # the state dir is taken, a plug-in cannot be made, ...: one line in engine.log
        print(f"coopy: {exc}", file=sys.stderr)
        return exc.exit_code


def spawn(config: Config, take_over: bool = False) -> int:
    """Start the background engine for `config`, detached from this terminal; returns its pid.

    It loads the config again by `config.source`: a TOML path, or a Python pipeline by the name it was
    loaded with (`file.py:attribute`; a `module:attribute` is imported from this process's folder)."""
    if not config.source:
        raise StateError(
            f"{config.path}: the background engine cannot load a pipeline that was built in Python but not "
            "loaded by name; name it as `file.py:attribute` (coopy run --detach file.py:pipeline)"
        )
    config.state_dir.mkdir(parents=True, exist_ok=True)
    log_path = config.state_dir / LOG_NAME
    env = None
    if is_module_source(config.source):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (os.getcwd(), env.get("PYTHONPATH", "")) if p)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "coopy_core.wire.daemon", config.source, *(["--take-over"] if take_over else [])],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=config.base_dir,
            start_new_session=True,
            close_fds=True,
        )
    return proc.pid


def ensure_engine(
    config: Config, events: bool = True, take_over: bool = False, on_wait: Callable[[str], None] | None = None
) -> tuple[RemoteEngine, bool]:
    """Attach to the live engine of `config`, starting one when there is none.

    Returns (client, started). A socket whose engine died (SIGKILL) is detected by the free state-dir
    lock and replaced by the new engine. A start takes as long as it takes (a big new input to hash): this
    waits while the engine lives, and says once, through `on_wait`, that it is still starting; it never
    reports "no engine" about an engine that goes on to run the pipeline.
    """
    try:
        return connect(config, events), False
    except EngineUnavailable:
        pass
    holder = EngineLock.holder(config.state_dir) if config.state_dir.exists() else None
    if holder is None:
        check_engine_memory(config)  # said here, not in the engine's log, like a plug-in that cannot be made:
        make_plugins(config)  # before the engine writes anything
    pid = spawn(config, take_over) if holder is None else holder  # else: an engine is starting; wait for its socket
    note_at: float | None = time.monotonic() + (START_NOTE if holder is None else HOLDER_NOTE)
    while True:
        try:
            return connect(config, events), holder is None
        except EngineUnavailable:
            pass
        if not alive(pid):
            if holder is None:
                raise StateError(
                    f"the background engine exited at start; see {config.state_dir / LOG_NAME}: "
                    + _last_line(config.state_dir / LOG_NAME)
                )
            raise StateError(
                f"{config.state_dir}: the coopy engine (pid {holder}) that held this pipeline exited before it "
                "answered; try again"
            )
        if note_at is not None and time.monotonic() >= note_at:
            note_at = None
            if holder is not None and not _runs_coopy(holder):  # not an engine that is starting: it will not answer
                raise StateError(
                    f"{config.state_dir}: another coopy engine (pid {holder}) holds this pipeline "
                    f"but does not answer on {socket_path(config.state_dir)}"
                )
            if on_wait is not None:
                on_wait(
                    f"the engine (pid {pid}) is still starting; waiting for it (Ctrl-C stops waiting, not the "
                    f"engine; `coopy stop` stops it; see {config.state_dir / LOG_NAME})"
                )
        time.sleep(0.05)


def _runs_coopy(pid: int) -> bool:
    """Whether `pid` runs CooPy (an engine that may still be starting: `coopy run`, the background engine,
    coopy-tui), by its command line; a process that merely holds the lock does not."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(b"coopy" in part for part in argv[:3])


def alive(pid: int) -> bool:
    """Also reaps `pid` if it is our child and has exited (so it is not a zombie we wait on)."""
    try:
        waited, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return Path(f"/proc/{pid}").exists()
    return waited == 0


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


if __name__ == "__main__":
    sys.exit(main())
