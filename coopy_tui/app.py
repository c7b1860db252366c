"""CoopyApp: a panel per stage, a live log pane, and keys that are engine commands.

The app renders what an `EngineClient` reports and changes nothing itself:
every key calls one engine command, and the screen catches up from the
engine's events. Events only mark rows dirty (`PipelineState.apply`); a timer
applies the dirty rows about ten times a second, so a burst of thousands of
events costs one repaint. Log files are read by background threads
(`coopy_tui.logs`) whose buffers the same timer drains.
"""

from __future__ import annotations

import gc
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.events import DescendantFocus, Resize
from textual.screen import Screen

from coopy_core.errors import CoopyError
from coopy_core.model import Event, RunState, RunView, StageView
from coopy_tui.client import EngineClient
from coopy_tui.keys import KEYS, app_bindings
from coopy_tui.logs import LastLines, LogFollower
from coopy_tui.state import Changes, PipelineState
from coopy_tui.widgets.confirm_screen import ConfirmScreen
from coopy_tui.widgets.filter_bar import FilterBar
from coopy_tui.widgets.footer import Footer
from coopy_tui.widgets.help_screen import HelpScreen
from coopy_tui.widgets.log_screen import LogScreen
from coopy_tui.widgets.log_view import LogView
from coopy_tui.widgets.metric_spark import MetricSpark
from coopy_tui.widgets.pipeline_bar import PipelineBar
from coopy_tui.widgets.quit_screen import QuitChoice, QuitScreen
from coopy_tui.widgets.run_table import RunTable, resources_text
from coopy_tui.widgets.stage_panel import StagePanel
from coopy_tui.widgets.stage_tabs import StageTabs

