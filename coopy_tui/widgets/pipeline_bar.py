"""PipelineBar: the top line, the whole pipeline's progress at a glance."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from coopy_core.model import StageView
from coopy_tui.format import bar, ended, eta_text, pipeline_eta, stage_total


class PipelineBar(Widget):
    """`demo  ██████░░░░ 7/18 runs  ▶ 3 running  · 4 queued  ✗ 1 failed  ETA 1m20s`."""

    def __init__(self, pipeline: str, views: list[StageView], total: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pipeline = pipeline
        self.views = views
        self.total = total

    def update_views(self, views: list[StageView], total: int) -> None:
        if views != self.views or total != self.total:
            self.views = views
            self.total = total
            self.refresh()

    def render(self) -> Text:
        width = self.content_region.width or 80
        views = self.views
        runs = sum(stage_total(v, self.total) for v in views)
        finished = sum(ended(v) for v in views)
        running = sum(v.counts.get("running", 0) for v in views)
        queued = sum(v.counts.get("queued", 0) for v in views)
        failed = sum(v.counts.get("failed", 0) for v in views)
        paused = [v.name for v in views if v.paused]
        head = Text(f" {self.pipeline} ", style="bold reverse")
        tail = Text(no_wrap=True)
        tail.append(f" {finished}/{runs} runs  ")
        tail.append(f"▶ {running} running", style="bold" if running else "")
        tail.append(f"  · {queued} queued")
        tail.append(f"  ✗ {failed} failed", style="bold" if failed else "")
        if paused:
            tail.append(f"  ⏸ {len(paused)} paused", style="bold")
        if running == 0 and queued == 0:
            state = "finished" if failed == 0 else "finished with failures"
            tail.append(f"  {state}", style="bold")
        else:
            tail.append(f"  {eta_text(pipeline_eta(list(views), self.total))}")
        bar_width = max(6, min(30, width - head.cell_len - tail.cell_len - 1))
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append_text(head)
        text.append(" ")
        text.append(bar(finished / max(runs, 1), bar_width), style="bold")
        text.append_text(tail)
        return text
