"""EngineCommands: what a key asks of the engine, one engine command each; a refusal becomes a notice.

The app changes nothing itself: a key calls one engine command and the screen catches up from the
engine's events. An engine in another process sends a command's events after its reply, so for a
moment after a command its events are painted as they arrive instead of at the next repaint tick.
Keys send relative commands (`bump(±1)`, `add_workers(±1)`): N presses are N steps, however stale
the view they were pressed on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from coopy_core.errors import CoopyError
from coopy_core.model import RunState, RunView, StageView
from coopy_core.wire.remote import EngineUnavailable
from coopy_tui.engine_link import GONE
from coopy_tui.format import counted
from coopy_tui.widgets.confirm_screen import ConfirmScreen

if TYPE_CHECKING:
    from coopy_tui.app import CoopyApp

EXPEDITE_SECONDS = 0.5  # after a command, how long its events are painted as they arrive ...
EXPEDITE_REPAINTS = 5  # ... and how many such repaints at most (under load, events never stop)

RunKey = tuple[str, str]  # (stage, task)


class EngineCommands:
    """The engine commands the main screen's keys send, for the selected run or the current stage."""

    def __init__(self, app: CoopyApp) -> None:
        self.app = app
        self.commanded: dict[RunKey, float] = {}  # runs a command touched -> when (monotonic)
        self._caps: dict[str, int] = {}  # the worker cap each stage's last ] / [ set
        self._expedite_until = 0.0  # after a command: apply its events as they come, not at the next tick
        self._expedite_left = 0
        self._expedited = False

    # ---------------------------------------------------------------- calling the engine
    def call(self, fn: Callable[..., Any], *args: Any, touches: Iterable[RunKey] = ()) -> Any:
        """Call one engine command; its refusal becomes a notification; the screen catches up at once.

        `touches` names the runs it acts on (said when they leave the filter).
        """
        if self.app.link.gone:
            self.app.say(GONE, "warning")
            return None
        try:
            result = fn(*args)
        except EngineUnavailable:  # before the event stream's end told us
            self.app.link.engine_gone()
            self.app.say(GONE, "warning")
            return None
        except CoopyError as exc:
            self.app.say(str(exc), "warning")
            return None
        now = time.monotonic()
        for key in touches:
            self.commanded[key] = now
        self._expedite_until = now + EXPEDITE_SECONDS
        self._expedite_left = EXPEDITE_REPAINTS
        self._expedited_repaint()
        return result

    def event_arrived(self) -> None:
        """An engine event was recorded: right after a command, paint it at once."""
        if self._expedite_left and not self._expedited:
            if time.monotonic() < self._expedite_until:
                self._expedited = True
                self._expedite_left -= 1
                self.app.call_later(self._expedited_repaint)
            else:
                self._expedite_left = 0

    def _expedited_repaint(self) -> None:
        self._expedited = False
        self.app.repaint()

    def need_run(self) -> RunView | None:
        """The selected run, or a warning that there is none."""
        run = self.app.selected()
        if run is None:
            self.app.say("No run selected in this stage.", "warning")
        return run

    def named(self, run: RunView) -> str:
        """`train/model=vit,lr=0.1` in a question: the params every run shares left out, as the list does
        (a dialog wraps a long name mid-token). Toasts are shortened by the app's `say`."""
        return self.app.names.in_text(f"{run.stage}/{run.task}")

    # ---------------------------------------------------------------- the selected run
    def bump(self, delta: int) -> None:
        """`+` / `-`; where the list is too narrow for its pri column, the new priority is said."""
        if run := self.need_run():
            priority = self.call(self.app.client.bump, run.task, run.stage, delta, touches=[(run.stage, run.task)])
            if priority is not None and all(c.key != "priority" for c in self.app.panel.table.columns):
                self.app.panel.note(run.task, f"priority {priority}")

    def top(self) -> None:
        run = self.need_run()
        if run is None:
            return
        if run.state == RunState.QUEUED and run.not_before is None:
            try:
                order = self.app.client.queue_order(run.stage)
            except CoopyError:
                order = []
            if order and order[0] == run.task:
                self.app.say(f"{run.stage}/{run.task} is already first in line")
                return
        self.call(self.app.client.top, run.task, run.stage, touches=[(run.stage, run.task)])

    def retry(self) -> None:
        if run := self.need_run():
            self.call(self.app.client.retry, run.task, run.stage, touches=[(run.stage, run.task)])

    def cancel(self) -> None:
        run = self.need_run()
        if run is None:
            return
        if run.state not in (RunState.QUEUED, RunState.RUNNING):
            # let the engine say why (one message for every refusal)
            self.call(self.app.client.cancel, run.task, run.stage)
            return
        what = "Stop" if run.state == RunState.RUNNING else "Cancel"
        question = f"{what} {self.named(run)} ({run.state.value})?"
        if run.state == RunState.RUNNING:
            question += "\nIts command and everything it started will be killed."

        def answered(yes: bool | None) -> None:
            if yes:
                self.call(self.app.client.cancel, run.task, run.stage, touches=[(run.stage, run.task)])

        self.app.push_screen(ConfirmScreen(question, yes="Cancel the run", no="Keep it"), answered)

    def rerun(self) -> None:
        """Run a run that ended (done, skipped, failed, cancelled) again, and what consumes it, after asking."""
        run = self.need_run()
        if run is None:
            return
        if not (run.state.passed or run.state in (RunState.FAILED, RunState.CANCELLED)):
            self.app.say(f"{run.stage}/{run.task} is {run.state.value}: only a run that ended can run again", "warning")
            return
        question = f"Run {self.named(run)} ({run.state.value}) again?\nWhat consumes it runs again too."

        def answered(yes: bool | None) -> None:
            if yes:
                n = self.call(self.app.client.rerun, run.stage, run.task, touches=[(run.stage, run.task)])
                if n is not None:
                    self.app.say(f"{counted(n, 'run')} to run again")

        self.app.push_screen(ConfirmScreen(question, yes="Run it again", no="Keep it"), answered)

    # ---------------------------------------------------------------- the current stage
    def toggle_pause(self) -> None:
        self.call(self.app.client.toggle_pause, self.app.panel.stage)

    def add_workers(self, delta: int) -> None:
        """A relative change (the engine adds `delta` to the cap it has)."""
        stage = self.app.panel.stage
        before = self._caps.get(stage, self.app.state.stages[stage].workers)
        cap = self.call(self.app.client.add_workers, stage, delta)
        if cap is None:
            return
        self._caps[stage] = cap
        if cap == before:
            self.app.say(f"{stage}: the worker cap is {cap}, as far as it goes {'down' if delta < 0 else 'up'}")

    def retry_all(self) -> None:
        """Retry every failed or cancelled run of this stage or of every stage, after saying how many."""
        from coopy_tui.widgets.retry_screen import RetryScreen

        app = self.app
        stage = app.panel.stage

        def count(v: StageView) -> int:
            return v.counts.get("failed", 0) + v.counts.get("cancelled", 0)

        in_stage = count(app.state.stages[stage])
        in_all = sum(count(v) for v in app.views())
        if not in_all:
            app.say("Nothing to retry: no run failed or was cancelled.")
            return

        def answered(choice: str | None) -> None:
            if choice is None:
                return
            only = stage if choice == "stage" else None
            touched = [
                (r.stage, r.task)
                for runs in app.state.runs.values()
                for r in runs.values()
                if r.state in (RunState.FAILED, RunState.CANCELLED) and (only is None or r.stage == only)
            ]
            n = self.call(app.client.retry_failed, only, touches=touched)
            if n is not None:
                where = f"in {stage}" if only else "in every stage"
                app.say(f"{counted(n, 'run')} {where} queued again")

        app.push_screen(RetryScreen(stage, in_stage, in_all), answered)
