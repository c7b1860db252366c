"""Announcer: what the app tells a person, as notices (the `!` history) and toasts (one of each kind).

Every engine message goes into the history; toasts follow coopy_tui.notices' rules (failures
coalesced, never over a dialog). A key's short answer (`say`) is a toast and a line in the history.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual.notifications import SeverityLevel

from coopy_core.model import Event, RunView
from coopy_tui import external
from coopy_tui.format import outcome_text
from coopy_tui.notices import COMMAND, FAILED, FINISHED, HOOK, RETRY, SOURCES, Notice, from_event

if TYPE_CHECKING:
    from coopy_tui.app import CoopyApp

COMMANDED_SECONDS = 10.0  # a run that leaves the filter this soon after a command on it is reported


def _severity(level: str) -> SeverityLevel:
    return "error" if level == "error" else ("warning" if level == "warning" else "information")


class Announcer:
    """Turns engine messages and the answers to keys into notices and toasts."""

    def __init__(self, app: CoopyApp) -> None:
        self.app = app
        self._left: list[tuple[str, RunView]] = []  # runs that left the filter, said at the next repaint

    def take_left(self) -> list[tuple[str, RunView]]:
        """The runs that left the filter at an earlier repaint: said once this repaint's events are in."""
        left, self._left = self._left, []
        return left

    def say(self, text: str, severity: SeverityLevel = "information", kind: str = "command") -> None:
        """A short answer to a key: a toast (one at a time) and a line in the history."""
        text = self.app.names.in_text(text)  # `train/model=vit,lr=0.1 is done`: what tells the run apart
        level = {"information": "info", "warning": "warning", "error": "error"}[severity]
        self.app.notices.add(Notice(self.app.clock(), COMMAND, level, text))
        title = (
            "Nothing changed" if severity != "information" else ""
        )  # not "Not done": it read against a run that is done
        self.app.toaster.toast(kind, text, title, severity)

    def messages(self, messages: list[Event], dropped: int) -> None:
        """Every message goes into the history; toasts: one per kind, failures coalesced (notices.py)."""
        app = self.app
        failures = []
        for m in messages:
            notice = from_event(m)
            if notice is None:
                continue
            app.notices.add(notice)
            if notice.kind == FAILED:  # failed for good; an attempt that will be retried is history only
                failures.append(notice)
            elif notice.kind == RETRY:
                continue
            elif notice.kind == FINISHED:
                self.finished()
            elif notice.kind == HOOK:
                severity: SeverityLevel = (
                    "information" if m.level == "info" else ("error" if m.level == "error" else "warning")
                )
                app.toaster.toast("hook", notice.text, "Hook", severity)
            elif (source := m.data.get("source")) in SOURCES:  # the state store, the machine running short
                app.toaster.toast(str(source), notice.text, SOURCES[str(source)], _severity(m.level))
            else:
                app.toaster.toast("info", notice.text, "", _severity(m.level))
        if dropped:
            app.notices.add(Notice(app.clock(), COMMAND, "warning", f"{dropped} more messages came too fast to keep"))
        if failures:
            app.toaster.failures(failures)

    def finished(self) -> None:
        """The pipeline finished while we watched: say how it ended, in the top bar's own words."""
        app = self.app
        outcome = outcome_text(app.views(), app.state.task_count)
        severity: SeverityLevel = "information" if outcome == "finished" else "error"
        app.toaster.toast("finished", f"{outcome}; press s for the summary", "Pipeline finished", severity)
        kind = app.settings.notify
        if kind != "none":
            note = external.osc(kind, f"CooPy {app.state.pipeline}", outcome)
            app.terminal_notes.append(note)
            if app._driver is not None:
                app._driver.write(note)
                app._driver.flush()

    def left_filter(self, left: list[tuple[str, RunView]]) -> None:
        """Runs that left the filter: said at the next repaint, in the state they are in then (a retried
        run passes through waiting on its way to queued, and a repaint can fall between the two)."""
        self._left += left

    def say_left(self, left: list[tuple[str, RunView]]) -> None:
        """A run a command just touched no longer matches the filter and left the list: say so."""
        if not left:
            return
        state = self.app.state
        left = [(f, state.run(r.stage, r.task) or r) for f, r in left]
        commanded = self.app.commands.commanded
        now = time.monotonic()
        for key in [k for k, t in commanded.items() if now - t >= COMMANDED_SECONDS]:
            del commanded[key]
        ours = [(f, r) for f, r in left if (r.stage, r.task) in commanded]
        if not ours:
            return
        for _f, r in ours:
            commanded.pop((r.stage, r.task), None)
        words, run = ours[0]
        if len(ours) == 1:
            text = f"{run.stage}/{run.task} is {run.state.value} now: it left the filter {words!r}"
        else:
            text = f"{len(ours)} runs you acted on left the filter {words!r} (now {run.state.value}, ...)"
        self.say(text + " (esc in / clears it)", kind="filter")
