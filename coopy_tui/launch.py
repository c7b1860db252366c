"""The `coopy-tui` command's entry point: Ctrl-C while it starts (imports, the config, the engine) ends it with
exit 130 and one line, never a traceback, as `coopy` does (`coopy_core.cli.launch`). Once the screen runs, Ctrl-C
is a key of the UI."""

from __future__ import annotations

import sys

from coopy_core.cli.launch import guarded


def main() -> int:
    def command() -> int:
        from coopy_tui.cli import main as cli_main

        return cli_main()

    return guarded("coopy-tui", command)


if __name__ == "__main__":
    sys.exit(main())
