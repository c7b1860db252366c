"""StagePanel: one stage, its header (title, cap, paused badge, counts, bar) and its task list."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual.app import ComposeResult
from textual.color import Color
from textual.containers import Vertical

from coopy_core.model import StageView
from coopy_tui.format import Estimate
from coopy_tui.marks import MARK
from coopy_tui.names import Names
from coopy_tui.widgets.run_columns import DEFAULT_COLUMNS, Column
from coopy_tui.widgets.run_table import RunTable
from coopy_tui.widgets.stage_header import StageHeader


class StagePanel(Vertical):
    """A bordered column; the border title carries name, `running/cap` and a PAUSED badge, the bottom
    border the list's order when it is not the default."""

    def __init__(
        self,
        view: StageView,
        total: int,
        clock: Callable[[], float],
        task_width: int,
        columns: Sequence[Column] = DEFAULT_COLUMNS,
        metrics: Sequence[str] | None = None,
        names: Names | None = None,
    ) -> None:
        super().__init__(id=f"stage-{view.index}", classes="stage-panel")
        self.stage = view.name
        self.index = view.index
        self.view = view
        self.total = total
        self.header = StageHeader(view, total, shared=names.constants_text() if names else "")
        self.table = RunTable(
            view.name,
            clock,
            task_width,
            columns=columns,
            id=f"runs-{view.index}",
            metrics=metrics,
            names=names.for_stage(view.over) if names else None,
        )
        if names is not None:
            self.table.shorten = names.in_text  # every stage's: a reason names runs of other stages
        self._title = ""
        self._subtitle = ""
        self._note = ("", "")  # (task, text): see note()
        self._shown_as = (False, False)  # (current, tabs): see show_as()

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.table

    def on_mount(self) -> None:
        self._set_title()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.show_as(*self._shown_as), immediate=True)

    def show_as(self, current: bool, tabs: bool) -> None:
        """The current stage: twice as wide, a heavy border in the theme's accent; with one stage at a time
        (`tabs`), the only one shown. The panel's own styles, not a class: a class made Textual restyle the
        panel and all in it (header, list, scrollbars) and draw them again, a fifth of what `tab` cost."""
        self._shown_as = (current, tabs)
        self.display = current or not tabs
        self.styles.width = "2fr" if current and not tabs else "1fr"
        self.styles.border = ("heavy", Color.parse(self.app.theme_variables["accent"])) if current else None

    def set_names(self, names: Names) -> None:
        """The configurations changed: what they share (the header) and how names show (the list)."""
        self.header.set_shared(names.constants_text())
        self.table.shorten = names.in_text
        self.table.set_names(names.for_stage(self.view.over))

    def update_view(self, view: StageView, total: int, busy: bool = True, estimate: Estimate | None = None) -> None:
        changed = view != self.view
        self.view = view
        self.total = total
        self.header.update_view(view, total, busy, estimate)
        if changed:
            self._set_title()

    def _set_title(self) -> None:
        v = self.view
        badge = " [reverse b] ⏸ PAUSED [/]" if v.paused else ""
        title = f"{v.name} [b]▶ {v.running}/{v.workers}[/b]{badge}"
        if title != self._title:  # every event changes the counts; the title rarely
            self._title = title
            self.border_title = title
        self.set_class(v.paused, "-paused")

    def note(self, task: str, text: str) -> None:
        """A word about `task` on the border (a new priority where the pri column does not fit), shown
        while it is the selected run: cheaper than a toast, which costs a layout."""
        self._note = (task, text)
        self.update_subtitle()

    def update_subtitle(self) -> None:
        """`sort: name` when the list is not in its default order (the filter row has the filter's counts),
        after the note about the selected run, if any, and how many runs are marked."""
        subtitle = f"sort: {self.table.sort.name}" if self.table.sort.name != "queue" else ""
        task, text = self._note
        if task and task == self.table.selected_task:
            subtitle = f"{text} · {subtitle}" if subtitle else text
        if self.table.marked:  # what c / r / + / - act on now
            marked = f"{MARK} {len(self.table.marked)} marked"
            subtitle = f"{marked} · {subtitle}" if subtitle else marked
        if subtitle != self._subtitle:
            self._subtitle = subtitle
            self.border_subtitle = subtitle
