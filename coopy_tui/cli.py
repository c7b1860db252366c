"""`coopy-tui CONFIG`: validate, take the pipeline's state dir, then show the UI.

Everything that can fail with a one-line message (a bad config, another
engine owning the state dir) fails before Textual touches the terminal, so the
message is printed on a normal terminal and nothing needs restoring. The
engine runs on the same asyncio loop as the app: commands are plain calls.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from coopy_core.config import Config, load_config
from coopy_core.errors import CoopyError

EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED = 0, 2, 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="coopy-tui",
        description="Watch and steer a CooPy pipeline from the keyboard (press ? inside for the keys).",
    )
    p.add_argument("config", help="path to coopy.toml")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
        return asyncio.run(_run(config, args.config))
    except CoopyError as exc:
        print(f"coopy-tui: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _log_to_file(config: Config) -> None:
    """Engine warnings go to a file: nothing may write to the terminal under the UI."""
    handler = logging.FileHandler(config.state_dir / "coopy-tui.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("coopy")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


async def _run(config: Config, shown: str) -> int:
    from coopy_core.engine import Engine
    from coopy_tui.app import CoopyApp
    from coopy_tui.widgets.quit_screen import QuitChoice

    engine = Engine(config)
    await engine.start()  # StateError (another engine owns the state dir) ends here, before the UI
    _log_to_file(config)
    app = CoopyApp(engine)
    loop = asyncio.get_running_loop()

    def hang_up() -> None:
        # the terminal went away (SSH dropped) or we were asked to stop: leave commands running
        app.exit(QuitChoice.LEAVE)

    for sig in (signal.SIGHUP, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, hang_up)
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
