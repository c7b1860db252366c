"""How a marked run's row shows its mark: a symbol before the state glyph, so it reads under NO_COLOR too."""

from __future__ import annotations

from rich.text import Text

MARK = "●"  # in the task column, between the state glyph and the name: `▶●lr=0.1`


def marked_cells(cells: list[Text]) -> list[Text]:
    """The row's cells with the mark in place of the space after the state glyph: the name stays in the
    same cells as in the other rows and under its header (a mark before the glyph pushed it one off)."""
    if not cells or cells[0].plain[1:2] != " ":  # not `glyph, space, name`: leave it whole
        return cells
    first = cells[0]
    return [Text.assemble(first[:1], (MARK, "bold"), first[2:]), *cells[1:]]
