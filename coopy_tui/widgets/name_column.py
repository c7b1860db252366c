"""NameColumn: a run list's name column, showing names as coopy_tui.names says (what differs, or whole in wide mode).

Kept apart from RunTable (which runs are the rows) so the table asks it only for a cell, the widths the
name reads well at, and the header over it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from coopy_core.model import RunView
from coopy_tui.format import STATE_GLYPHS, STATE_STYLES
from coopy_tui.names import Names
from coopy_tui.widgets.run_columns import STATE, Column, Row

PREFIX = 3  # the state glyph, a space, and the gap after the name


class NameColumn:
    def __init__(self, names: Names | None) -> None:
        self.names = names  # None: names whole, cut to the table's task width (a table made without them)
        self.wide = False  # `W`: every name whole, the list scrolls sideways when it must
        self.column = Column("task", "task", 0, self.cell, required=True)

    def own(self, columns: Sequence[Column]) -> tuple[Column, ...]:
        """`columns` with this name column in place of a plain `task` one."""
        return tuple(self.column if c.key == "task" and self.names is not None else c for c in columns)

    def cell(self, run: RunView, row: Row) -> Text:
        glyph = (f"{STATE_GLYPHS[run.state]} ", STATE_STYLES[run.state])
        assert self.names is not None
        return Text.assemble(glyph, (self.names.show(run.task, max(1, row.width - PREFIX), self.wide), ""))

    def wants(self, task_width: int) -> tuple[int, ...]:
        """The widths the name reads well at, widest first (run_columns.fit)."""
        if self.names is None:
            return (task_width,)
        return (self.names.longest,) if self.wide else self.names.wants()

    def least_width(self) -> int:
        """Wide mode lays the name and the state out whole, wider than the list if need be."""
        return self.names.longest + PREFIX + STATE.width if self.wide and self.names is not None else 0

    def label(self, column: Column, width: int) -> str:
        """The keys over aligned values (`model  lr  seed`), else the column's own label; either over the
        names, past their state glyph and its space."""
        if column.key != "task":
            return column.label
        if self.names is None or self.names.mode(width - PREFIX, self.wide) != "values":
            return "  " + column.label
        return "  " + self.names.header(width - PREFIX)
