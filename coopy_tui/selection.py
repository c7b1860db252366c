"""Selection: the marked runs (space marks one, ctrl+a every run listed, esc clears) and the commands over them.

With runs marked, `c`, `r`, `+` and `-` act on every marked run (of every stage) instead of the highlighted one,
each asking once with the count, as one engine command (`cancel_runs`, `retry_runs`, `bump_runs`): one request
and one transaction however many runs. Marked runs the command does not apply to (a done run in a cancel) are
left as they are, and the question says so. `C` cancels every run of the stage that has not ended.
The marks live in each stage's RunTable (`marked`), which draws them (coopy_tui.marks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from coopy_core.model import RunState, RunView
from coopy_tui.format import counted
from coopy_tui.widgets.confirm_screen import ConfirmScreen

if TYPE_CHECKING:
    from coopy_tui.app import CoopyApp

CANCELLABLE = (RunState.RUNNING, RunState.QUEUED, RunState.WAITING)
RETRYABLE = (RunState.FAILED, RunState.CANCELLED)


class Selection:
    """The marks of every stage's list, and the commands on the marked runs."""

    def __init__(self, app: Callable[[], CoopyApp]) -> None:
        self._app = app

    @property
    def app(self) -> CoopyApp:
        return self._app()

    # ---------------------------------------------------------------- marking
    def count(self) -> int:
        return sum(len(p.table.marked) for p in self.app.panels)

    def runs(self) -> list[RunView]:
        """Every marked run, stage by stage, in the order they were made."""
        out: list[RunView] = []
        for panel in self.app.panels:
            table = panel.table
            found = [run for task in table.marked if (run := table.run(task)) is not None]
            out += sorted(found, key=lambda r: r.order)
        return out

    def toggle(self) -> None:
        """space: mark (unmark) the highlighted run and move down, so a run of presses marks a run of rows."""
        table = self.app.panel.table
        task = table.selected_task
        if task is None:
            self.app.say("No run selected in this stage.", "warning")
            return
        table.set_marked([task], task not in table.marked)
        table.move(1)
        self.app.panel.update_subtitle()

    def mark_all(self) -> None:
        """ctrl+a: mark every run the stage lists (the filter's); when all are marked already, unmark them."""
        app = self.app
        table = app.panel.table
        shown = table.shown_tasks()
        if not shown:
            app.say("No run listed in this stage.", "warning")
            return
        unmark = all(t in table.marked for t in shown)
        table.set_marked(shown, not unmark)
        app.panel.update_subtitle()
        what = "unmarked" if unmark else "marked"
        app.say(
            f"{app.panel.stage}: {counted(len(shown), 'run')} {what}; "
            f"{counted(self.count(), 'run')} marked in all (esc clears)"
        )

    def clear(self) -> bool:
        """esc: unmark every run; False when none was marked."""
        if not self.count():
            return False
        self.clear_quietly()
        self.app.say("Marks cleared.")
        return True

    # ---------------------------------------------------------------- commands on the marked runs
    def cancel(self) -> None:
        todo, left = self._split(CANCELLABLE, "waiting, queued or running")
        if not todo:
            return
        running = sum(1 for r in todo if r.state == RunState.RUNNING)
        question = f"Cancel {counted(len(todo), 'run')}?"
        if running:
            question += f"\n{running} of them running: their commands and everything they started will be killed."
        self._ask(question + left, f"Cancel {counted(len(todo), 'run')}", todo, "cancel_runs", "cancelled")

    def retry(self) -> None:
        todo, left = self._split(RETRYABLE, "failed or cancelled")
        if todo:
            question = f"Retry {counted(len(todo), 'run')}, each with a fresh retry budget?"
            self._ask(question + left, f"Retry {counted(len(todo), 'run')}", todo, "retry_runs", "queued again")

    def bump(self, delta: int) -> None:
        todo, left = self._split((RunState.QUEUED,), "queued")
        if todo:
            way = "Raise" if delta > 0 else "Lower"
            question = f"{way} the priority of {counted(len(todo), 'run')} by {abs(delta)}?"
            self._ask(question + left, way, todo, "bump_runs", "moved", delta, keep=True)

    def _split(self, states: tuple[RunState, ...], what: str) -> tuple[list[RunView], str]:
        """The marked runs the command applies to, and a line about the others ("" when none)."""
        runs = self.runs()
        todo = [r for r in runs if r.state in states]
        if not todo:
            self.app.say(f"None of the {counted(len(runs), 'run')} marked is {what}.", "warning")
        others = len(runs) - len(todo)
        note = f"\n{counted(others, 'run')} marked but not {what}: left as they are." if others else ""
        tables = {p.stage: p.table for p in self.app.panels}
        hidden = sum(1 for r in todo if tables[r.stage].rows.row_of(r.task) is None)
        if hidden:  # marked, then filtered out: said, so no run is acted on unseen
            note += f"\n{hidden} of them not listed now (the filter hides them)."
        return todo, note

    def _ask(
        self, question: str, yes: str, todo: list[RunView], command: str, done: str, *args: int, keep: bool = False
    ) -> None:
        app = self.app
        pairs = [[r.stage, r.task] for r in todo]

        def answered(answer: bool | None) -> None:
            if not answer:
                return
            n = app.commands.call(getattr(app.client, command), pairs, *args, touches=[(r.stage, r.task) for r in todo])
            if n is None:
                return
            app.say(f"{counted(n, 'run')} {done}")
            if not keep:
                self.clear_quietly()

        app.push_screen(
            ConfirmScreen(question, yes=yes, no="Keep them" if command == "cancel_runs" else "No"), answered
        )

    def clear_quietly(self) -> None:
        for panel in self.app.panels:
            panel.table.set_marked(list(panel.table.marked), False)
            panel.update_subtitle()

    # ---------------------------------------------------------------- a whole stage
    def cancel_stage(self) -> None:
        """C: every run of the stage that has not ended, those not reached yet too, after asking."""
        app = self.app
        stage = app.panel.stage
        counts = app.state.stages[stage].counts
        parts = {s: counts.get(s.value, 0) for s in CANCELLABLE}
        n = sum(parts.values())
        if not n:
            app.say(f"{stage}: no run waiting, queued or running to cancel.")
            return
        said = ", ".join(f"{k} {s.value}" for s, k in parts.items() if k)
        question = f"Cancel every run of {stage} that has not ended: {counted(n, 'run')} ({said})?"
        question += "\nWhat needs them will be blocked."
        touched = [(stage, task) for task in app.state.runs[stage]]

        def answered(answer: bool | None) -> None:
            if answer:
                done = app.commands.call(app.client.cancel_stage, stage, touches=touched)
                if done is not None:
                    app.say(f"{stage}: {counted(done, 'run')} cancelled")

        app.push_screen(ConfirmScreen(question, yes=f"Cancel {counted(n, 'run')}", no="Keep them"), answered)
