"""The `coopy-tui` command's entry point: Ctrl-C while it starts (imports, the config, the engine) ends it with
exit 130 and one line, never a traceback, as `coopy` does (`coopy_core.cli.launch`). Once the screen runs, Ctrl-C
is a key of the UI."""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # the builtin under `signal`: loaded with the interpreter

# A Ctrl-C waits from here until `guarded` has taken it over (and lets it through): one landing while the modules
# below load (coopy_core's package, the guard) ends as "interrupted", not as a traceback from inside an import.
_signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT})

import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import NoReturn  # noqa: E402

from coopy_core.cli.fast_exit import exit_now  # noqa: E402
from coopy_core.cli.guard import guarded  # noqa: E402


def main() -> NoReturn:
    """Runs the TUI and exits the process (`coopy_core.cli.fast_exit`): an entry point, nothing else."""

    def load() -> Callable[[], int]:
        from coopy_tui.cli import main as cli_main  # with all it needs to start (Textual, the app, the engine)

        return cli_main

    exit_now(guarded("coopy-tui", load))


if __name__ == "__main__":
    sys.exit(main())
