"""GraphScreen (`d`): the pipeline's stages as a graph, what each needs, what its runs are, how far it is.

The drawing puts each stage in a column after everything it needs (`prepare ─▶ train, baseline ─▶
compare`); the table under it names each stage's needs exactly (a drawing of a DAG in one line
cannot), its `over` (one run per configuration, per group, or one for all) and its progress.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static

from coopy_core.model import StageView
from coopy_tui.format import cut, estimates, passed, stage_status, stage_total
from coopy_tui.widgets.stage_tabs import marks


def layers(views: list[StageView]) -> list[list[str]]:
    """Stages by depth: a stage sits one layer after the deepest stage it needs."""
    depth: dict[str, int] = {}
    by_name = {v.name: v for v in views}
    for v in views:  # the engine lists stages with every need before them
        depth[v.name] = 1 + max((depth.get(n, 0) for n in v.needs if n in by_name), default=-1)
    out: list[list[str]] = []
    for v in views:
        while len(out) <= depth[v.name]:
            out.append([])
        out[depth[v.name]].append(v.name)
    return out


def drawing(views: list[StageView]) -> str:
    """`prepare ─▶ train, baseline ─▶ compare`."""
    return " ─▶ ".join(", ".join(layer) for layer in layers(views))


def over_text(view: StageView) -> str:
    if view.over is None:
        return "per configuration"
    if not view.over:
        return "one run for all"
    return "per " + " × ".join(view.over)


HEADINGS = ("stage", "needs", "runs", "of", "done", "status")
SHRINK = ((3, 8), (1, 6), (5, 6), (0, 8))  # (column, fewest cells): what gives up cells first when narrow
GAP = 2


def graph_rows(views: list[StageView], total: int, busy: bool) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [HEADINGS]
    etas = estimates(views, total)
    for v in views:
        runs = stage_total(v, total)
        status = stage_status(v, total, busy, etas[v.name])
        if m := marks(v):
            status += f"  {m}"
        rows.append((v.name, ", ".join(v.needs) or "–", str(runs), over_text(v), f"{passed(v)}/{runs}", status))
    return rows


def graph_table(views: list[StageView], total: int, busy: bool, width: int = 1000) -> Text:
    """One line per stage, each cell under its heading at any width: the widest texts are cut (`…`), a
    line is never wrapped (it would land under another column)."""
    rows = graph_rows(views, total, busy)
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADINGS))]
    for column, fewest in SHRINK:
        over = sum(widths) + GAP * (len(widths) - 1) - width
        if over > 0:
            widths[column] = max(fewest, widths[column] - over)
    text = Text(no_wrap=True, overflow="crop")
    for i, row in enumerate(rows):
        if i:
            text.append("\n")
        cells = [
            cut(cell, w).rjust(w) if c in (2, 4) else cut(cell, w).ljust(w)
            for c, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        text.append((" " * GAP).join(cells).rstrip()[:width], style="bold" if i == 0 else "")
    return text


class GraphTable(Widget):
    """The table under the drawing, laid out for the width it gets."""

    DEFAULT_CSS = "GraphTable { height: auto; }"

    def __init__(self, views: list[StageView], total: int, busy: bool, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.views, self.total, self.busy = views, total, busy

    def render(self) -> Text:
        return graph_table(self.views, self.total, self.busy, self.content_region.width or 1000)


class GraphScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,d,q", "close", "close", key_display="esc")]

    def __init__(self, views: list[StageView], total: int, busy: bool) -> None:
        super().__init__()
        self.views = views
        self.total = total
        self.busy = busy

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="graph-box") as box:
            box.border_title = "pipeline graph"
            box.border_subtitle = "esc close"
            yield Static(Text(drawing(self.views), style="bold"), id="graph-drawing")
            yield GraphTable(self.views, self.total, self.busy, id="graph-table")

    def action_close(self) -> None:
        self.dismiss(None)
