"""SummaryScreen (`s`): per stage counts and durations, then every run that went wrong, enter opens its log.

The list holds the runs failed for good (with the log's last line after the engine's reason: "exit
code 1" alone says little), the cancelled ones, and the runs that failed before they passed ("failed
once, then done"), each in natural order (lr=1, lr=2, lr=10). Blocked runs are counted per stage;
their reason names the run they wait on, which is in the list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from coopy_core.model import RunState, RunView
from coopy_tui.format import STATE_GLYPHS, cut, format_duration, middle_truncate
from coopy_tui.logs import last_line
from coopy_tui.sorting import natural_key
from coopy_tui.widgets.list_keys import LIST_KEYS, move

LIST_LIMIT = 500  # runs listed (the rest are counted)
RunKey = tuple[str, str]
History = Mapping[RunKey, list[dict[str, Any]]]  # (stage, task) -> its ended attempts, oldest first


@dataclass(frozen=True)
class Trouble:
    """One run worth a look: failed for good, cancelled, or failed before it passed."""

    stage: str
    task: str
    state: RunState
    reason: str
    log: str
    failed_attempts: int = 0

    def text(self, last: str) -> str:
        reason = self.reason
        if last and last not in reason:
            reason = f"{reason}: {last}" if reason else last
        if self.state.passed:
            times = "once" if self.failed_attempts == 1 else f"{self.failed_attempts} times"
            return f"{self.stage}/{self.task}: failed {times}, then done" + (f" (first: {reason})" if reason else "")
        return f"{self.stage}/{self.task}: {reason or self.state.value}"


@dataclass(frozen=True)
class StageSummary:
    name: str
    done: int
    skipped: int
    failed: int
    cancelled: int
    blocked: int
    other: int  # queued, running or waiting: not ended
    mean: float | None
    longest: float | None
    failures: tuple[tuple[str, str], ...]  # (task, reason) of the runs failed for good, natural order
    troubles: tuple[Trouble, ...] = field(default=())


def summarize(
    stage_names: Iterable[str],
    runs: Mapping[str, Mapping[str, RunView]],
    history: History | None = None,
    total: Callable[[str], int] | None = None,
) -> list[StageSummary]:
    """Durations count done runs only (their last attempt); failures list every run failed for good."""
    out = []
    history = history or {}
    for name in stage_names:
        views = list(runs.get(name, {}).values())
        took = [
            r.ended_at - r.started_at
            for r in views
            if r.state == RunState.DONE and r.started_at is not None and r.ended_at is not None
        ]
        count = {s: sum(1 for r in views if r.state == s) for s in RunState}
        ordered = sorted(views, key=lambda r: natural_key(r.task))
        troubles = []
        for r in ordered:
            if r.state in (RunState.FAILED, RunState.CANCELLED):
                troubles.append(Trouble(name, r.task, r.state, r.reason, r.log))
            elif r.state.passed and r.attempt > 1:
                failed = [a for a in history.get((name, r.task), []) if a.get("state") == RunState.FAILED.value]
                if failed:
                    first = failed[0]
                    why = str(first.get("reason") or "")
                    troubles.append(Trouble(name, r.task, r.state, why, str(first.get("log") or r.log), len(failed)))
        ended = sum(count[s] for s in RunState if s.finished)
        every = total(name) if total is not None else len(views)
        out.append(
            StageSummary(
                name=name,
                done=count[RunState.DONE],
                skipped=count[RunState.SKIPPED],
                failed=count[RunState.FAILED],
                cancelled=count[RunState.CANCELLED],
                blocked=count[RunState.BLOCKED],
                other=max(0, max(every, len(views)) - ended),
                mean=sum(took) / len(took) if took else None,
                longest=max(took) if took else None,
                failures=tuple((r.task, r.reason) for r in ordered if r.state == RunState.FAILED),
                troubles=tuple(troubles),
            )
        )
    return out


# (long header, short header) of the number columns, and the StageSummary field
NUMBER_COLUMNS = (
    ("done", "✓", "done"),
    ("skipped", "↷", "skipped"),
    ("failed", "✗", "failed"),
    ("cancelled", "⊘", "cancelled"),
    ("blocked", "⊗", "blocked"),
    ("left", "→", "other"),  # not ◦: that is "waiting" everywhere else, and left counts queued and running too
)
LEGEND = "✓done ↷skipped ✗failed ⊘cancelled ⊗blocked →left"


def summary_table(summaries: list[StageSummary], width: int = 92) -> Text:
    """The per-stage table as text that fits `width` cells: short (glyph) headers when the words do not
    fit, and the stage name cut before any number is."""
    rows = []
    for s in summaries:
        mean = format_duration(s.mean) if s.mean is not None else "–"
        longest = format_duration(s.longest) if s.longest is not None else "–"
        rows.append([s.name, *(str(getattr(s, f)) for _l, _s, f in NUMBER_COLUMNS), mean, longest])
    for short in (False, True):
        numbers = [sh if short else lo for lo, sh, _f in NUMBER_COLUMNS]
        headers = ["stage", *numbers, "mean", "max" if short else "longest"]
        widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
        rest = sum(widths[1:]) + 2 * (len(widths) - 1)
        if rest + min(widths[0], 8) <= width or short:
            widths[0] = max(5, min(widths[0], width - rest))
            break
    text = Text(no_wrap=True, overflow="crop")
    for r, cells in enumerate([headers, *rows]):
        if r:
            text.append("\n")
        for i, cell in enumerate(cells):
            if i:
                text.append("  ")
            cell = middle_truncate(cell, widths[i]) if i == 0 else cell
            shown = cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
            text.append(shown, style="bold" if r == 0 else "")
    if short:
        text.append("\n" + LEGEND, style="dim")
    return text


def failures_text(summaries: list[StageSummary], limit: int = 50) -> str:
    """Every run failed for good with its reason (plain text, for the tests and the README)."""
    lines = [f"✗ {s.name}/{task}: {reason}" for s in summaries for task, reason in s.failures]
    if not lines:
        return "No failures."
    more = len(lines) - limit
    return "\n".join(lines[:limit] + ([f"… and {more} more"] if more > 0 else []))


def _glyph(trouble: Trouble) -> str:
    return "↻" if trouble.state.passed else STATE_GLYPHS[trouble.state]


class SummaryScreen(ModalScreen[RunKey | None]):
    """The per-stage table and the runs that went wrong; enter opens the highlighted run's log,
    esc / s / q closes. Returns the run whose log to open (or None)."""

    BINDINGS = [
        Binding("escape,s,q", "close", "close", key_display="esc"),
        Binding("enter", "open", "open log", key_display="⏎", show=True),
        *LIST_KEYS,
    ]

    def __init__(
        self,
        summaries: list[StageSummary],
        title: str,
        last_lines: Callable[[str, str], str] | None = None,
        shorten: Callable[[str], str] = str,
    ) -> None:
        super().__init__()
        self.shorten = shorten  # run names without the params every run shares (Names.in_text)
        self.summaries = summaries
        self.title_text = title
        self.last_lines = last_lines or (lambda stage, task: "")
        self.troubles = [t for s in summaries for t in s.troubles][:LIST_LIMIT]
        self._last: dict[RunKey, str] = {}
        for t in self.troubles:
            if not t.state.passed:  # the list's last line is of the latest attempt: not the failed one
                self._last[(t.stage, t.task)] = self.last_lines(t.stage, t.task)

    def compose(self) -> ComposeResult:
        with Vertical(id="summary-box") as box:
            box.border_title = self.title_text
            box.border_subtitle = "⏎ open log · esc close"
            yield Static(summary_table(self.summaries, self._width()), id="summary-table")
            yield Static(self._heading(), id="summary-heading", markup=False)
            if self.troubles:
                yield OptionList(*self._options(), id="summary-list")

    def _width(self) -> int:
        """The text width inside the box, which takes the terminal's whole width (its border and padding: 4
        cells): a reason is cut only where the screen ends."""
        return max(30, self.app.size.width - 4)

    def _heading(self) -> str:
        failed = sum(s.failed for s in self.summaries)
        cancelled = sum(s.cancelled for s in self.summaries)
        blocked = sum(s.blocked for s in self.summaries)
        retried = sum(1 for t in self.troubles if t.state.passed)
        if not (failed or cancelled or retried):
            return "No failures." + (f" {blocked} blocked." if blocked else "")
        parts = [f"{failed} failed", f"{cancelled} cancelled"]
        if blocked:
            parts.append(f"{blocked} blocked (waiting on these)")
        if retried:
            parts.append(f"{retried} passed after failing")
        listed = sum(len(s.troubles) for s in self.summaries)
        more = f"; first {LIST_LIMIT} listed" if listed > LIST_LIMIT else ""
        return "Runs that went wrong: " + ", ".join(parts) + more

    def _options(self) -> list[Option]:
        width = self._width() - 2  # one line each: the list wraps long prompts otherwise
        return [
            Option(Text(cut(f"{_glyph(t)} {self._text(t)}", width)), id=f"{i}") for i, t in enumerate(self.troubles)
        ]

    def _text(self, trouble: Trouble) -> str:
        return self.shorten(trouble.text(self._last.get((trouble.stage, trouble.task), "")))

    def on_mount(self) -> None:
        missing = [t for t in self.troubles if not self._last.get((t.stage, t.task)) and t.log]
        if missing:
            self.run_worker(lambda: self._read_last_lines(missing), thread=True, exclusive=True)
        if self.troubles:
            options = self.query_one("#summary-list", OptionList)
            options.focus()
            options.highlighted = 0

    def _read_last_lines(self, missing: list[Trouble]) -> None:
        """Off the UI thread: the logs' last lines the task lists had not read yet."""
        found = {(t.stage, t.task): last_line(t.log) for t in missing[:LIST_LIMIT]}
        self.app.call_from_thread(self._got_last_lines, found)

    def _got_last_lines(self, found: dict[RunKey, str]) -> None:
        self._last.update({k: v for k, v in found.items() if v})
        if not self.is_attached:
            return
        options = self.query_one("#summary-list", OptionList)
        highlighted = options.highlighted
        options.clear_options()
        options.add_options(self._options())
        options.highlighted = highlighted

    def text(self) -> str:
        """Everything listed, as plain text (tests read it)."""
        lines = [f"{_glyph(t)} {self._text(t)}" for t in self.troubles]
        return "\n".join([self._heading(), *lines])

    def action_close(self) -> None:
        self.dismiss(None)

    def action_list(self, action: str) -> None:
        move(self, action)

    def action_open(self) -> None:
        if not self.troubles:
            self.dismiss(None)
            return
        index = self.query_one("#summary-list", OptionList).highlighted
        if index is None:
            return
        trouble = self.troubles[index]
        self.dismiss((trouble.stage, trouble.task))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        trouble = self.troubles[event.option_index]
        self.dismiss((trouble.stage, trouble.task))
