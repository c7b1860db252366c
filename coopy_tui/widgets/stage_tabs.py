"""StageTabs: the stage strip shown when the screen is too narrow for side-by-side panels.

Every tab carries what went wrong in its stage (`train ✗3 ⊗12`), so failures are found without
visiting each stage. When the full labels do not fit, the other stages shrink to their name and
marks; the current one keeps its counts. A click on a tab makes it the current stage.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from coopy_core.model import StageView
from coopy_tui.format import passed, stage_total


def marks(view: StageView) -> str:
    """`✗3 ⊘1 ⊗12`: failed, cancelled, blocked (only those there are)."""
    c = view.counts
    out = [f"{g}{c[s]}" for s, g in (("failed", "✗"), ("cancelled", "⊘"), ("blocked", "⊗")) if c.get(s, 0)]
    return " ".join(out)


class StageTabs(Widget):
    """` prepare 3/6 │ train ▶2/2 0/6 ✗1 ⏸ │ evaluate 0/6 `; the current stage in reverse video."""

    class Selected(Message):
        """A tab was clicked: show that stage."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, views: list[StageView], total: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.views = views
        self.total = total
        self.current = 0
        self._spans: list[tuple[int, int, int]] = []  # (start, end, stage index) of each tab as drawn

    def update_views(self, views: list[StageView], total: int, current: int) -> None:
        if views != self.views or total != self.total or current != self.current:
            self.views = views
            self.total = total
            self.current = current
            self.refresh()

    def label(self, i: int, full: bool, name_width: int = 0) -> str:
        v = self.views[i]
        name = v.name if not name_width or len(v.name) <= name_width else v.name[: name_width - 1] + "…"
        label = f" {name}"
        if full:
            label += f" ▶{v.running}/{v.workers} {passed(v)}/{stage_total(v, self.total)}"
        if m := marks(v):
            label += f" {m}"
        if v.paused:
            label += " ⏸"
        return label + " "

    def render(self) -> Text:
        width = self.content_region.width or 80
        n = len(self.views)
        labels = [self.label(i, True) for i in range(n)]
        for name_width in (0, 8, 5, 3):  # the others shrink to their (shortened) names and marks
            if sum(len(x) for x in labels) + n - 1 <= width:
                break
            labels = [self.label(i, i == self.current, 0 if i == self.current else name_width) for i in range(n)]
        first = 0  # scroll so the current tab is on screen
        while first < self.current and sum(len(x) + 1 for x in labels[first : self.current + 1]) > width:
            first += 1
        text = Text(no_wrap=True, overflow="ellipsis")
        self._spans = []
        if first:
            text.append("‹", style="dim")
        for i in range(first, n):
            if i > first:
                text.append("│", style="dim")
            start = text.cell_len
            text.append(labels[i], style="reverse bold" if i == self.current else "")
            self._spans.append((start, text.cell_len, i))
        return text

    def on_click(self, event: events.Click) -> None:
        x = event.x  # relative to this widget (which has no padding)
        for start, end, index in self._spans:
            if start <= x < end:
                event.stop()
                self.post_message(self.Selected(index))
                return
