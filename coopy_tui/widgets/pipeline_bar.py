"""PipelineBar: the top line, the whole pipeline's progress at a glance, fitted to any width.

The failed count and the ETA (or the outcome, once finished) are what a person looks for first, so
they are the last things given up when the terminal is narrow: the bar shrinks and goes first, then
the words become glyphs, then queued and running go.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from coopy_core.model import StageView
from coopy_tui.format import bar, busy, outcome_text, passed, pipeline_eta_text, stage_total

MIN_BAR = 6


class PipelineBar(Widget):
    """`demo  ██████░░░░ 7/18 done  ▶ 3 running  · 4 queued  ✗ 1 failed  ETA 1m20s`."""

    def __init__(self, pipeline: str, views: list[StageView], total: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pipeline = pipeline
        self.views = views
        self.total = total
        self.unread = 0  # failures since the notifications screen (!) was last opened
        self.gone = False  # the engine went away: what is shown is what it last said

    def set_gone(self, gone: bool) -> None:
        if gone != self.gone:
            self.gone = gone
            self.refresh()

    def update_views(self, views: list[StageView], total: int) -> None:
        if views != self.views or total != self.total:
            self.views = views
            self.total = total
            self.refresh()

    def set_unread(self, unread: int) -> None:
        if unread != self.unread:
            self.unread = unread
            self.refresh()

    def _parts(self) -> dict[str, tuple[str, str, str]]:
        """Each piece of the line in its long and short form, and its style."""
        views = self.views
        c = {s: sum(v.counts.get(s, 0) for v in views) for s in ("running", "queued", "failed", "cancelled", "blocked")}
        runs = sum(stage_total(v, self.total) for v in views)
        done = sum(passed(v) for v in views)
        paused = sum(1 for v in views if v.paused)
        moving = busy(views)
        parts: dict[str, tuple[str, str, str]] = {"done": (f"{done}/{runs} done", f"{done}/{runs}", "")}
        if moving:  # once finished, the outcome says the rest
            parts["running"] = (f"▶ {c['running']} running", f"▶{c['running']}", "bold" if c["running"] else "")
            parts["queued"] = (f"· {c['queued']} queued", f"·{c['queued']}", "")
            parts["failed"] = (f"✗ {c['failed']} failed", f"✗{c['failed']}", "bold" if c["failed"] else "")
            if c["cancelled"]:
                parts["cancelled"] = (f"⊘ {c['cancelled']} cancelled", f"⊘{c['cancelled']}", "")
            if c["blocked"]:
                parts["blocked"] = (f"⊗ {c['blocked']} blocked", f"⊗{c['blocked']}", "")
        if paused:
            parts["paused"] = (f"⏸ {paused} paused", f"⏸{paused}", "bold")
        if self.unread:
            parts["unread"] = (f"! {self.unread} new", f"!{self.unread}", "bold reverse")
        if self.gone:
            parts["end"] = ("⚠ engine gone: waiting for a new one", "⚠ engine gone", "bold reverse")
        elif moving:
            eta = pipeline_eta_text(list(views), self.total)
            parts["end"] = (eta, eta.split(" (")[0].replace("ETA ", "ETA"), "")  # short: the ⏸ count says why
        else:
            outcome = outcome_text(list(views), self.total)
            parts["end"] = (outcome, outcome.replace("finished: ", "fin: "), "bold")
        return parts

    def _line(self, parts: dict[str, tuple[str, str, str]], short: set[str], drop: set[str], with_bar: int) -> Text:
        head = Text(f" {self.pipeline} ", style="bold reverse")
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append_text(head)
        runs = sum(stage_total(v, self.total) for v in self.views)
        done = sum(passed(v) for v in self.views)
        if with_bar:
            text.append(" ")
            text.append(bar(done / max(runs, 1), with_bar), style="bold")
        gap = "  " if not short else " "
        for name, (long, brief, style) in parts.items():
            if name in drop:
                continue
            text.append(gap if name != "done" else " ")
            text.append(brief if name in short else long, style=style)
        return text

    def render(self) -> Text:
        width = self.content_region.width or 80
        parts = self._parts()
        steps: list[tuple[set[str], set[str]]] = [
            (set(), set()),
            ({"running", "queued", "cancelled", "blocked", "paused"}, set()),
            (set(parts) - {"end"}, set()),
            (set(parts), set()),
            (set(parts), {"queued"}),
            (set(parts), {"queued", "running"}),
            (set(parts), {"queued", "running", "cancelled", "paused"}),
        ]
        line = Text()
        for short, drop in steps:
            line = self._line(parts, short, drop, 0)
            room = width - line.cell_len - 1
            if room >= MIN_BAR:
                return self._line(parts, short, drop, min(30, room))
            if line.cell_len <= width:
                return line
        return line
