"""`coopy-tui CONFIG`: validate, attach to the pipeline's engine (starting it in the background when
none runs), then show the UI.

Everything that can fail with a one-line message (a bad config, an engine that cannot start) fails
before Textual touches the terminal, so the message is printed on a normal terminal and nothing needs
restoring. The screen talks to the engine only through the EngineClient interface: a RemoteEngine over
the control socket by default, or, with `--in-process`, an Engine on the app's own asyncio loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from textual.theme import BUILTIN_THEMES

# Everything the start needs is imported here, not where it is used: `coopy_tui.launch` loads this module with
# Ctrl-C held back (an exception raised inside an import can become another one or be swallowed: guard.held_back).
from coopy_core.cli.guard import run_whole
from coopy_core.cli.main import version
from coopy_core.config import Config
from coopy_core.config.load import load_config_unexpanded
from coopy_core.engine import Engine
from coopy_core.errors import CoopyError
from coopy_core.loader import load_target
from coopy_core.wire.daemon import ensure_engine
from coopy_core.wire.remote import RemoteEngine, connect
from coopy_tui.app import CoopyApp
from coopy_tui.settings import Settings, check_theme, load_settings
from coopy_tui.widgets.quit_screen import QuitChoice

EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED = 0, 2, 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="coopy-tui",
        description="Watch and steer a CooPy pipeline from the keyboard (press ? inside for the keys).",
    )
    p.add_argument(
        "config",
        metavar="CONFIG",
        help="the pipeline: coopy.toml, or one defined in Python: file.py[:attribute] or module:attribute",
    )
    p.add_argument("--version", action="version", version=f"coopy-tui {version()}", help="print the version")
    p.add_argument(
        "--in-process",
        action="store_true",
        help="run the engine inside this process (it stops when the UI quits) instead of attaching to a "
        "background engine",
    )
    p.add_argument(
        "--metrics",
        metavar="NAME[,NAME]",
        help="the metric columns of the run tables, in this order (default: the first 3 each stage reports)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        # From here a Ctrl-C is Python's KeyboardInterrupt again (answered below), which asyncio.run turns
        # into cancelling the loop's work; once the screen runs, Ctrl-C is a key.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        config = load_for_screen(args.config, in_process=args.in_process)
        settings = _settings(config, args.config)
        metrics = [m.strip() for m in (args.metrics or "").split(",") if m.strip()] or None
        if args.in_process:
            return run_whole(_run(config, args.config, settings, metrics))
        return run_whole(_attach(config, args.config, settings, metrics))
    except CoopyError as exc:
        print(f"coopy-tui: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while saying so changes nothing
        print("coopy-tui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def load_for_screen(spec: str, in_process: bool = False) -> Config:
    """The config to attach with. When a live engine answers for a TOML file, its configurations are not
    expanded here (a million take 4 s and 400 MB; the screen gets them from the engine); else the whole file
    is checked, as the engine this screen may start will need it."""
    path = Path(spec)
    if not in_process and path.is_file() and path.suffix != ".py":
        light = load_config_unexpanded(path)
        try:
            connect(light).close()
        except CoopyError:  # no engine answers (or another pipeline's): the whole file
            pass
        else:
            return light
    return load_target(spec)


def _settings(config: Config, shown: str) -> Settings:
    """Keymap, theme and notification from `[tui]` and the user's own file, checked before the UI."""
    settings = load_settings(config, shown=shown)
    check_theme(settings, set(BUILTIN_THEMES))
    return settings