COLUMN_WIDTH = 40  # cells per stage needed to show the panels side by side
SHORT_HEIGHT = 30  # below this many rows the log pane shrinks
MAX_NOTIFICATIONS_PER_WINDOW = 3  # failure toasts ...
NOTIFY_WINDOW = 5.0  # ... per this many seconds (a toast shows 5 s)
EXPEDITE_SECONDS = 0.5  # after a command, how long its events are painted as they arrive ...
EXPEDITE_REPAINTS = 5  # ... and how many such repaints at most (under load, events never stop)
GC_THRESHOLD = (50_000, 20, 10)  # while the app runs (see CoopyApp._freeze_heap)


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
        self._held: list[Event] = []  # failures waiting for room to be shown
        self._held_dropped = 0
        self._toasted: deque[float] = deque()  # when the recent failure toasts were shown
        self._frozen = False  # start-up objects moved out of the garbage collector's way (gc.freeze)
        self._gc_threshold = gc.get_threshold()
        self.repaints = 0  # for tests and measurements
        self.repaint_seconds = 0.0
        # kept as attributes, not queried: the repaint timer may still fire while the app shuts down and
        # its widgets are gone, when a query would raise
        views, total = self._views(), self.state.task_count
        self._pipeline_bar = PipelineBar(self.state.pipeline, views, total, id="pipeline")
        self._tabs = StageTabs(views, total, id="tabs")
        self._pane = LogView(max_lines=log_lines, placeholder="(no run selected)", focusable=False, id="log-tail")
        self._filter_bar = FilterBar(id="filter", on_change=self._filter_changed)
        # issue 15: the selected run's metric as a sparkline; asked of the engine only once a run reports one
        self._spark = MetricSpark(lambda *args: self.client.metric_series(*args), id="metric-spark")

    # ================================================================ layout
    def compose(self) -> ComposeResult:
        views = self._views()
        total = self.state.task_count
        task_width = min(32, max([len(t) for t in self.state.tasks] + [8]))
        with Vertical(id="body"):
            yield self._pipeline_bar
            yield self._tabs
            with Horizontal(id="stages"):
                for view in views:
                    panel = StagePanel(view, total, self.clock, task_width, self.metrics)
                    self.panels.append(panel)
                    yield panel
            yield self._spark
            yield self._pane
            yield self._filter_bar
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.screen.set_class(True, "main")
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
        """Side by side when every stage gets COLUMN_WIDTH cells, else one stage at a time (tabs)."""
        body = self.query_one("#body")
        columns = width >= COLUMN_WIDTH * max(1, len(self.panels))
        body.set_class(columns, "-columns")
        body.set_class(not columns, "-tabs")
        body.set_class(height < SHORT_HEIGHT, "-short")
        for footer in self.query(Footer):
            if footer.show_command_palette != columns:
                # narrow: room for the keys instead (ctrl+p still works)
                footer.show_command_palette = columns
                footer.refresh(recompose=True)

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

    @on(RunTable.Highlighted)
    def _row_highlighted(self, event: RunTable.Highlighted) -> None:
        if event.table is self.panel.table:
            self._follow_selected()

    def _follow_selected(self) -> None:
        run = self.selected()
        key = (run.stage, run.task) if run else None
        log = run.log if run else ""
        title = self._log_title(run)
        pane = self._pane
        if key == self._followed and log == self._followed_log:
            if title != self._followed_title:  # same log, news of the run (state, Slurm job)
                self._followed_title = title
                pane.border_title = title
                if isinstance(self.screen, LogScreen):
                    self.screen.set_title(title, log)
            return
        self._followed = key
        self._followed_log = log
        self._followed_title = title
        pane.border_title = title
        if run is None:
            pane.set_placeholder("(no run selected)")
        elif not log:
            pane.set_placeholder("(not started yet: no log)")
        else:
            pane.set_placeholder("(no output yet)")
        pane.clear()
        self.follower.follow(log or None)
        if isinstance(self.screen, LogScreen):
            self.screen.set_title(title, log)

    def _log_title(self, run: RunView | None) -> str:
        """`log · train/x=1 · attempt 1 · running · job 123 · gpus 0,1` (job and resources while it runs)."""
        if run is None:
            return "log"
        attempt = f" · attempt {run.attempt}" if run.attempt else ""
        title = f"log · {run.stage}/{run.task}{attempt} · {run.state.value}"
        if run.state == RunState.RUNNING:
            if run.job_id:
                title += f" · job {run.job_id}"
            if held := resources_text(run):
                title += f" · {held}"
        return title

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
        for panel in self.panels:
            panel.table.flush_sort()
        self._follow_selected()  # rows may have moved under an unpinned cursor
        self._spark.follow(self.selected(), self.panel.table.metric_columns.names)
        self._drain_log()
        self._flush_notifications()
        self.repaints += 1
        self.repaint_seconds += time.perf_counter() - started

    def _apply_changes(self, changes: Changes) -> None:
        total = self.state.task_count
        stages = set(changes.stages) | set(changes.runs)
        for panel in self.panels:
            tasks = changes.runs.get(panel.stage)
            if tasks:
                runs = [self.state.runs[panel.stage][t] for t in tasks]
                panel.table.apply(runs)
                for run in runs:
                    self._watch_last_line(run)
            if panel.stage in stages or changes.tasks_added:
                panel.update_view(self.state.stages[panel.stage], total)
        views = self._views()
        self._pipeline_bar.update_views(views, total)
        self._tabs.update_views(views, total, self.current)
        self._notify_messages(changes.messages, changes.dropped_messages)

    def _watch_last_line(self, run: RunView, initial: bool = False) -> None:
        key = (run.stage, run.task)
        if run.state == RunState.RUNNING and run.log:
            self._watched.add(key)
            self.last_lines.watch(key, run.log)
        elif key in self._watched:
            self._watched.discard(key)
            self.last_lines.unwatch(key, read_once=run.state.passed)
        elif initial and run.state.passed and run.log:
            self.last_lines.read_once(key, run.log)

    def _drain_log(self) -> None:
        update = self.follower.drain()
        if update is None or update.path != (self._followed_log or None):
            return
        views = [self._pane]
        if isinstance(self.screen, LogScreen):
            views.append(self.screen.log_view)
        for view in views:
            if update.reset:
                view.replace(update.lines, update.partial)
            else:
                view.append(update.lines, update.partial)

    def _notify_messages(self, messages: list[Event], dropped: int) -> None:
        """Failures and the end of the pipeline as notifications; a flood becomes one summary.

        At most MAX_NOTIFICATIONS_PER_WINDOW failure toasts per NOTIFY_WINDOW seconds: the rest wait
        and come as one summary once there is room. A stream of retries (a few a second on a big,
        flaky pipeline) then keeps a short stack of toasts instead of a wall of them, each of which
        costs a screen layout.
        """
        for m in messages:
            if m.kind.value == "finished":
                self.notify(f"{m.message}; press s for the summary", title="Pipeline finished",
                            severity="information", markup=False)
            elif m.data.get("source") == "store":  # the state store cannot be written (a full disk), or can again
                self.notify(m.message, title="State store", severity="error" if m.level == "error" else "information",
                            timeout=15 if m.level == "error" else 5, markup=False)
            elif m.data.get("source") == "machine":  # starts the machine refuses (descriptors, memory, space)
                self.notify(m.message, title="Cannot start runs now", severity="warning", markup=False)
            elif m.data.get("source") == "hook":  # on_done / on_failed / on_finished commands
                if m.level == "info":
                    self.notify(m.message, title="Hook", severity="information", markup=False)
                else:
                    self.notify(m.message, title="Hook", severity="error" if m.level == "error" else "warning",
                                markup=False)
            elif m.level in ("warning", "error"):
                self._held.append(m)
        self._held_dropped += dropped
        self._flush_notifications()

    def _flush_notifications(self) -> None:
        if not self._held and not self._held_dropped:
            return
        now = time.monotonic()
        while self._toasted and now - self._toasted[0] >= NOTIFY_WINDOW:
            self._toasted.popleft()
        room = MAX_NOTIFICATIONS_PER_WINDOW - len(self._toasted)
        if room <= 0:
            return
        held, dropped = self._held, self._held_dropped
        self._held, self._held_dropped = [], 0
        if len(held) <= room and not dropped:
            for m in held:
                self._toasted.append(now)
                if m.level == "error":
                    self.notify(m.message, title="Run failed", severity="error", timeout=10, markup=False)
                else:
                    self.notify(m.message, title="Run failed, will retry", severity="warning", markup=False)
            return
        self._toasted.append(now)
        errors = sum(1 for m in held if m.level == "error")
        latest = held[-1].message if held else ""
        self.notify(
            f"{len(held) + dropped} runs failed ({errors} for good); latest: {latest}",
            title="Many failures",
            severity="error" if errors else "warning",
            timeout=10,
            markup=False,
        )

    def settled(self) -> bool:
        """Nothing left to paint: events applied, logs read and shown (tests wait for this)."""
        return (
            not self.state.pending
            and self.follower.settled
            and self.last_lines.settled
            and not any(p.table.needs_sort for p in self.panels)
        )

    # ================================================================ commands (each one engine call)
    def _command(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call one engine command; its refusal becomes a notification; the screen catches up at once.

        An engine in another process sends the command's events after its reply: for a moment after
        a command, events are applied as they arrive instead of at the next repaint tick (up to
        `refresh_interval` later).
        """
        try:
            result = fn(*args)
        except CoopyError as exc:
            self.notify(str(exc), title="Not done", severity="warning", markup=False)
            return None
        self._expedite_until = time.monotonic() + EXPEDITE_SECONDS
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
        self.panel.table.flush_sort(force=True)  # the command's stage; the others re-sort on their own time

    def _need_run(self) -> RunView | None:
        run = self.selected()
        if run is None:
            self.notify("No run selected in this stage.", severity="warning", markup=False)
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
            self._command(self.client.bump, run.task, run.stage, 1)

    def action_lower_priority(self) -> None:
        if run := self._need_run():
            self._command(self.client.bump, run.task, run.stage, -1)

    def action_top(self) -> None:
        if run := self._need_run():
            self._command(self.client.top, run.task, run.stage)

    def action_toggle_pause(self) -> None:
        self._command(self.client.toggle_pause, self.panel.stage)

    def action_more_workers(self) -> None:
        view = self.state.stages[self.panel.stage]
        self._command(self.client.set_workers, view.name, view.workers + 1)

    def action_fewer_workers(self) -> None:
        view = self.state.stages[self.panel.stage]
        self._command(self.client.set_workers, view.name, view.workers - 1)

    def action_retry(self) -> None:
        if run := self._need_run():
            self._command(self.client.retry, run.task, run.stage)

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
                self._command(self.client.cancel, run.task, run.stage)

        self.push_screen(ConfirmScreen(question, yes="Cancel the run", no="Keep it"), answered)

    def action_filter(self) -> None:
        bar = self._filter_bar
        bar.add_class("-visible")
        bar.focus()

    def _filter_changed(self, value: str) -> None:
        """Called by the filter bar as the text changes (not through a message: the lists then change in
        the same frame as the typed character, not one frame, about 17 ms, later)."""
        for panel in self.panels:
            panel.table.set_filter(value)
        self._follow_selected()

    @on(FilterBar.Submitted, "#filter")
    def _filter_submitted(self, event: FilterBar.Submitted) -> None:
        bar = self._filter_bar
        if not event.value:
            bar.remove_class("-visible")
        self.panel.table.focus()

    def action_open_log(self) -> None:
        run = self._need_run()
        if run is None:
            return
        pane = self._pane
        self.push_screen(LogScreen(self._log_title(run), run.log, pane.complete_lines, pane.partial, self.log_lines))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_summary(self) -> None:
        """Per stage: counts, mean and longest duration, failures with their reasons."""
        from coopy_tui.widgets.summary_screen import SummaryScreen, summarize

        title = f"{self.state.pipeline}: {'finished' if not self.state.busy() else 'so far'}"
        self.push_screen(SummaryScreen(summarize(self.state.stage_names, self.state.runs), title))

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
        yield from super().get_system_commands(screen)
        if not screen.has_class("main"):
            return
        for key in KEYS:
            if key.palette and key.action not in ("quit",):
                yield SystemCommand(
                    f"{key.help} ({key.display.split('  ')[0]})",
                    f"Key: {key.display}",
                    self._palette_callback(key.action),
                )

    def _palette_callback(self, action: str) -> Callable[[], Any]:
        async def run() -> None:
            await self.run_action(action)

        return run
