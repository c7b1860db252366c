"""StageHeader: a stage's counts and progress bar with ETA, fitted to the panel's width."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from coopy_core.model import StageView
from coopy_tui.format import bar, ended, eta_text, stage_eta, stage_total


class StageHeader(Widget):
    """Two lines: `queued 3  done 2  failed 1`, then `████░░░░ 3/6  ETA 40s`."""

    def __init__(self, view: StageView, total: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view
        self.total = total

    def update_view(self, view: StageView, total: int) -> None:
        if view != self.view or total != self.total:
            self.view = view
            self.total = total
            self.refresh()

    def counts_text(self, width: int) -> Text:
        c = self.view.counts
        long = [
            ("queued", c.get("queued", 0), ""),
            ("done", c.get("done", 0), ""),
            ("failed", c.get("failed", 0), "bold"),
        ]
        if c.get("skipped", 0):
            long.append(("skipped", c["skipped"], "dim"))
        if c.get("cancelled", 0):
            long.append(("cancelled", c["cancelled"], ""))
        if c.get("blocked", 0):
            long.append(("blocked", c["blocked"], "dim"))
        text = Text(no_wrap=True, overflow="ellipsis")
        wide = sum(len(f"{w} {n}  ") for w, n, _ in long) <= width
        glyphs = {"queued": "·", "done": "✓", "failed": "✗", "skipped": "↷", "cancelled": "⊘", "blocked": "⊗"}
        for i, (word, n, style) in enumerate(long):
            if i:
                text.append("  " if wide else " ")
            label = word if wide else glyphs[word]
            text.append(f"{label} {n}", style=style if n else "")
        return text

    def bar_text(self, width: int) -> Text:
        done = ended(self.view)
        runs = stage_total(self.view, self.total)
        total = max(runs, 1)
        suffix = f" {done}/{runs}  {eta_text(stage_eta(self.view, self.total), self.view.paused)}"
        bar_width = max(4, width - len(suffix))
        text = Text(no_wrap=True, overflow="crop")
        text.append(bar(done / total, bar_width), style="bold")
        text.append(suffix)
        return text

    def render(self) -> Text:
        width = self.content_region.width or 40
        return Text("\n").join([self.counts_text(width), self.bar_text(width)])