def _log_to_file(config: Config) -> None:
    """Engine warnings go to a file: nothing may write to the terminal under the UI."""
    handler = logging.FileHandler(config.state_dir / "coopy-tui.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("coopy")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


HANG_UP_GRACE = 5.0


def _terminal_gone() -> None:
    """After SIGHUP the terminal is gone: point stdin/stdout/stderr at /dev/null so the UI's last writes
    cannot fail, and exit for sure after a grace period — Textual's output thread can die on the lost
    terminal and leave its shutdown waiting for ever. Nothing is lost by exiting: every engine state
    change is already committed, and running commands are detached from us."""
    import os
    import threading

    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
    timer = threading.Timer(HANG_UP_GRACE, os._exit, args=(0,))
    timer.daemon = True
    timer.start()


async def _attach(config: Config, shown: str, settings: Settings, metrics: list[str] | None = None) -> int:
    client, started = ensure_engine(  # StateError ends here, before the UI
        config, events=True, on_wait=lambda text: print(f"coopy-tui: {text}", file=sys.stderr)
    )
    pid = client.info.get("pid")
    if started and isinstance(pid, int):
        _reap_when_it_exits(pid)

    def reconnect() -> RemoteEngine | None:
        """A new engine of this pipeline, if one answers (none is started from here)."""
        try:
            return connect(config, events=True)
        except CoopyError:
            return None

    app = CoopyApp(client, background=True, settings=settings, metrics=metrics, reconnect=reconnect)
    loop = asyncio.get_running_loop()

    def hang_up() -> None:
        _terminal_gone()
        app.exit(QuitChoice.LEAVE)  # the terminal went away (SSH dropped): detach; the engine goes on

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGHUP, hang_up)
        loop.add_signal_handler(signal.SIGTERM, lambda: app.exit(QuitChoice.LEAVE))  # terminal still there
    try:
        await app.run_async()
    finally:
        gone = app.link.gone
        stop = app.return_value == QuitChoice.STOP and not gone
        last = app.client  # a re-attach replaced the first one
        if isinstance(last, RemoteEngine):
            last.on_disconnect = None
            pid = last.info.get("pid")
            if stop:
                with contextlib.suppress(CoopyError):
                    last.stop(stop_running=True)
            last.close()
        client.close()
    if gone:
        print(f"coopy-tui: the engine had stopped; `coopy-tui {shown}` starts it again where it was", file=sys.stderr)
    elif stop:
        await _wait_gone(pid)
        print(f"coopy-tui: pipeline stopped; `coopy-tui {shown}` starts it again where it was", file=sys.stderr)
    else:
        how = "started" if started and app.client is client else "running"
        print(
            f"coopy-tui: detached; the engine (pid {pid}, {how} in the background) goes on. "
            f"`coopy-tui {shown}` re-attaches, `coopy stop {shown}` stops it.",
            file=sys.stderr,
        )
    return app.return_code or EXIT_OK


def _reap_when_it_exits(pid: int) -> None:
    """The engine this viewer started is its child: wait for it in a thread, so that when it stops (from
    here or from any other viewer) it does not linger as a zombie, which other viewers took for alive."""
    import os
    import threading

    def wait() -> None:
        with contextlib.suppress(ChildProcessError):  # already reaped by `_running`
            os.waitpid(pid, 0)

    threading.Thread(target=wait, name="coopy-reap-engine", daemon=True).start()


def _running(pid: int) -> bool:
    """The process lives: reaped if it is our child and has exited; a zombie (another viewer's child
    that has exited) counts as gone."""
    import os
    from pathlib import Path

    with contextlib.suppress(ChildProcessError):
        return os.waitpid(pid, os.WNOHANG)[0] == 0
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


async def _wait_gone(pid: object, timeout: float = 15.0) -> None:
    """After "stop the pipeline": return once the engine process has exited (its commands stopped)."""
    import time

    if not isinstance(pid, int):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _running(pid):
        await asyncio.sleep(0.05)


async def _run(config: Config, shown: str, settings: Settings, metrics: list[str] | None = None) -> int:
    engine = Engine(config)
    await engine.start()  # StateError (another engine owns the state dir) ends here, before the UI
    _log_to_file(config)
    app = CoopyApp(engine, settings=settings, metrics=metrics)
    loop = asyncio.get_running_loop()

    def hang_up() -> None:
        # the terminal went away (SSH dropped) or we were asked to stop: leave commands running
        _terminal_gone()
        app.exit(QuitChoice.LEAVE)

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGHUP, hang_up)
        loop.add_signal_handler(signal.SIGTERM, lambda: app.exit(QuitChoice.LEAVE))  # terminal still there
    try:
        await app.run_async()
    finally:
        running = sum(v.running for v in engine.snapshot().stages)
        stop = app.return_value == QuitChoice.STOP
        if stop and running:
            print(f"coopy-tui: stopping {running} running command(s)...", file=sys.stderr)
        await engine.shutdown(stop_running=stop)
    if running:
        if stop:
            print(f"coopy-tui: {running} command(s) stopped and queued again", file=sys.stderr)
        else:
            print(
                f"coopy-tui: {running} command(s) left running; "
                f"`coopy-tui {shown}` or `coopy run {shown}` picks them up",
                file=sys.stderr,
            )
    return app.return_code or EXIT_OK
