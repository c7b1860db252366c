"""CoopyApp: a panel per stage, a live log pane, and keys that are engine commands.

The app renders what an `EngineClient` reports and changes nothing itself:
every key calls one engine command, and the screen catches up from the
engine's events. Events only mark rows dirty (`PipelineState.apply`); a timer
applies the dirty rows about ten times a second, so a burst of thousands of
events costs one repaint. Log files are read by background threads
(`coopy_tui.logs`) whose buffers the same timer drains. What the app tells a
person goes through `coopy_tui.notices`: a history (`!`) and at most one toast
of each kind.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from textual import events, on
from textual.app import App, ComposeResult, SuspendNotSupported, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.events import DescendantFocus, Resize
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Static

from coopy_core.errors import CoopyError
from coopy_core.model import Event, RunState, RunView, StageView
from coopy_tui import external
from coopy_tui.client import EngineClient
from coopy_tui.format import busy, outcome_text
from coopy_tui.keys import KEYS, app_bindings
from coopy_tui.logs import LastLines, LogFollower
from coopy_tui.matching import count_text
from coopy_tui.notices import (
    COMMAND,
    FAILED,
    FINISHED,
    HOOK,
    RETRY,
    SOURCES,
    Notice,
    NoticeLog,
    Toaster,
    failure_toast,
    from_event,
)
from coopy_tui.settings import Settings
from coopy_tui.sorting import next_sort
from coopy_tui.state import Changes, PipelineState
from coopy_tui.widgets.confirm_screen import ConfirmScreen
from coopy_tui.widgets.filter_bar import FilterBar
from coopy_tui.widgets.help_screen import HelpScreen
from coopy_tui.widgets.key_bar import KeyBar
from coopy_tui.widgets.log_screen import LogScreen, attempts_of, timing_text
from coopy_tui.widgets.log_view import LogView
from coopy_tui.widgets.main_screen import MainScreen
from coopy_tui.widgets.metric_spark import MetricSpark
from coopy_tui.widgets.pipeline_bar import PipelineBar
from coopy_tui.widgets.quit_screen import QuitChoice, QuitScreen
from coopy_tui.widgets.run_columns import DEFAULT_COLUMNS, Column
from coopy_tui.widgets.run_table import RunTable, resources_text
from coopy_tui.widgets.stage_panel import StagePanel
from coopy_tui.widgets.stage_tabs import StageTabs

COLUMN_WIDTH = 40  # cells per stage needed to show the panels side by side
SHORT_HEIGHT = 30  # below this many rows the log pane shrinks
TWO_LINE_FOOTER = 24  # from this many rows the footer may take two lines
EXPEDITE_SECONDS = 0.5  # after a command, how long its events are painted as they arrive ...
EXPEDITE_REPAINTS = 5  # ... and how many such repaints at most (under load, events never stop)
GC_THRESHOLD = (50_000, 20, 10)  # while the app runs (see CoopyApp._freeze_heap)
COMMANDED_SECONDS = 10.0  # a run that leaves the filter this soon after a command on it is reported
HIDDEN_SYSTEM_COMMANDS = ("Quit", "Keys", "Maximize", "Minimize")  # Textual's, replaced or not useful here


def pane_height(height: int) -> int:
    """The log pane grows with the terminal: a third of what the bars leave, 6 to 24 rows."""
    return max(6, min(24, (height - 4) // 3))


class CoopyApp(App[QuitChoice | None]):
    """The pipeline on one screen. Returns how to quit: leave running commands running, or stop them."""

    CSS_PATH = "coopy.tcss"
    TITLE = "CooPy"
    BINDINGS = app_bindings()

    def __init__(
        self,
        client: EngineClient,
        *,
        clock: Callable[[], float] = time.time,
        log_lines: int = 2000,
        refresh_interval: float = 0.1,
        tick_interval: float = 1.0,
        follow_interval: float = 0.2,
        last_line_interval: float = 1.0,
        background: bool = False,
        settings: Settings | None = None,
        columns: Sequence[Column] = DEFAULT_COLUMNS,
        metrics: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.metrics = list(metrics) if metrics else None  # metric columns asked for (issue 15)
        self.client = client
        self.background = background  # attached to a background engine: quitting detaches
        self.clock = clock
        self.log_lines = log_lines
        self.refresh_interval = refresh_interval
        self.tick_interval = tick_interval
        self.settings = settings or Settings()
        self.columns = tuple(columns)
        self.state = PipelineState(client.snapshot())
        self._expedite_until = 0.0  # after a command: apply its events as they come, not at the next tick
        self._expedite_left = 0
        self._expedited = False
        self._unsubscribe: Callable[[], None] | None = client.subscribe(self._on_event)
        self.follower = LogFollower(max_lines=log_lines, interval=follow_interval)
        self.last_lines = LastLines(interval=last_line_interval)
        self.current = 0
        self.panels: list[StagePanel] = []
        self._followed: tuple[str, str] | None = None  # (stage, task) the log pane shows
        self._followed_log = ""
        self._followed_title = ""
        self._watched: set[tuple[str, str]] = set()  # running runs whose last line is followed
        self._last_tick = 0.0
        self.notices = NoticeLog()
        self.notices.seed(r for runs in self.state.runs.values() for r in runs.values())
        self.toaster = Toaster(self, self._main_screen_up, failure_toast)
        self._commanded: dict[tuple[str, str], float] = {}  # runs a command touched -> when (monotonic)
        self._caps: dict[str, int] = {}  # the worker cap each stage's last ] / [ set
        self._log_attempt: int = 0  # the attempt the open LogScreen's run had (new one: fetch history)
        self._frozen = False  # start-up objects moved out of the garbage collector's way (gc.freeze)
        self._gc_threshold = gc.get_threshold()
        self.repaints = 0  # for tests and measurements
        self.repaint_seconds = 0.0
        self.terminal_notes: list[str] = []  # OSC / bell sequences written (tests read them)
        # kept as attributes, not queried: the repaint timer may still fire while the app shuts down and
        # its widgets are gone, when a query would raise
        views, total = self._views(), self.state.task_count
        self._pipeline_bar = PipelineBar(self.state.pipeline, views, total, id="pipeline")
        self._tabs = StageTabs(views, total, id="tabs")
        self._pane = LogView(max_lines=log_lines, placeholder="(no run selected)", focusable=False, id="log-tail")
        self._filter_bar = FilterBar(id="filter", on_change=self._filter_changed)
        self._filter_count = Static("", id="filter-count", markup=False)
        self._filter_text = ""
        self._keys = KeyBar(hidden=lambda: set() if self.state.pools else {"pools"}, id="keys")
        # issue 15: the selected run's metric as a sparkline; asked of the engine only once a run reports one
        self._spark = MetricSpark(lambda *args: self.client.metric_series(*args), id="metric-spark")

    # ================================================================ layout
    def get_default_screen(self) -> MainScreen:
        return MainScreen()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded and isinstance(self.screen, MainScreen):
            self.screen.key_pressed()  # its answer is drawn at once, not at the next 60 Hz tick
        await super().on_event(event)

    def compose(self) -> ComposeResult:
        views = self._views()
        total = self.state.task_count
        task_width = min(32, max([len(t) for t in self._run_names()] + [8]))
        with Vertical(id="body"):
            yield self._pipeline_bar
            yield self._tabs
            with Horizontal(id="stages"):
                for view in views:
                    panel = StagePanel(view, total, self.clock, task_width, self.columns, self.metrics)
                    self.panels.append(panel)
                    yield panel
            yield self._spark
            yield self._pane
            with Horizontal(id="filter-row"):
                yield self._filter_bar
                yield self._filter_count
        yield self._keys

    def _run_names(self) -> Iterable[str]:
        for runs in self.state.runs.values():
            yield from runs
        yield from self.state.tasks

    def on_mount(self) -> None:
        self.screen.set_class(True, "main")
        if self.settings.keymap:
            self.set_keymap(self.settings.keymap)
        if self.settings.theme:
            self.theme = self.settings.theme
        for panel in self.panels:
            panel.table.load(self.state.runs[panel.stage].values())
        for runs in self.state.runs.values():
            for run in runs.values():
                self._watch_last_line(run, initial=True)
        self._apply_layout(self.size.width, self.size.height)
        self._set_current(0)
        self.follower.start()
        self.last_lines.start()
        self.set_interval(self.refresh_interval, self.repaint, name="repaint")
        self.call_after_refresh(self._freeze_heap)

    def on_unmount(self) -> None:
        self._stop_background()
        if self._frozen:
            self._frozen = False
            gc.unfreeze()
            gc.set_threshold(*self._gc_threshold)

    def _freeze_heap(self) -> None:
        """Keep the garbage collector's full passes rare and short (they stop the screen while they run).

        A full pass walks every live object: at 10,000 runs one took ~90 ms, and with Python's default
        thresholds the frames' short-lived objects got promoted so fast that one ran about once a
        second under load. So: what start-up built (the snapshot's runs, the widgets) is frozen out of
        the passes (collected once first, so no garbage is frozen), and the youngest generation is
        collected every 50,000 allocations instead of 700, so a frame's objects die young. Both are
        undone on unmount.
        """
        if not self._frozen:
            gc.collect()
            gc.freeze()
            self._frozen = True
            self._gc_threshold = gc.get_threshold()
            gc.set_threshold(*GC_THRESHOLD)

    def _stop_background(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.follower.stop()
        self.last_lines.stop()

    def on_resize(self, event: Resize) -> None:
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int, height: int) -> None:
        """Side by side when every stage gets COLUMN_WIDTH cells, else one stage at a time (tabs); the
        log pane takes a third of a tall terminal; the footer wraps to two lines when there is room."""
        body = self.query_one("#body")
        columns = width >= COLUMN_WIDTH * max(1, len(self.panels))
        body.set_class(columns, "-columns")
        body.set_class(not columns, "-tabs")
        body.set_class(height < SHORT_HEIGHT, "-short")
        rows = pane_height(height)
        if self._pane.styles.height is None or self._pane.styles.height.value != rows:
            self._pane.styles.height = rows
        self._keys.set_max_lines(1 if height < TWO_LINE_FOOTER else 2)

    # ================================================================ stages and selection
    def _views(self) -> list[StageView]:
        return [self.state.stages[name] for name in self.state.stage_names]

    @property
    def panel(self) -> StagePanel:
        return self.panels[self.current]

    def _set_current(self, index: int) -> None:
        self.current = index % len(self.panels)
        for i, panel in enumerate(self.panels):
            panel.set_class(i == self.current, "-current")
        self.panel.table.focus()
        self._tabs.update_views(self._views(), self.state.task_count, self.current)
        self._follow_selected()
        self._show_filter_count()

    def selected(self) -> RunView | None:
        """The run under the cursor of the current stage."""
        task = self.panel.table.selected_task
        return self.state.run(self.panel.stage, task) if task else None

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        """A click on another stage's list makes that stage the current one.

        Focus events arrive late: one for a list that has lost the focus again since (the start-up
        focus landing after a `tab`) is stale, and acting on it would bounce between two stages.
        """
        if event.widget is not self.focused:
            return
        for i, panel in enumerate(self.panels):
            if event.widget is panel.table and i != self.current:
                self._set_current(i)

    @on(StageTabs.Selected)
    def _tab_clicked(self, event: StageTabs.Selected) -> None:
        self._set_current(event.index)

    @on(RunTable.Highlighted)
    def _row_highlighted(self, event: RunTable.Highlighted) -> None:
        if event.table is self.panel.table:
            self._follow_selected()

    def jump_to(self, stage: str, task: str) -> bool:
        """Make `stage` current and select `task` in it (clearing the filter if it hides the run)."""
        if stage not in self.state.stage_names:
            return False
        self._set_current(self.state.stage_names.index(stage))
        table = self.panel.table
        if table.run(task) is None:
            self._say(f"{stage}/{task} is not in the list yet", "warning")
            return False
        if not table.select_task(task):
            self._filter_bar.value = ""  # the filter hides it: clear it (calls _filter_changed)
            self._filter_row_visible(False)
            self._say(f"cleared the filter to show {stage}/{task}")
            table.select_task(task)
        self._follow_selected()
        return True

    # ================================================================ the log pane
    def _log_screen(self) -> LogScreen | None:
        screen = self.screen
        return screen if isinstance(screen, LogScreen) else None

    def _follow_selected(self) -> None:
        run = self.selected()
        key = (run.stage, run.task) if run else None
        log = run.log if run else ""
        title = self._log_title(run)
        screen = self._log_screen()
        if screen is not None and run is not None and (screen.run.stage, screen.run.task) == key:
            self._update_log_screen(screen, run)
            log = screen.path
        pane = self._pane
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
        self.follower.follow(log or None)

    def _log_title(self, run: RunView | None) -> str:
        """`log · train/x=1 · attempt 2 · failed · exit 1` (the bottom border has the times and reason)."""
        if run is None:
            return "log"
        attempt = f" · attempt {run.attempt}" if run.attempt else ""
        code = f" · exit {run.exit_code}" if run.exit_code is not None else ""
        return f"log · {run.stage}/{run.task}{attempt} · {run.state.value}{code}"

    def _log_subtitle(self, run: RunView | None) -> str:
        """`14:03:01 → 14:03:09 (8s) · CUDA out of memory`: when, and why (or the Slurm job and the
        resources held while it runs)."""
        if run is None:
            return ""
        parts = []
        running = run.state == RunState.RUNNING
        if timing := timing_text(run.started_at, run.ended_at, self.clock(), running):
            parts.append(timing)
        parts += self._run_extra(run) if running else ([run.reason] if run.reason else [])
        return " · ".join(parts)

    @staticmethod
    def _run_extra(run: RunView) -> list[str]:
        """A running run's Slurm job and the pool resources it holds."""
        parts = []
        if run.job_id:
            parts.append(f"job {run.job_id}" + (f": {run.reason}" if run.reason else ""))
        if held := resources_text(run):
            parts.append(held)
        return parts

    def _update_log_screen(self, screen: LogScreen, run: RunView) -> None:
        attempts = None
        if run.attempt != self._log_attempt:  # a new attempt: what became of the previous one is history
            self._log_attempt = run.attempt
            attempts = attempts_of(run, self._history(run.stage, run.task))
        elif run != screen.run:
            attempts = [*screen.attempts[: run.attempt - 1], *attempts_of(run, [])[run.attempt - 1 :]]
        extra = " · ".join(self._run_extra(run)) if run.state == RunState.RUNNING else ""
        if attempts is not None or run != screen.run or extra != screen.extra:
            screen.update_run(run, attempts, extra)

    def _history(self, stage: str, task: str | None = None) -> list[dict[str, Any]]:
        """The engine's record of ended attempts ([] when it has none to give)."""
        history = getattr(self.client, "attempt_history", None)
        if history is None:
            return []
        try:
            return list(history(stage, task))
        except CoopyError:
            return []

    # ================================================================ the repaint timer
    def repaint(self) -> None:
        """Apply everything that changed since the last repaint (called ~10 times a second)."""
        started = time.perf_counter()
        changes = self.state.take()
        if changes:
            self._apply_changes(changes)
        last = self.last_lines.drain()
        if last:
            by_stage: dict[str, dict[str, str]] = {}
            for (stage, task), line in last.items():
                by_stage.setdefault(stage, {})[task] = line
            for panel in self.panels:
                if panel.stage in by_stage:
                    panel.table.set_last_lines(by_stage[panel.stage])
        mono = time.monotonic()
        if mono - self._last_tick >= self.tick_interval:
            self._last_tick = mono
            for panel in self.panels:
                panel.table.tick()
        self._follow_selected()  # rows may have moved under an unpinned cursor
        self._spark.follow(self.selected(), self.panel.table.metric_columns.names)
        self._drain_log()
        self.toaster.flush()
        self._pipeline_bar.set_unread(self.notices.unread)
        self.repaints += 1
        self.repaint_seconds += time.perf_counter() - started

    def _apply_changes(self, changes: Changes) -> None:
        total = self.state.task_count
        stages = set(changes.stages) | set(changes.runs)
        views = self._views()
        moving = busy(views)
        left: list[tuple[str, RunView]] = []
        for panel in self.panels:
            tasks = changes.runs.get(panel.stage)
            if tasks:
                runs = [self.state.runs[panel.stage][t] for t in tasks]
                removed = panel.table.apply(runs)
                if removed and self._commanded:
                    left += [(panel.table.filter_text, self.state.runs[panel.stage][t]) for t in removed]
                for run in runs:
                    self._watch_last_line(run)
                panel.update_subtitle()
            if panel.stage in stages or changes.tasks_added or panel.header.busy != moving:
                panel.update_view(self.state.stages[panel.stage], total, moving)
        self._pipeline_bar.update_views(views, total)
        self._tabs.update_views(views, total, self.current)
        if changes.runs:
            self._show_filter_count()
        self._say_left_filter(left)
        self._notify_messages(changes.messages, changes.dropped_messages)

    def _watch_last_line(self, run: RunView, initial: bool = False) -> None:
        """Running runs' last lines are followed; an ended run's (passed or failed) is read once."""
        key = (run.stage, run.task)
        ended = run.state.passed or run.state == RunState.FAILED
        if run.state == RunState.RUNNING and run.log:
            self._watched.add(key)
            self.last_lines.watch(key, run.log)
        elif key in self._watched:
            self._watched.discard(key)
            self.last_lines.unwatch(key, read_once=ended)
        elif initial and ended and run.log:
            self.last_lines.read_once(key, run.log)

    def _drain_log(self) -> None:
        update = self.follower.drain()
        if update is None or update.path != (self._followed_log or None):
            return
        views = [self._pane]
        if (screen := self._log_screen()) is not None and screen.is_mounted:  # else it starts from the pane's
            views.append(screen.log_view)
        for view in views:
            if update.reset:
                view.replace(update.lines, update.partial)
            else:
                view.append(update.lines, update.partial)

    # ================================================================ notifications
    def _main_screen_up(self) -> bool:
        try:
            return self.screen.has_class("main")
        except Exception:  # noqa: BLE001 - no screen while starting or stopping
            return False

    def _notify_messages(self, messages: list[Event], dropped: int) -> None:
        """Every message goes into the history; toasts: one per kind, failures coalesced (notices.py)."""
        failures = []
        for m in messages:
            notice = from_event(m)
            if notice is None:
                continue
            self.notices.add(notice)
            if notice.kind in (FAILED, RETRY):
                failures.append(notice)
            elif notice.kind == FINISHED:
                self._finished()
            elif notice.kind == HOOK:
                severity: SeverityLevel = (
                    "information" if m.level == "info" else ("error" if m.level == "error" else "warning")
                )
                self.toaster.toast("hook", notice.text, "Hook", severity)
            elif (source := m.data.get("source")) in SOURCES:  # the state store, the machine running short
                level: SeverityLevel = (
                    "error" if m.level == "error" else ("warning" if m.level == "warning" else "information")
                )
                self.toaster.toast(str(source), notice.text, SOURCES[str(source)], level)
            else:
                self.toaster.toast(
                    "info",
                    notice.text,
                    "",
                    "error" if m.level == "error" else ("warning" if m.level == "warning" else "information"),
                )
        if dropped:
            self.notices.add(Notice(self.clock(), COMMAND, "warning", f"{dropped} more messages came too fast to keep"))
        if failures:
            self.toaster.failures(failures)

    def push_screen(self, *args: Any, **kwargs: Any) -> Any:
        """A dialog opens: no toast of news covers it (failures wait for the main screen)."""
        self.toaster.clear_for_dialog()
        return super().push_screen(*args, **kwargs)

    def _finished(self) -> None:
        """The pipeline finished while we watched: say how it ended, in the top bar's own words."""
        outcome = outcome_text(self._views(), self.state.task_count)
        severity: SeverityLevel = "information" if outcome == "finished" else "error"
        self.toaster.toast("finished", f"{outcome}; press s for the summary", "Pipeline finished", severity)
        kind = self.settings.notify
        if kind != "none":
            note = external.osc(kind, f"CooPy {self.state.pipeline}", outcome)
            self.terminal_notes.append(note)
            if self._driver is not None:
                self._driver.write(note)
                self._driver.flush()

    def _say(self, text: str, severity: SeverityLevel = "information", kind: str = "command") -> None:
        """A short answer to a key: a toast (one at a time) and a line in the history."""
        level = {"information": "info", "warning": "warning", "error": "error"}[severity]
        self.notices.add(Notice(self.clock(), COMMAND, level, text))
        title = "Not done" if severity != "information" else ""
        self.toaster.toast(kind, text, title, severity)

    def _say_left_filter(self, left: list[tuple[str, RunView]]) -> None:
        """A run a command just touched no longer matches the filter and left the list: say so."""
        now = time.monotonic()
        self._commanded = {k: t for k, t in self._commanded.items() if now - t < COMMANDED_SECONDS}
        ours = [(f, r) for f, r in left if (r.stage, r.task) in self._commanded]
        if not ours:
            return
        for _f, r in ours:
            self._commanded.pop((r.stage, r.task), None)
        words, run = ours[0]
        if len(ours) == 1:
            text = f"{run.stage}/{run.task} is {run.state.value} now: it left the filter {words!r}"
        else:
            text = f"{len(ours)} runs you acted on left the filter {words!r} (now {run.state.value}, ...)"
        self._say(text + " (esc in / clears it)", kind="filter")

    def settled(self) -> bool:
        """Nothing left to paint: events applied, logs read and shown (tests wait for this)."""
        return not self.state.pending and self.follower.settled and self.last_lines.settled

    # ================================================================ commands (each one engine call)
    def _command(self, fn: Callable[..., Any], *args: Any, touches: Iterable[tuple[str, str]] = ()) -> Any:
        """Call one engine command; its refusal becomes a notification; the screen catches up at once.

        An engine in another process sends the command's events after its reply: for a moment after
        a command, events are applied as they arrive instead of at the next repaint tick (up to
        `refresh_interval` later). `touches` names the runs it acts on (said when they leave the filter).
        """
        try:
            result = fn(*args)
        except CoopyError as exc:
            self._say(str(exc), "warning")
            return None
        now = time.monotonic()
        for key in touches:
            self._commanded[key] = now
        self._expedite_until = now + EXPEDITE_SECONDS
        self._expedite_left = EXPEDITE_REPAINTS
        self._expedited_repaint()
        return result

    def _on_event(self, event: Event) -> None:
        """An engine event: recorded (cheap); right after a command, also painted at once."""
        self.state.apply(event)
        if self._expedite_left and not self._expedited:
            if time.monotonic() < self._expedite_until:
                self._expedited = True
                self._expedite_left -= 1
                self.call_later(self._expedited_repaint)
            else:
                self._expedite_left = 0

    def _expedited_repaint(self) -> None:
        self._expedited = False
        self.repaint()

    def _need_run(self) -> RunView | None:
        run = self.selected()
        if run is None:
            self._say("No run selected in this stage.", "warning")
        return run

    def action_next_stage(self) -> None:
        self._set_current(self.current + 1)

    def action_prev_stage(self) -> None:
        self._set_current(self.current - 1)

    def action_cursor_up(self) -> None:
        self.panel.table.move(-1)

    def action_cursor_down(self) -> None:
        self.panel.table.move(1)

    def action_raise_priority(self) -> None:
        if run := self._need_run():
            self._command(self.client.bump, run.task, run.stage, 1, touches=[(run.stage, run.task)])

    def action_lower_priority(self) -> None:
        if run := self._need_run():
            self._command(self.client.bump, run.task, run.stage, -1, touches=[(run.stage, run.task)])

    def action_top(self) -> None:
        run = self._need_run()
        if run is None:
            return
        if run.state == RunState.QUEUED and run.not_before is None:
            try:
                order = self.client.queue_order(run.stage)
            except CoopyError:
                order = []
            if order and order[0] == run.task:
                self._say(f"{run.stage}/{run.task} is already first in line")
                return
        self._command(self.client.top, run.task, run.stage, touches=[(run.stage, run.task)])

    def action_toggle_pause(self) -> None:
        self._command(self.client.toggle_pause, self.panel.stage)

    def _add_workers(self, delta: int) -> None:
        """A relative change (the engine adds `delta` to the cap it has): N presses are N steps, however
        stale the view they were pressed on."""
        stage = self.panel.stage
        before = self._caps.get(stage, self.state.stages[stage].workers)
        cap = self._command(self.client.add_workers, stage, delta)
        if cap is None:
            return
        self._caps[stage] = cap
        if cap == before:
            self._say(f"{stage}: the worker cap is {cap}, as far as it goes {'down' if delta < 0 else 'up'}")

    def action_more_workers(self) -> None:
        self._add_workers(1)

    def action_fewer_workers(self) -> None:
        self._add_workers(-1)

    def action_retry(self) -> None:
        if run := self._need_run():
            self._command(self.client.retry, run.task, run.stage, touches=[(run.stage, run.task)])

    def action_retry_all(self) -> None:
        """Retry every failed or cancelled run of this stage or of every stage, after saying how many."""
        from coopy_tui.widgets.retry_screen import RetryScreen

        views = self._views()
        stage = self.panel.stage

        def count(v: StageView) -> int:
            return v.counts.get("failed", 0) + v.counts.get("cancelled", 0)

        in_stage = count(self.state.stages[stage])
        in_all = sum(count(v) for v in views)
        if not in_all:
            self._say("Nothing to retry: no run failed or was cancelled.")
            return

        def answered(choice: str | None) -> None:
            if choice is None:
                return
            only = stage if choice == "stage" else None
            touched = [
                (r.stage, r.task)
                for runs in self.state.runs.values()
                for r in runs.values()
                if r.state in (RunState.FAILED, RunState.CANCELLED) and (only is None or r.stage == only)
            ]
            n = self._command(self.client.retry_failed, only, touches=touched)
            if n is not None:
                where = f"in {stage}" if only else "in every stage"
                self._say(f"{n} run{'s' if n != 1 else ''} {where} queued again")

        self.push_screen(RetryScreen(stage, in_stage, in_all), answered)

    def action_cancel(self) -> None:
        run = self._need_run()
        if run is None:
            return
        if run.state not in (RunState.QUEUED, RunState.RUNNING):
            # let the engine say why (one message for every refusal)
            self._command(self.client.cancel, run.task, run.stage)
            return
        what = "Stop" if run.state == RunState.RUNNING else "Cancel"
        question = f"{what} {run.stage}/{run.task} ({run.state.value})?"
        if run.state == RunState.RUNNING:
            question += "\nIts command and everything it started will be killed."

        def answered(yes: bool | None) -> None:
            if yes:
                self._command(self.client.cancel, run.task, run.stage, touches=[(run.stage, run.task)])

        self.push_screen(ConfirmScreen(question, yes="Cancel the run", no="Keep it"), answered)

    # ================================================================ finding runs
    def action_sort(self) -> None:
        table = self.panel.table
        table.set_sort(next_sort(table.sort))
        self.panel.update_subtitle()
        self._say(f"{self.panel.stage}: sorted by {table.sort.name} (o: the next order)", kind="info")

    def _failed_in(self, index: int) -> list[str]:
        table = self.panels[index].table
        return [t for t in table.shown_tasks() if (r := table.run(t)) is not None and r.state == RunState.FAILED]

    def _jump_failed(self, forward: bool) -> None:
        """The next (previous) failed run after the cursor: in this stage's list, then the next stages'."""
        n = len(self.panels)
        table = self.panel.table
        here = self._failed_in(self.current)
        cursor = table.cursor_row
        rows = {t: i for i, t in enumerate(table.shown_tasks())} if here else {}
        after = [t for t in here if (rows[t] > cursor if forward else rows[t] < cursor)]
        if after:
            self.jump_to(self.panel.stage, after[0] if forward else after[-1])
            return
        for step in range(1, n + 1):
            i = (self.current + (step if forward else -step)) % n
            found = self._failed_in(i)
            if found:
                self.jump_to(self.panels[i].stage, found[0] if forward else found[-1])
                return
        hidden = sum(v.counts.get("failed", 0) for v in self._views())
        if hidden:
            self._say(f"{hidden} failed runs, none of them in the filtered lists (esc in / clears it)")
        else:
            self._say("No failed runs.")

    def action_next_failed(self) -> None:
        self.toaster.drop_pending()  # looking at them now; the toast would cover the log of the run
        self._jump_failed(True)

    def action_prev_failed(self) -> None:
        self.toaster.drop_pending()
        self._jump_failed(False)

    def action_filter(self) -> None:
        self._filter_row_visible(True)
        self._filter_bar.focus()

    def _filter_row_visible(self, visible: bool) -> None:
        self.query_one("#filter-row").set_class(visible, "-visible")

    def _filter_changed(self, value: str) -> None:
        """Called by the filter bar as the text changes (not through a message: the lists then change in
        the same frame as the typed character, not one frame, about 17 ms, later)."""
        for panel in self.panels:
            panel.table.set_filter(value)
            panel.update_subtitle()
        self._follow_selected()
        self._show_filter_count()

    def _show_filter_count(self) -> None:
        table = self.panel.table
        text = ""
        if table.filter_text:
            shown = sum(p.table.row_count for p in self.panels)
            every = sum(p.table.run_count for p in self.panels)
            text = count_text(table.row_count, table.run_count, shown, every)
        if text != self._filter_text:  # its width is fixed (coopy.tcss): no layout for a new count
            self._filter_text = text
            self._filter_count.update(text, layout=False)

    @on(FilterBar.Submitted, "#filter")
    def _filter_submitted(self, event: FilterBar.Submitted) -> None:
        if not event.value:
            self._filter_row_visible(False)
        self.panel.table.focus()

    # ================================================================ screens
    def action_open_log(self) -> None:
        run = self._need_run()
        if run is not None:
            self.open_log(run)

    def open_log(self, run: RunView) -> None:
        """The run's log full screen, with its earlier attempts a key away."""
        self.panel.table.select_task(run.task)  # pinned: rows moving under the screen do not change its run
        self._log_attempt = run.attempt
        attempts = attempts_of(run, self._history(run.stage, run.task)) if run.attempt > 1 else []
        pane = self._pane
        screen = LogScreen(
            run,
            attempts,
            lambda: (pane.complete_lines, pane.partial),  # read when it is up: lines may come in meanwhile
            self.log_lines,
            now=self.clock,
            follow=self._follow_path,
            external=self.open_outside,
            copy=self.copy_path,
        )
        screen.extra = " · ".join(self._run_extra(run)) if run.state == RunState.RUNNING else ""

        def closed(_result: None) -> None:
            self._follow_selected()

        self.push_screen(screen, closed)

    def _follow_path(self, path: str) -> None:
        """The log screen switched to another attempt's log: follow that file instead."""
        self._followed_log = path
        self._pane.clear()
        self.follower.follow(path or None)

    def action_pager(self) -> Any:
        if run := self._need_run():
            return self.open_outside(run.log, "pager")
        return None

    def action_editor(self) -> Any:
        if run := self._need_run():
            return self.open_outside(run.log, "editor")
        return None

    async def open_outside(self, path: str, kind: str) -> None:
        """`path` in $PAGER or $EDITOR on the real terminal; the screen is restored after."""
        if not path:
            self._say("This run has no log yet.", "warning")
            return
        argv = [*external.command_for(kind), path]
        try:
            status = await external.run_outside(self, argv)
        except SuspendNotSupported:
            self._say(f"Cannot hand the terminal to {argv[0]} here.", "warning")
            return
        except OSError as exc:
            var = "PAGER" if kind == "pager" else "EDITOR"
            self._say(f"${var} ({argv[0]}) cannot be started: {exc.strerror or exc}", "warning")
            return
        self.refresh(layout=True)
        if status:
            self._say(f"{argv[0]} exited with status {status}", "warning")

    def action_copy_path(self) -> None:
        if run := self._need_run():
            self.copy_path(run.log)

    def copy_path(self, path: str) -> None:
        if not path:
            self._say("This run has no log yet.", "warning")
            return
        self.copy_to_clipboard(path)
        self._say(f"copied: {path}")

    def action_notices(self) -> None:
        from coopy_tui.widgets.notices_screen import NoticesScreen

        screen = NoticesScreen(self.notices.newest_first(), self.clock(), self.notices.dropped)
        self.notices.mark_read()
        self.toaster.drop_pending()
        self._pipeline_bar.set_unread(0)

        def chosen(key: tuple[str, str] | None) -> None:
            if key is not None:
                self.jump_to(*key)

        self.push_screen(screen, chosen)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.settings.keymap))

    def action_summary(self) -> None:
        """Per stage: counts, mean and longest duration; the runs that went wrong, enter opens one's log."""
        from coopy_tui.widgets.summary_screen import SummaryScreen, summarize

        history: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for stage, runs in self.state.runs.items():
            if any(r.attempt > 1 and r.state.passed for r in runs.values()):
                for row in self._history(stage):
                    history.setdefault((stage, str(row.get("task"))), []).append(row)

        def total(stage: str) -> int:
            return self.state.stages[stage].total or self.state.task_count

        summaries = summarize(self.state.stage_names, self.state.runs, history, total)
        title = f"{self.state.pipeline}: {'finished' if not self.state.busy() else 'so far'}"

        def last(stage: str, task: str) -> str:
            panel = next((p for p in self.panels if p.stage == stage), None)
            return panel.table.last_line(task) if panel else ""

        def chosen(key: tuple[str, str] | None) -> None:
            if key is not None and self.jump_to(*key):
                run = self.selected()
                if run is not None:
                    self.open_log(run)

        self.push_screen(SummaryScreen(summaries, title, last), chosen)

    def action_graph(self) -> None:
        from coopy_tui.widgets.graph_screen import GraphScreen

        self.push_screen(GraphScreen(self._views(), self.state.task_count, self.state.busy()))

    def action_results(self) -> None:
        """The results table: metrics per configuration, grouped and sorted by keys (an engine command)."""
        from coopy_tui.widgets.results_screen import ResultsScreen

        self.push_screen(ResultsScreen(self.client.results, f"{self.state.pipeline}: results"))

    def action_pools(self) -> None:
        """The resource pools, and resizing one (an engine command, like a worker cap)."""
        from coopy_tui.widgets.pools_screen import PoolsScreen

        self.push_screen(PoolsScreen(self.state.pools, self.client.set_pool))

    async def action_quit(self) -> None:
        """Ask what becomes of running commands (nothing to ask when none run)."""
        running = self.state.running()
        if running == 0:
            self.exit(QuitChoice.LEAVE)
            return

        def chosen(choice: QuitChoice | None) -> None:
            if choice is not None:
                self.exit(choice)

        self.push_screen(QuitScreen(running, background=self.background), chosen)

    # ================================================================ command palette
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Our commands (quit among them: it asks first), and of Textual's only those that apply."""
        for command in super().get_system_commands(screen):
            if command.title not in HIDDEN_SYSTEM_COMMANDS:
                yield command
        if not screen.has_class("main"):
            return
        for key in KEYS:
            if key.palette:
                yield SystemCommand(
                    f"{key.help} ({key.display.split('  ')[0]})",
                    f"Key: {key.display}",
                    self._palette_callback(key.action),
                )

    def _palette_callback(self, action: str) -> Callable[[], Any]:
        async def run() -> None:
            await self.run_action(action)

        return run


__all__ = ["CoopyApp"]
