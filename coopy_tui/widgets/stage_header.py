"""StageHeader: a stage's counts and progress bar with ETA, fitted to the panel's width.

The numbers are `coopy status`'s: done counts done and skipped runs out of the stage's `total`;
failed and cancelled are always shown (blocked, skipped and waiting when there are any), so a stage
with failures never reads as plainly done.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from coopy_core.model import StageView
from coopy_tui.format import Estimate, bar, cut, passed, stage_status, stage_total

GLYPHS = {
    "queued": "·",
    "waiting": "◦",
    "done": "✓",
    "failed": "✗",
    "cancelled": "⊘",
    "skipped": "↷",
    "blocked": "⊗",
}


def count_items(view: StageView) -> list[tuple[str, int, str]]:
    """(word, count, style) in the order shown; failed and cancelled always, the rest when non-zero."""
    c = view.counts
    items = [("queued", c.get("queued", 0), "")]
    if c.get("waiting", 0):
        items.append(("waiting", c["waiting"], "dim"))
    items += [("done", c.get("done", 0), ""), ("failed", c.get("failed", 0), "bold")]
    items.append(("cancelled", c.get("cancelled", 0), ""))
    for word, style in (("skipped", "dim"), ("blocked", "bold")):
        if c.get(word, 0):
            items.append((word, c[word], style))
    return items


class StageHeader(Widget):
    """Two lines: `queued 3  done 2  failed 1  cancelled 0`, then `████░░░░ 3/6  ETA 40s`; a third with the
    params every configuration shares, when some are."""

    def __init__(self, view: StageView, total: int, *, shared: str = "", id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view
        self.total = total
        self.busy = True  # the pipeline still moves (something queued or running somewhere)
        self.estimate: Estimate | None = None  # the stage's, judged over every stage (format.estimates)
        self.shared = ""  # the params every configuration shares (`dataset=cifar10`): said here, not in each row
        self.set_shared(shared)

    def set_shared(self, shared: str) -> None:
        """A third line with what every configuration shares (the run list shows only what differs)."""
        if shared != self.shared:
            self.shared = shared
            self.styles.height = 3 if shared else 2
            self.refresh()

    def update_view(self, view: StageView, total: int, busy: bool = True, estimate: Estimate | None = None) -> None:
        if view != self.view or total != self.total or busy != self.busy or estimate != self.estimate:
            self.view = view
            self.total = total
            self.busy = busy
            self.estimate = estimate
            self.refresh()

    def counts_text(self, width: int) -> Text:
        items = count_items(self.view)
        text = Text(no_wrap=True, overflow="ellipsis")
        wide = sum(len(f"{w} {n}  ") for w, n, _ in items) - 2 <= width
        for i, (word, n, style) in enumerate(items):
            if i:
                text.append("  " if wide else " ")
            label = f"{word} {n}" if wide else f"{GLYPHS[word]}{n}"
            text.append(label, style=style if n else "")
        return text

    def bar_text(self, width: int) -> Text:
        done = passed(self.view)
        runs = stage_total(self.view, self.total)
        suffix = f" {done}/{runs}  {stage_status(self.view, self.total, self.busy, self.estimate)}"
        if len(suffix) + 4 > width:  # narrow: `ETA --` without what it waits on (the paused stage's badge says)
            suffix = suffix.split(" (")[0]
        bar_width = max(4, width - len(suffix))
        text = Text(no_wrap=True, overflow="crop")
        text.append(bar(done / max(runs, 1), bar_width), style="bold")
        text.append(suffix)
        return text

    def shared_text(self, width: int) -> Text:
        return Text(cut(f"same in every run: {self.shared}", width), style="dim")

    def render(self) -> Text:
        width = self.content_region.width or 40
        lines = [self.counts_text(width), self.bar_text(width)]
        if self.shared:
            lines.append(self.shared_text(width))
        return Text("\n").join(lines)
