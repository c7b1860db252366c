"""SummaryScreen (`s`): per stage, how long runs took and what failed — for when the pipeline ends."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from coopy_core.model import RunState, RunView
from coopy_tui.format import format_duration


@dataclass(frozen=True)
class StageSummary:
    name: str
    done: int
    skipped: int
    failed: int
    cancelled: int
    other: int
    mean: float | None
    longest: float | None
    failures: tuple[tuple[str, str], ...]  # (task, reason)


def summarize(stage_names: Iterable[str], runs: Mapping[str, Mapping[str, RunView]]) -> list[StageSummary]:
    """Durations count done runs only (their last attempt); failures list every run failed for good."""
    out = []
    for name in stage_names:
        views = list(runs.get(name, {}).values())
        took = [
            r.ended_at - r.started_at
            for r in views
            if r.state == RunState.DONE and r.started_at is not None and r.ended_at is not None
        ]
        count = {s: sum(1 for r in views if r.state == s) for s in RunState}
        failures = tuple(sorted((r.task, r.reason) for r in views if r.state == RunState.FAILED))
        out.append(
            StageSummary(
                name=name,
                done=count[RunState.DONE],
                skipped=count[RunState.SKIPPED],
                failed=count[RunState.FAILED],
                cancelled=count[RunState.CANCELLED],
                other=count[RunState.QUEUED] + count[RunState.RUNNING],
                mean=sum(took) / len(took) if took else None,
                longest=max(took) if took else None,
                failures=failures,
            )
        )
    return out


def summary_table(summaries: list[StageSummary]) -> Table:
    table = Table(box=None, padding=(0, 2), header_style="bold")
    for column in ("stage", "done", "skipped", "failed", "cancelled", "not ended", "mean", "longest"):
        table.add_column(column, justify="left" if column == "stage" else "right", no_wrap=True)
    for s in summaries:
        table.add_row(
            s.name, str(s.done), str(s.skipped), str(s.failed), str(s.cancelled), str(s.other),
            format_duration(s.mean) if s.mean is not None else "–",
            format_duration(s.longest) if s.longest is not None else "–",
        )
    return table


def failures_text(summaries: list[StageSummary], limit: int = 50) -> str:
    lines = [f"✗ {s.name}/{task}: {reason}" for s in summaries for task, reason in s.failures]
    if not lines:
        return "No failures."
    more = len(lines) - limit
    return "\n".join(lines[:limit] + ([f"… and {more} more"] if more > 0 else []))


class SummaryScreen(ModalScreen[None]):
    """A centred box: the per-stage table and the failures with their reasons; esc, s or q closes it."""

    BINDINGS = [
        Binding("escape,s,q,enter", "close", "close", key_display="esc"),
        Binding("down,j", "scroll_down", show=False),
        Binding("up,k", "scroll_up", show=False),
    ]

    def __init__(self, summaries: list[StageSummary], title: str) -> None:
        super().__init__()
        self.summaries = summaries
        self.title_text = title

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="summary-box") as box:
            box.border_title = self.title_text
            box.border_subtitle = "esc close"
            yield Static(summary_table(self.summaries), id="summary-table")
            yield Static(failures_text(self.summaries), id="summary-failures", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll_down(self) -> None:
        self.query_one("#summary-box", VerticalScroll).scroll_down(animate=False)

    def action_scroll_up(self) -> None:
        self.query_one("#summary-box", VerticalScroll).scroll_up(animate=False)
