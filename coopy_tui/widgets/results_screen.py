"""ResultsScreen (`m`): the results table (`coopy results`) in a DataTable, grouped and sorted by keys.

`g` groups by the next param (then by none again), `o` sorts by the next metric (its column scrolled into
view), `O` turns the order round, a click on a column's header sorts by it; `j` / `k` move the cursor.
A screen is narrower than `coopy results`'s table, so it shows the params that differ (the ones every row
shares are said once in the caption), then the metrics, then each stage's state; no name column repeating
the params (only configurations without params are named). The rows come from the engine's `results`
command (the same table as `coopy results --format json`), asked again every REFRESH seconds while the
screen is open: numbers move while runs train.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from coopy_core.errors import CoopyError
from coopy_core.report import results
from coopy_tui.format import counted

REFRESH = 2.0
Fetch = Callable[..., dict[str, Any]]  # Commands.results(group_by=, sort=, stage=)


class ResultsScreen(ModalScreen[None]):
    HELP_EXTRA = (("←  →", "Scroll the columns sideways (the table's own keys)"),)
    BINDINGS = [
        Binding("escape,q,m", "close", "close", key_display="esc"),
        Binding("g", "next_group", "group by"),
        Binding("o", "next_sort", "sort by"),
        Binding("O", "reverse", "reverse"),
        Binding("j", "cursor(1)", "down", show=False),
        Binding("k", "cursor(-1)", "up", show=False),
    ]

    def __init__(self, fetch: Fetch, title: str, refresh: float = REFRESH) -> None:
        super().__init__()
        self.fetch = fetch
        self.title_text = title
        self.refresh_every = refresh
        self.group_by: list[str] = []
        self.sort: str | None = None
        self.table: results.Table | None = None
        self.error = ""
        self._columns: list[results.Column] = []
        self._shape: tuple[str, ...] = ()
        self._all_params: list[str] = []  # every param (a grouped table has only the grouped ones)
        self._drawn: object = None  # what the table shows now: a refresh that brings the same leaves it alone

    def compose(self) -> ComposeResult:
        with Vertical(id="results-box") as box:
            box.border_title = self.title_text
            box.border_subtitle = "g group by · o sort by · O reverse · esc close"
            yield Static("", id="results-caption", markup=False)
            yield DataTable(id="results-table", zebra_stripes=True, cursor_type="row")

    def on_mount(self) -> None:
        self.reload()
        self.set_interval(self.refresh_every, self.reload, name="results-refresh")
        self.query_one(DataTable).focus()

    # ------------------------------------------------------------------ data
    def reload(self) -> None:
        try:
            data = self.fetch(group_by=self.group_by or None, sort=self.sort)
        except CoopyError as exc:
            self.error = str(exc)
            self.query_one("#results-caption", Static).update(f"cannot get the results: {exc}")
            return
        self.error = ""
        drawn = (data, tuple(self.group_by), self.sort)
        if drawn == self._drawn:  # redrawing the same would jump the view back to its top left for a moment
            return
        self._drawn = drawn
        self.table = results.from_json(data)
        if not self.table.grouped:  # `g` groups by the params that differ (a shared one makes one row of all)
            columns, _ = screen_columns(self.table)
            shown = {c.key.partition(":")[2] for c in columns if c.key.startswith("param:")}
            self._all_params = [p for p in self.table.params if p in shown]
        self._show()

    def _show(self) -> None:
        table = self.table
        assert table is not None
        grid = self.query_one(DataTable)
        columns, shared = screen_columns(table)
        labels = [c.label + self._arrow(c) for c in columns]
        shape = tuple(f"{c.key}\0{label}" for c, label in zip(columns, labels, strict=True))
        cursor = grid.cursor_row
        scroll = (grid.scroll_x, grid.scroll_y)  # clear() scrolls to the top left; the view stays where it was
        if shape != self._shape:  # grouping or sorting changed, or a metric appeared: new columns, new widths
            grid.clear(columns=True)
            for c, label in zip(columns, labels, strict=True):
                grid.add_column(label, key=c.key)
            self._shape = shape
        else:
            grid.clear()
        self._columns = columns
        for row in table.rows:
            grid.add_row(*(_text(results.cell(table, row, c), c.numeric) for c in columns), key=row.task)
        if table.rows:
            grid.move_cursor(row=min(cursor, len(table.rows) - 1), scroll=False)
        what = f" grouped by {', '.join(self.group_by)}" if self.group_by else ""
        order = f", sorted by {self.sort}" if self.sort else ""
        same = f" · same in every row: {shared}" if shared else ""
        self.query_one("#results-caption", Static).update(f"{counted(len(table.rows), 'row')}{what}{order}{same}")
        self.call_after_refresh(self._scroll_back, *scroll)

    def _scroll_back(self, x: float, y: float) -> None:
        """Put the view back where it was (the new rows' sizes are known after a refresh), then show the sorted
        column."""
        if not self.is_mounted:
            return
        grid = self.query_one(DataTable)
        grid.scroll_to(x=x, y=y, animate=False, immediate=True)
        self._show_sorted(grid)

    def _show_sorted(self, grid: DataTable[Any]) -> None:
        """Scroll the sorted column into view (the table may be wider than the screen)."""
        if not self.sort:
            return
        name = self.sort.lstrip("-")
        keys = [c.key for c in self._columns]
        for key in (f"metric:{name}", f"param:{name}", name):
            if key in keys:
                index = keys.index(key)
                break
        else:
            return
        x = sum(c.get_render_width(grid) for c in grid.ordered_columns[:index])
        width = grid.ordered_columns[index].get_render_width(grid)
        seen = grid.scrollable_content_region.width
        if x < grid.scroll_x:
            grid.scroll_to(x=x, animate=False)
        elif x + width > grid.scroll_x + seen:
            grid.scroll_to(x=x + width - seen, animate=False)

    def _arrow(self, column: results.Column) -> str:
        if not self.sort:
            return ""
        name = self.sort.lstrip("-")
        if column.key in (f"metric:{name}", f"param:{name}", name):
            return " ▼" if self.sort.startswith("-") else " ▲"
        return ""

    def rows(self) -> list[list[str]]:
        """The cells as shown (tests read this)."""
        grid = self.query_one(DataTable)
        return [[str(cell) for cell in grid.get_row_at(i)] for i in range(grid.row_count)]

    # ------------------------------------------------------------------ keys
    def action_next_group(self) -> None:
        params = self._all_params
        choices: list[list[str]] = [[]] + [[p] for p in params]
        now = choices.index(self.group_by) if self.group_by in choices else 0
        self.group_by = choices[(now + 1) % len(choices)]
        if self.sort and self.sort.lstrip("-") in params and self.sort.lstrip("-") not in self.group_by:
            self.sort = None  # a param grouped away cannot order the groups
        self.reload()

    def action_next_sort(self) -> None:
        if self.table is None or not self.table.metrics:
            self.notify("No metrics to sort by yet", severity="warning")
            return
        names = self.table.metrics
        current = self.sort.lstrip("-") if self.sort else None
        nxt = names[(names.index(current) + 1) % len(names)] if current in names else names[0]
        self.sort = nxt
        self.reload()

    def action_reverse(self) -> None:
        if self.sort:
            self.sort = self.sort[1:] if self.sort.startswith("-") else f"-{self.sort}"
            self.reload()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        kind, _, name = str(event.column_key.value).partition(":")
        if kind not in ("metric", "param", "n", "task"):
            return
        name = name or kind
        self.sort = f"-{name}" if self.sort == name else name
        self.reload()

    def action_cursor(self, rows: int) -> None:
        grid = self.query_one(DataTable)
        (grid.action_cursor_down if rows > 0 else grid.action_cursor_up)()

    def action_close(self) -> None:
        self.dismiss(None)


def screen_columns(table: results.Table) -> tuple[list[results.Column], str]:
    """The columns a screen shows, and the params every row shares (`dataset=cifar10`) to say once."""
    shared: list[str] = []
    out: list[results.Column] = []
    for column in results.columns(table):
        kind, _, name = column.key.partition(":")
        if kind == "task" and table.params:
            continue  # the name is the params again
        if kind == "param" and not table.grouped and len(table.rows) > 1:
            values = {results.cell(table, row, column) for row in table.rows}
            if len(values) == 1:
                shared.append(f"{name}={values.pop()}")
                continue
        out.append(column)
    metrics = [c for c in out if c.key.startswith("metric:")]
    stages = [c for c in out if c.key.startswith("stage:")]
    rest = [c for c in out if c not in metrics and c not in stages]
    return rest + metrics + stages, ",".join(shared)


def _text(text: str, right: bool = False) -> Any:
    from rich.text import Text

    return Text(text, justify="right" if right else "left")
