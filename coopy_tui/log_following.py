"""LogFollowing: which log the log pane (and the open log screen) shows, and the last lines of the lists.

One reader (`LogFollower`) follows the selected run's log for the pane and the log screen alike;
`LastLines` follows the running runs' logs for the lists' last-line column. Both read in background
threads; the app's repaint timer drains them through here. Opening a log outside ($PAGER, $EDITOR)
and copying its path are here too: they are about a run's log, from the main screen or the log screen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.app import ScreenStackError, SuspendNotSupported

from coopy_core.errors import CoopyError
from coopy_core.model import RunState, RunView
from coopy_tui import external
from coopy_tui.format import reason_now
from coopy_tui.widgets.log_screen import LogScreen, attempts_of, timing_text
from coopy_tui.widgets.run_table import resources_text

if TYPE_CHECKING:
    from coopy_tui.app import CoopyApp

RunKey = tuple[str, str]  # (stage, task)


def log_title(run: RunView | None, shorten: Callable[[str], str] = str) -> str:
    """`log · train/x=1 · attempt 2 · failed · exit 1` (the bottom border has the times and reason); the name
    without the params every run shares (`shorten`), so a cut border keeps what tells the run apart."""
    if run is None:
        return "log"
    attempt = f" · attempt {run.attempt}" if run.attempt else ""
    code = f" · exit {run.exit_code}" if run.exit_code is not None else ""
    return f"log · {shorten(f'{run.stage}/{run.task}')}{attempt} · {run.state.value}{code}"


def run_extra(run: RunView) -> list[str]:
    """A running run's Slurm job and the pool resources it holds."""
    parts = []
    if run.job_id:
        parts.append(f"job {run.job_id}" + (f": {run.reason}" if run.reason else ""))
    if held := resources_text(run):
        parts.append(held)
    return parts


