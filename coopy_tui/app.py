"""CoopyApp: a panel per stage, a live log pane, and keys that are engine commands.

The app renders what an `EngineClient` reports and changes nothing itself: every key (bound on the
screen it acts on: `MainScreen` for the pipeline view) calls one engine command (`EngineCommands`),
and the screen catches up from the engine's events. Events only mark rows dirty
(`PipelineState.apply`); a timer applies the dirty rows about ten times a second, so a burst of
thousands of events costs one repaint. Log files are read by background threads (`coopy_tui.logs`)
whose buffers the same timer drains (`LogFollowing`). What the app tells a person goes through
`Announcer`: a history (`!`) and at most one toast of each kind. This module keeps the wiring.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from textual import events, on
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.events import DescendantFocus, Resize
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Input, Static

from coopy_core.model import Event, RunView, StageView
from coopy_tui.announcer import Announcer
from coopy_tui.client import EngineClient
from coopy_tui.engine_commands import EngineCommands
from coopy_tui.engine_link import EngineLink, Reconnect
from coopy_tui.format import busy, estimates
from coopy_tui.heap import HeapFreezer
from coopy_tui.log_following import LogFollowing
from coopy_tui.logs import LastLines, LogFollower
from coopy_tui.names import Names
from coopy_tui.notices import NoticeLog, Toaster, failure_toast
from coopy_tui.settings import Settings
from coopy_tui.state import Changes, PipelineState
from coopy_tui.widgets.filter_bar import FilterBar
from coopy_tui.widgets.help_screen import HelpScreen
from coopy_tui.widgets.key_bar import KeyBar
from coopy_tui.widgets.log_view import LogView
from coopy_tui.widgets.main_screen import HIDDEN_SYSTEM_COMMANDS, MainScreen
from coopy_tui.widgets.metric_spark import MetricSpark
from coopy_tui.widgets.pipeline_bar import PipelineBar
from coopy_tui.widgets.quit_screen import QuitChoice, QuitScreen
from coopy_tui.widgets.run_columns import DEFAULT_COLUMNS, Column
from coopy_tui.widgets.run_table import RunTable
from coopy_tui.widgets.stage_panel import StagePanel
from coopy_tui.widgets.stage_tabs import StageTabs

COLUMN_WIDTH = 40  # cells per stage needed to show the panels side by side
SHORT_HEIGHT = 30  # below this many rows the log pane shrinks
TWO_LINE_FOOTER = 24  # from this many rows the footer may take two lines


def pane_height(height: int) -> int:
    """The log pane grows with the terminal: a third of what the bars leave, 6 to 24 rows."""
    return max(6, min(24, (height - 4) // 3))


class CoopyApp(App[QuitChoice | None]):
    """The pipeline on one screen. Returns how to quit: leave running commands running, or stop them."""

    CSS_PATH = "coopy.tcss"
    TITLE = "CooPy"

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
        reconnect: Reconnect | None = None,
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
        self.commands = EngineCommands(self)
        self.logs = LogFollowing(self)
        self.announcer = Announcer(self)
        self.link = EngineLink(self, reconnect)  # the engine going away, and a new one coming
        self._unsubscribe: Callable[[], None] | None = client.subscribe(self._on_event)
        self.follower = LogFollower(max_lines=log_lines, interval=follow_interval)
        self.last_lines = LastLines(interval=last_line_interval)
        self.current = 0
        self.panels: list[StagePanel] = []
        self._last_tick = 0.0
        self.notices = NoticeLog()
        self.notices.seed(r for runs in self.state.runs.values() for r in runs.values())
        self.toaster = Toaster(
            self, self._main_screen_up, lambda pending, burst: failure_toast(pending, burst, self.names.in_text)
        )
        self.heap = HeapFreezer()  # start-up objects moved out of the garbage collector's way
        self.repaints = 0  # for tests and measurements
        self.repaint_seconds = 0.0
        self.terminal_notes: list[str] = []  # OSC / bell sequences written (tests read them)
        # kept as attributes, not queried: the repaint timer may still fire while the app shuts down and
        # its widgets are gone, when a query would raise
        views, total = self.views(), self.state.task_count
        self.pipeline_bar = PipelineBar(self.state.pipeline, views, total, id="pipeline")
        self._tabs = StageTabs(views, total, id="tabs")
        self.pane = LogView(max_lines=log_lines, placeholder="(no run selected)", focusable=False, id="log-tail")
        self.main_screen = MainScreen()  # binds the keys; the filter bar calls it as its text changes
        self.filter_bar = FilterBar(
            id="filter", on_change=self.main_screen.filter_changed, on_clear=lambda: self.main_screen.filter_closed("")
        )
        self.filter_count = Static("", id="filter-count", markup=False)
        self.key_bar = KeyBar(hidden=lambda: set() if self.state.pools else {"pools"}, id="keys")
        # issue 15: the selected run's metric as a sparkline; asked of the engine only once a run reports one
        self._spark = MetricSpark(lambda *args: self.client.metric_series(*args), id="metric-spark")

    # ================================================================ layout
    def get_default_screen(self) -> MainScreen:
        return self.main_screen

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            if isinstance(self.screen, MainScreen):
                self.screen.key_pressed()  # its answer is drawn at once, not at the next 60 Hz tick
            elif event.key == "question_mark" and self.action_view_help():
                return
        await super().on_event(event)

    def compose(self) -> ComposeResult:
        views = self.views()
        total = self.state.task_count
        task_width = min(32, max([len(t) for t in self._run_names()] + [8]))
        self.names = Names.of(self.state.tasks)  # the params that differ, and the ones every configuration shares
        etas = estimates(views, total)
        with Vertical(id="body"):
            yield self.pipeline_bar
            yield self._tabs
            with Horizontal(id="stages"):
                for view in views:
                    panel = StagePanel(view, total, self.clock, task_width, self.columns, self.metrics, self.names)
                    panel.header.estimate = etas[view.name]
                    self.panels.append(panel)
                    yield panel
            yield self._spark
            yield self.pane
            with Horizontal(id="filter-row"):
                yield self.filter_bar
                yield self.filter_count
        yield self.key_bar

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
                self.logs.watch_last_line(run)
        self._apply_layout(self.size.width, self.size.height)
        self.set_current(0)
        self.link.watch(self.client)
        self.follower.start()
        self.last_lines.start()
        self.set_interval(self.refresh_interval, self.repaint, name="repaint")
        self.call_after_refresh(self.heap.freeze)

    def on_unmount(self) -> None:
        self.link.unwatch()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.follower.stop()
        self.last_lines.stop()
        self.heap.thaw()

    def on_resize(self, event: Resize) -> None:
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int, height: int) -> None:
        """Side by side when every stage gets COLUMN_WIDTH cells, else one stage at a time (tabs); the
        log pane takes a third of a tall terminal; the footer wraps to two lines when there is room."""
        body = self.query_one("#body")
        columns = width >= COLUMN_WIDTH * max(1, len(self.panels))
        body.set_class(columns, "-columns")
        body.set_class(not columns, "-tabs")
        self._show_panels()
        body.set_class(height < SHORT_HEIGHT, "-short")
        rows = pane_height(height)
        if self.pane.styles.height is None or self.pane.styles.height.value != rows:
            self.pane.styles.height = rows
        self.key_bar.set_max_lines(1 if height < TWO_LINE_FOOTER else 2)

    # ================================================================ stages and selection
    def views(self) -> list[StageView]:
        return [self.state.stages[name] for name in self.state.stage_names]

    @property
    def panel(self) -> StagePanel:
        return self.panels[self.current]

    def set_current(self, index: int) -> None:
        """Make the stage at `index` (modulo the count) the current one: its list has the focus."""
        self.current = index % len(self.panels)
        self._show_panels()
        self.panel.table.focus()
        self._tabs.update_views(self.views(), self.state.task_count, self.current)
        self.logs.follow_selected()
        self.main_screen.show_filter_count()

    def _show_panels(self) -> None:
        tabs = self.query_one("#body").has_class("-tabs")
        for i, panel in enumerate(self.panels):
            panel.show_as(i == self.current, tabs)

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
                self.set_current(i)

    @on(StageTabs.Selected)
    def _tab_clicked(self, event: StageTabs.Selected) -> None:
        self.set_current(event.index)

    @on(RunTable.Highlighted)
    def _row_highlighted(self, event: RunTable.Highlighted) -> None:
        if event.table is self.panel.table:
            self.logs.follow_selected()
            self.panel.update_subtitle()  # a note about the run left behind goes

    def jump_to(self, stage: str, task: str) -> bool:
        """Make `stage` current and select `task` in it (clearing the filter if it hides the run)."""
        if stage not in self.state.stage_names:
            return False
        self.set_current(self.state.stage_names.index(stage))
        table = self.panel.table
        if table.run(task) is None:
            self.say(f"{stage}/{task} is not in the list yet", "warning")
            return False
        if not table.select_task(task):
            self.filter_bar.value = ""  # the filter hides it: clear it (calls MainScreen.filter_changed)
            self.main_screen.filter_row_visible(False)
            self.say(f"cleared the filter to show {stage}/{task}")
            table.select_task(task)
        self.logs.follow_selected()
        return True

    # ================================================================ engine events and the repaint timer
    def _on_event(self, event: Event) -> None:
        """An engine event: recorded (cheap); right after a command, also painted at once."""
        self.state.apply(event)
        self.commands.event_arrived()

    def repaint(self) -> None:
        """Apply everything that changed since the last repaint (called ~10 times a second)."""
        started = time.perf_counter()
        changes = self.state.take()
        left = self.announcer.take_left()
        if changes:
            self._apply_changes(changes)
        self.announcer.say_left(left)
        self.logs.drain_last_lines()
        mono = time.monotonic()
        if mono - self._last_tick >= self.tick_interval and not self.link.gone:  # gone: the clocks stop
            self._last_tick = mono
            for panel in self.panels:
                panel.table.tick()
        self.logs.follow_selected()  # rows may have moved under an unpinned cursor
        self._spark.follow(self.selected(), self.panel.table.metric_columns.names)
        self.logs.drain()
        self.toaster.flush()
        self.pipeline_bar.set_unread(self.notices.unread)
        self.repaints += 1
        self.repaint_seconds += time.perf_counter() - started

    def _apply_changes(self, changes: Changes) -> None:
        total = self.state.task_count
        if changes.tasks_added:
            names = Names.of(self.state.tasks)
            if names != self.names:  # a new configuration may make a shared param differ
                self.names = names
                for panel in self.panels:
                    panel.set_names(names)
        stages = set(changes.stages) | set(changes.runs)
        views = self.views()
        moving = busy(views)
        etas = estimates(views, total)  # a stage's ETA depends on what it needs: a pause upstream changes it
        left: list[tuple[str, RunView]] = []
        for panel in self.panels:
            tasks = changes.runs.get(panel.stage)
            if tasks:
                runs = [self.state.runs[panel.stage][t] for t in tasks]
                removed = panel.table.apply(runs)
                if removed and self.commands.commanded:
                    left += [(panel.table.filter_text, self.state.runs[panel.stage][t]) for t in removed]
                for run in runs:
                    self.logs.watch_last_line(run)
                panel.update_subtitle()
            eta = etas[panel.stage]
            if (
                panel.stage in stages
                or changes.tasks_added
                or panel.header.busy != moving
                or panel.header.estimate != eta
            ):
                panel.update_view(self.state.stages[panel.stage], total, moving, eta)
        self.pipeline_bar.update_views(views, total)
        self._tabs.update_views(views, total, self.current)
        if changes.runs:
            self.main_screen.show_filter_count()
        self.announcer.left_filter(left)
        self.announcer.messages(changes.messages, changes.dropped_messages)

    def reload(self, state: PipelineState) -> None:
        """A new engine's snapshot replaces the screen's copy (re-attach): the tables keep their stage,
        sort, filter and pinned cursor; the events after it are followed from now on."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.state = state
        self._unsubscribe = self.client.subscribe(self._on_event)
        total = state.task_count
        moving = busy(self.views())
        self.names = Names.of(state.tasks)
        etas = estimates(self.views(), total)
        for panel in self.panels:
            panel.set_names(self.names)
            panel.table.load(state.runs[panel.stage].values())
            panel.update_view(state.stages[panel.stage], total, moving, etas[panel.stage])
            panel.update_subtitle()
        self.pipeline_bar.update_views(self.views(), total)
        self._tabs.update_views(self.views(), total, self.current)
        self.main_screen.show_filter_count()
        self.logs.follow_selected()

    def settled(self) -> bool:
        """Nothing left to paint: events applied, logs read and shown (tests wait for this)."""
        return not self.state.pending and self.follower.settled and self.last_lines.settled

    # ================================================================ notifications and screens
    def say(self, text: str, severity: SeverityLevel = "information", kind: str = "command") -> None:
        """A short answer to a key: a toast (one at a time) and a line in the history."""
        self.announcer.say(text, severity, kind)

    def _main_screen_up(self) -> bool:
        try:
            return self.screen.has_class("main")
        except Exception:  # noqa: BLE001 - no screen while starting or stopping
            return False

    def push_screen(self, *args: Any, **kwargs: Any) -> Any:
        """A dialog opens: no toast of news covers it (failures wait for the main screen)."""
        self.toaster.clear_for_dialog()
        return super().push_screen(*args, **kwargs)

    async def action_quit(self) -> None:
        """Ask what becomes of running commands (nothing to ask when none run); `q` and ctrl+q."""
        running = self.state.running()
        if running == 0 or self.link.gone:  # gone: nothing to leave running or to stop
            self.exit(QuitChoice.LEAVE)
            return

        def chosen(choice: QuitChoice | None) -> None:
            if choice is not None:
                self.exit(choice)

        self.push_screen(QuitScreen(running, background=self.background), chosen)

    def action_view_help(self) -> bool:
        """`?` on a screen other than the pipeline view (which binds its own, from the key table): the keys of
        that screen. Not a binding: a dialog's bindings hide the app's, and a priority binding would show over
        the pipeline view's `?` in its footer. False where `?` is that screen's (the help, a text field)."""
        screen = self.screen
        if isinstance(screen, MainScreen | HelpScreen) or isinstance(screen.focused, Input):
            return False
        self.push_screen(HelpScreen.of(screen, self.settings.keymap))
        return True

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Our commands (quit among them: it asks first), and of Textual's only those that apply."""
        for command in super().get_system_commands(screen):
            if command.title not in HIDDEN_SYSTEM_COMMANDS:
                yield command
        if isinstance(screen, MainScreen) and screen.has_class("main"):
            yield from screen.palette_commands()


__all__ = ["CoopyApp"]
