"""How a marked run's row shows its mark: a symbol before the state glyph, so it reads under NO_COLOR too."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

MARK = "●"  # before the task column's state glyph: `●▶ lr=0.1`


def marked_cells(cells: list[Text], widths: Sequence[int]) -> list[Text]:
    """The row's cells with the mark leading the first one, cut to its width (its gap kept)."""
    if not cells:
        return cells
    first = Text.assemble((MARK, "bold"), cells[0])
    first.truncate(max(1, widths[0] - 1))
    return [first, *cells[1:]]
