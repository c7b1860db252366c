"""StageTabs: the stage strip shown when the screen is too narrow for side-by-side panels."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from coopy_core.model import StageView
from coopy_tui.format import ended, stage_total


class StageTabs(Widget):
    """` prepare 3/6 │ train ▶2 0/6 ⏸ │ evaluate 0/6 `; the current stage in reverse video."""

    def __init__(self, views: list[StageView], total: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.views = views
        self.total = total
        self.current = 0

    def update_views(self, views: list[StageView], total: int, current: int) -> None:
        if views != self.views or total != self.total or current != self.current:
            self.views = views
            self.total = total
            self.current = current
            self.refresh()

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, v in enumerate(self.views):
            if i:
                text.append("│", style="dim")
            label = f" {v.name} ▶{v.running}/{v.workers} {ended(v)}/{stage_total(v, self.total)}"
            if v.paused:
                label += " ⏸"
            label += " "
            text.append(label, style="reverse bold" if i == self.current else "")
        return text
