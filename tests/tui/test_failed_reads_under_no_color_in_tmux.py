"""Under NO_COLOR a failed run's glyph and state word read on the list's background: Textual greys every colour
by its luminance, and the red of `failed` greyed to 23 % (grey 59 on grey 38), unreadable in a real terminal.
Read in tmux with the escape sequences: the grey of `failed` against the grey of its row."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.helpers.cli import coopy
from tests.helpers.tmux import Tmux, tui_command
from tests.helpers.tui_pipelines import FAILING, write
from tests.helpers.waiting import poll

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

SGR = re.compile(r"\x1b\[([0-9;]*)m")


def grey(index: int) -> int:
    """The brightness (0-255) of a 256-colour index (the grey ramp, the 6x6x6 cube by its mean)."""
    if index >= 232:
        return 8 + 10 * (index - 232)
    if index >= 16:
        levels = [0, 95, 135, 175, 215, 255]
        i = index - 16
        return sum(levels[c] for c in (i // 36, i // 6 % 6, i % 6)) // 3
    return 128


def colours_before(line: str, word: str) -> tuple[int, int]:
    """The (foreground, background) brightness in effect where `word` is on `line` (-1: the terminal's)."""
    fg = bg = -1
    parts = SGR.split(line)  # text, codes, text, codes, ...
    for i, part in enumerate(parts):
        if i % 2 == 0:
            if word in part:
                return fg, bg
            continue
        codes = [int(c) for c in part.split(";") if c] or [0]
        j = 0
        while j < len(codes):
            if codes[j] in (38, 48) and j + 2 < len(codes) and codes[j + 1] == 5:
                if codes[j] == 38:
                    fg = grey(codes[j + 2])
                else:
                    bg = grey(codes[j + 2])
                j += 3
                continue
            if codes[j] == 0:
                fg = bg = -1
            elif codes[j] == 39:
                fg = -1
            elif codes[j] == 49:
                bg = -1
            j += 1
    return fg, bg


def test_failed_rows_read_under_no_color(tmp_path: Path) -> None:
    write(tmp_path, FAILING)
    tmux = Tmux(tmp_path)
    try:
        tmux.start(f"env NO_COLOR=1 {tui_command()} coopy.toml")
        poll(lambda: tmux.screen_if(lambda s: s.count("✗ x=") >= 2), 60, "two failed runs in the first stage")
        rows = [line for line in tmux.screen_with_colours().splitlines() if "✗ x=" in SGR.sub("", line)]
        assert len(rows) >= 2, tmux.screen()
        for row in rows:
            fg, bg = colours_before(row, "failed")
            assert fg >= 0 and bg >= 0, row
            assert fg - bg >= 60, f"'failed' in grey {fg} on grey {bg}: {row!r}"
    finally:
        tmux.kill()
        coopy("stop", "coopy.toml", "--stop-running", cwd=tmp_path, timeout=60)