class LogFollowing:
    """Keeps the log pane and the log screen on the selected run's log, and the lists' last lines current."""

    def __init__(self, app: CoopyApp) -> None:
        self.app = app
        self._followed: RunKey | None = None  # (stage, task) the log pane shows
        self._followed_log = ""
        self._followed_title = ""
        self._log_attempt: int = 0  # the attempt the open LogScreen's run had (new one: fetch history)
        self._watched: set[RunKey] = set()  # running runs whose last line is followed

    # ---------------------------------------------------------------- the log pane
    def log_screen(self) -> LogScreen | None:
        try:
            screen = self.app.screen
        except ScreenStackError:  # the app is closing: a row's news came after its last screen went
            return None
        return screen if isinstance(screen, LogScreen) else None

    def follow_selected(self) -> None:
        app = self.app
        run = app.selected()
        key = (run.stage, run.task) if run else None
        log = run.log if run else ""
        title = log_title(run, app.names.in_text)
        screen = self.log_screen()
        if screen is not None and run is not None and (screen.run.stage, screen.run.task) == key:
            self._update_log_screen(screen, run)
            log = screen.path
        pane = app.pane
        if key == self._followed and log == self._followed_log:
            if title != self._followed_title:  # same log, news of the run (state, exit code)
                self._followed_title = title
                pane.border_title = title
            subtitle = self._log_subtitle(run)  # the running time changes every second
            if subtitle != pane.border_subtitle:
                pane.border_subtitle = subtitle
            return
        self._followed = key
        self._followed_log = log
        self._followed_title = title
        pane.border_title = title
        pane.border_subtitle = self._log_subtitle(run)
        if run is None:
            pane.set_placeholder("(no run selected)")
        elif not log:
            pane.set_placeholder("(not started yet: no log)")
        else:
            pane.set_placeholder("(no output yet)")
        pane.clear()
        if screen is not None:
            screen.log_view.clear()
        app.follower.follow(log or None)

    def _log_subtitle(self, run: RunView | None) -> str:
        """`14:03:01 → 14:03:09 (8s) · CUDA out of memory`: when, and why (or the Slurm job and the
        resources held while it runs). A reason's run names without the params every run shares."""
        if run is None:
            return ""
        parts = []
        running = run.state == RunState.RUNNING
        if timing := timing_text(run.started_at, run.ended_at, self.app.clock(), running):
            parts.append(timing)
        reason = self.app.names.in_text(reason_now(run, self.app.clock(), self._paused(run.stage)))  # `waits on ...`
        parts += run_extra(run) if running else ([reason] if reason else [])
        return " · ".join(parts)

    def _paused(self, stage: str) -> bool:
        view = self.app.state.stages.get(stage)
        return view is not None and view.paused

    def _update_log_screen(self, screen: LogScreen, run: RunView) -> None:
        attempts = None
        if run.attempt != self._log_attempt:  # a new attempt: what became of the previous one is history
            self._log_attempt = run.attempt
            attempts = attempts_of(run, self.history(run.stage, run.task))
        elif run != screen.run:
            attempts = [*screen.attempts[: run.attempt - 1], *attempts_of(run, [])[run.attempt - 1 :]]
        extra = " · ".join(run_extra(run)) if run.state == RunState.RUNNING else ""
        screen.paused = self._paused(run.stage)
        if attempts is not None or run != screen.run or extra != screen.extra:
            screen.update_run(run, attempts, extra)
        else:
            screen.tick()

    def history(self, stage: str, task: str | None = None) -> list[dict[str, Any]]:
        """The engine's record of ended attempts ([] when it has none to give)."""
        history = getattr(self.app.client, "attempt_history", None)
        if history is None:
            return []
        try:
            return list(history(stage, task))
        except CoopyError:
            return []

    def drain(self) -> None:
        """The followed log's new lines, into the pane and the open log screen."""
        update = self.app.follower.drain()
        if update is None or update.path != (self._followed_log or None):
            return
        views = [self.app.pane]
        if (screen := self.log_screen()) is not None and screen.is_mounted:  # else it starts from the pane's
            views.append(screen.log_view)
        for view in views:
            if update.reset:
                view.replace(update.lines, update.partial, cut=update.cut)
            else:
                view.append(update.lines, update.partial)

    # ---------------------------------------------------------------- the lists' last lines
    def watch_last_line(self, run: RunView) -> None:
        """Running runs' last lines are followed; an ended run's (passed or failed) is read once."""
        key = (run.stage, run.task)
        ended = run.state.passed or run.state == RunState.FAILED
        last_lines = self.app.last_lines
        if run.state == RunState.RUNNING and run.log:
            self._watched.add(key)
            last_lines.watch(key, run.log)
        elif key in self._watched:
            self._watched.discard(key)
            last_lines.unwatch(key, read_once=ended)
        elif ended and run.log:  # at start-up, or ended between two looks (never seen running: a fast echo)
            last_lines.read_once(key, run.log)

    def drain_last_lines(self) -> None:
        last = self.app.last_lines.drain()
        if last:
            by_stage: dict[str, dict[str, str]] = {}
            for (stage, task), line in last.items():
                by_stage.setdefault(stage, {})[task] = line
            for panel in self.app.panels:
                if panel.stage in by_stage:
                    panel.table.set_last_lines(by_stage[panel.stage])

    # ---------------------------------------------------------------- the log screen and outside programs
    def open_log(self, run: RunView) -> None:
        """The run's log full screen, with its earlier attempts a key away."""
        app = self.app
        app.panel.table.select_task(run.task)  # pinned: rows moving under the screen do not change its run
        self._log_attempt = run.attempt
        attempts = attempts_of(run, self.history(run.stage, run.task)) if run.attempt > 1 else []
        pane = app.pane
        screen = LogScreen(
            run,
            attempts,
            lambda: (pane.complete_lines, pane.partial, pane.cut),  # read when it is up: lines may come in meanwhile
            app.log_lines,
            now=app.clock,
            follow=self._follow_path,
            external=self.open_outside,
            copy=self.copy_path,
            shorten=app.names.in_text,
        )
        screen.extra = " · ".join(run_extra(run)) if run.state == RunState.RUNNING else ""

        def closed(_result: None) -> None:
            self.follow_selected()

        app.push_screen(screen, closed)

    def _follow_path(self, path: str) -> None:
        """The log screen switched to another attempt's log: follow that file instead."""
        self._followed_log = path
        self.app.pane.clear()
        self.app.follower.follow(path or None)

    async def open_outside(self, path: str, kind: str) -> None:
        """`path` in $PAGER or $EDITOR on the real terminal; the screen is restored after."""
        app = self.app
        if not path:
            app.say("This run has no log yet.", "warning")
            return
        argv = [*external.command_for(kind), path]
        try:
            status = await external.run_outside(app, argv)
        except SuspendNotSupported:
            app.say(f"Cannot hand the terminal to {argv[0]} here.", "warning")
            return
        except OSError as exc:
            var = "PAGER" if kind == "pager" else "EDITOR"
            app.say(f"${var} ({argv[0]}) cannot be started: {exc.strerror or exc}", "warning")
            return
        app.refresh(layout=True)
        if status:
            app.say(f"{argv[0]} exited with status {status}", "warning")

    def copy_path(self, path: str) -> None:
        if not path:
            self.app.say("This run has no log yet.", "warning")
            return
        self.app.copy_to_clipboard(path)
        self.app.say(f"copied: {path}")
