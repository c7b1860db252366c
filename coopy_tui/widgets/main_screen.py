"""MainScreen: the stage panels, the keys that act on them, and the answer to a key drawn at once.

Every key of the pipeline view (coopy_tui.keys, the one key table) is bound here, on the screen
whose panels it acts on: a dialog on top has its own keys. Each action is a few lines: engine
commands go through `EngineCommands`, logs through `LogFollowing`, both on the app.

Textual draws a screen's changes on a 60 Hz grid: a change waits for the screen's update timer,
0 to 16.7 ms (8 on average). For what a key changes that wait is most of the latency a person
feels, so the first frame after a key is drawn as soon as the screen is idle (every message the
key caused handled); whatever changes later (events, log lines, the clock) waits for the grid as
before, so a busy pipeline draws no more frames than it did.

Textual internals used (pinned version, see pyproject): `Screen._on_idle` (the handler that starts
the update timer) and `Screen._on_timer_update` (what the timer calls: layout, then the frame).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from textual import events, on
from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets._toast import ToastRack  # Textual's own rack of toasts (pinned Textual: pyproject.toml)

from coopy_core.model import RunState
from coopy_tui.format import counted, stage_total
from coopy_tui.keys import KEYS, main_bindings
from coopy_tui.matching import count_text
from coopy_tui.selection import Selection
from coopy_tui.sorting import next_sort
from coopy_tui.widgets.filter_bar import FilterBar
from coopy_tui.widgets.help_screen import HelpScreen

if TYPE_CHECKING:
    from coopy_tui.app import CoopyApp

KEY_ANSWER_SECONDS = 0.25  # a frame this soon after a key is its answer; later ones wait for the grid
HIDDEN_SYSTEM_COMMANDS = ("Quit", "Keys", "Maximize", "Minimize")  # Textual's, replaced or not useful here


class MainScreen(Screen[None]):
    """The screen with the stage panels; `key_pressed()` asks for the next frame to be drawn at once."""

    BINDINGS = [*main_bindings(), Binding("escape", "clear_filter", show=False)]

    def __init__(self) -> None:
        super().__init__(id="_default")
        self._key_at: float | None = None
        self._filter_text = ""  # the filter's counts as shown
        self.selection = Selection(lambda: self.coopy)  # the marked runs (space, ctrl+a)

    @property
    def coopy(self) -> CoopyApp:
        return cast("CoopyApp", self.app)

    # ================================================================ drawing the answer to a key at once
    def key_pressed(self) -> None:
        self._key_at = time.monotonic()

    def _frame_due(self) -> bool:
        return bool(
            self._layout_required
            or self._scroll_required
            or self._repaint_required
            or self._recompose_required
            or self._dirty_widgets
        )

    async def _on_idle(self, event: events.Idle) -> None:
        key_at = self._key_at
        if key_at is not None and self.is_current and not self.app._batch_count and self._frame_due():
            self._key_at = None
            if time.monotonic() - key_at < KEY_ANSWER_SECONDS:
                event.prevent_default()
                self._on_timer_update()  # draw now (pauses the update timer, as a tick does)
                return
        await super()._on_idle(event)

    # ================================================================ moving around
    def action_next_stage(self) -> None:
        self.coopy.set_current(self.coopy.current + 1)

    def action_prev_stage(self) -> None:
        self.coopy.set_current(self.coopy.current - 1)

    def action_cursor_up(self) -> None:
        self.coopy.panel.table.move(-1)

    def action_cursor_down(self) -> None:
        self.coopy.panel.table.move(1)

    def action_sort(self) -> None:
        panel = self.coopy.panel
        panel.table.set_sort(next_sort(panel.table.sort))
        panel.update_subtitle()
        self.coopy.say(f"{panel.stage}: sorted by {panel.table.sort.name} (o: the next order)", kind="info")

    def action_wide(self) -> None:
        """`W`: every list shows whole names (shift+arrows scroll sideways), or again only what differs."""
        app = self.coopy
        wide = not app.panel.table.wide
        for panel in app.panels:
            panel.table.set_wide(wide)
        what = "whole names (shift+← →: scroll; W: back)" if wide else "names: what differs (W: whole names)"
        app.say(what, kind="info")

    def action_next_failed(self) -> None:
        self.coopy.toaster.drop_pending()  # looking at them now; the toast would cover the log of the run
        self._jump_failed(True)

    def action_prev_failed(self) -> None:
        self.coopy.toaster.drop_pending()
        self._jump_failed(False)

    def _failed_in(self, index: int) -> list[str]:
        table = self.coopy.panels[index].table
        return [t for t in table.shown_tasks() if (r := table.run(t)) is not None and r.state == RunState.FAILED]

    def _jump_failed(self, forward: bool) -> None:
        """The next (previous) failed run after the cursor: in this stage's list, then the next stages'."""
        app = self.coopy
        n = len(app.panels)
        table = app.panel.table
        here = self._failed_in(app.current)
        cursor = table.cursor_row
        rows = {t: i for i, t in enumerate(table.shown_tasks())} if here else {}
        after = [t for t in here if (rows[t] > cursor if forward else rows[t] < cursor)]
        if after:
            app.jump_to(app.panel.stage, after[0] if forward else after[-1])
            return
        for step in range(1, n + 1):
            i = (app.current + (step if forward else -step)) % n
            found = self._failed_in(i)
            if found:
                app.jump_to(app.panels[i].stage, found[0] if forward else found[-1])
                return
        hidden = sum(v.counts.get("failed", 0) for v in app.views())
        if hidden:
            app.say(f"{counted(hidden, 'failed run')}, none of them in the filtered lists (esc in / clears it)")
        else:
            app.say("No failed runs.")

    # ================================================================ the filter
    def action_filter(self) -> None:
        self.filter_row_visible(True)
        self.coopy.filter_bar.focus()

    def action_clear_filter(self) -> None:
        """esc on the list: the marks are cleared first; then a kept filter (as esc in the filter bar does)."""
        if self.selection.clear():
            return
        if self.coopy.filter_bar.value:
            self.coopy.filter_bar.value = ""  # calls filter_changed
        self.filter_row_visible(False)

    def filter_row_visible(self, visible: bool) -> None:
        # Its own style and a class on the toasts' rack, not classes on the row and the screen: a class makes
        # Textual restyle the widget and all inside it, which on the screen was the slowest part of `/` and esc.
        self.query_one("#filter-row").display = visible
        for rack in self.query_children(ToastRack):  # toasts rise above the filter row (coopy.tcss)
            rack.set_class(visible, "-above-filter")

    def filter_changed(self, value: str) -> None:
        """Called by the filter bar as the text changes (not through a message: the lists then change in
        the same frame as the typed character, not one frame, about 17 ms, later)."""
        app = self.coopy
        for panel in app.panels:
            panel.table.set_filter(value)
            panel.update_subtitle()
        app.logs.follow_selected()
        self.show_filter_count()

    def show_filter_count(self) -> None:
        app = self.coopy
        table = app.panel.table
        text = ""
        if table.filter_text:  # of every run of the stage, waiting ones (not listed yet) included
            state = app.state
            totals = {p.stage: stage_total(state.stages[p.stage], state.task_count) for p in app.panels}
            shown = sum(p.table.row_count for p in app.panels)
            text = count_text(table.row_count, totals[app.panel.stage], shown, sum(totals.values()))
        if text != self._filter_text:  # its width is fixed (coopy.tcss): no layout for a new count
            self._filter_text = text
            app.filter_count.update(text, layout=False)

    @on(FilterBar.Submitted, "#filter")
    def _filter_submitted(self, event: FilterBar.Submitted) -> None:
        self.filter_closed(event.value)

    def filter_closed(self, value: str) -> None:
        """Enter or esc in the filter bar: back to the list, in the frame that shows the filter's end.

        `Widget.focus()` moves the focus one message later, and the key bar refits to the list's keys
        after the frame that shows it: each a layout of the whole screen of its own (three for an
        esc, the TUI bench's slowest key). Set and refitted here, they make one.
        """
        if not value:
            self.filter_row_visible(False)
        self.set_focus(self.coopy.panel.table)
        self.refresh_bindings()

    # ================================================================ marking runs, and what they wait on
    def action_mark(self) -> None:
        self.selection.toggle()

    def action_mark_all(self) -> None:
        self.selection.mark_all()

    def action_cancel_stage(self) -> None:
        self.selection.cancel_stage()

    def action_waits_on(self) -> None:
        """J: to the run the selected one waits on (a blocked one: the failed run at the start of its chain)."""
        app = self.coopy
        run = app.commands.need_run()
        if run is None:
            return
        if run.state not in (RunState.WAITING, RunState.BLOCKED):
            app.say(f"{run.stage}/{run.task} is {run.state.value}: it waits on no run", "warning")
            return
        found = app.commands.call(app.client.waits_on, run.stage, run.task)
        if found is None:
            app.say(f"{run.stage}/{run.task} waits on no run now")
        elif len(found) == 2 and app.jump_to(*found):
            upstream = app.state.run(*found)
            app.say(
                f"{run.stage}/{run.task} waits on {found[0]}/{found[1]} ({upstream.state.value if upstream else ''})"
            )

    # ================================================================ engine commands
    def action_raise_priority(self) -> None:
        if self.selection.count():
            self.selection.bump(1)
        else:
            self.coopy.commands.bump(1)

    def action_lower_priority(self) -> None:
        if self.selection.count():
            self.selection.bump(-1)
        else:
            self.coopy.commands.bump(-1)

    def action_top(self) -> None:
        self.coopy.commands.top()

    def action_retry(self) -> None:
        if self.selection.count():
            self.selection.retry()
        else:
            self.coopy.commands.retry()

    def action_retry_all(self) -> None:
        self.coopy.commands.retry_all()

    def action_cancel(self) -> None:
        if self.selection.count():
            self.selection.cancel()
        else:
            self.coopy.commands.cancel()

    def action_rerun(self) -> None:
        self.coopy.commands.rerun()

    def action_toggle_pause(self) -> None:
        self.coopy.commands.toggle_pause()

    def action_more_workers(self) -> None:
        self.coopy.commands.add_workers(1)

    def action_fewer_workers(self) -> None:
        self.coopy.commands.add_workers(-1)

    # ================================================================ the selected run's log
    def action_open_log(self) -> None:
        if run := self.coopy.commands.need_run():
            self.coopy.logs.open_log(run)

    def action_pager(self) -> Any:
        if run := self.coopy.commands.need_run():
            return self.coopy.logs.open_outside(run.log, "pager")
        return None

    def action_editor(self) -> Any:
        if run := self.coopy.commands.need_run():
            return self.coopy.logs.open_outside(run.log, "editor")
        return None

    def action_copy_path(self) -> None:
        if run := self.coopy.commands.need_run():
            self.coopy.logs.copy_path(run.log)

    # ================================================================ other screens
    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.coopy.settings.keymap))

    async def action_quit(self) -> None:
        await self.coopy.action_quit()

    def action_notices(self) -> None:
        from coopy_tui.widgets.notices_screen import NoticesScreen

        app = self.coopy
        screen = NoticesScreen(app.notices.newest_first(), app.clock(), app.notices.dropped, app.names.in_text)
        app.notices.mark_read()
        app.toaster.drop_pending()
        app.pipeline_bar.set_unread(0)

        def chosen(key: tuple[str, str] | None) -> None:
            if key is not None:
                app.jump_to(*key)

        app.push_screen(screen, chosen)

    def action_summary(self) -> None:
        """Per stage: counts, mean and longest duration; the runs that went wrong, enter opens one's log."""
        from coopy_tui.widgets.summary_screen import SummaryScreen, summarize

        app = self.coopy
        state = app.state
        history: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for stage, runs in state.runs.items():
            if any(r.attempt > 1 and r.state.passed for r in runs.values()):
                for row in app.logs.history(stage):
                    history.setdefault((stage, str(row.get("task"))), []).append(row)

        def total(stage: str) -> int:
            return state.stages[stage].total or state.task_count

        summaries = summarize(state.stage_names, state.runs, history, total)
        title = f"{state.pipeline}: {'finished' if not state.busy() else 'so far'}"

        def last(stage: str, task: str) -> str:
            panel = next((p for p in app.panels if p.stage == stage), None)
            return panel.table.last_line(task) if panel else ""

        def chosen(key: tuple[str, str] | None) -> None:
            if key is not None and app.jump_to(*key):
                run = app.selected()
                if run is not None:
                    app.logs.open_log(run)

        app.push_screen(SummaryScreen(summaries, title, last, app.names.in_text), chosen)

    def action_graph(self) -> None:
        from coopy_tui.widgets.graph_screen import GraphScreen

        state = self.coopy.state
        self.app.push_screen(GraphScreen(self.coopy.views(), state.task_count, state.busy()))

    def action_results(self) -> None:
        """The results table: metrics per configuration, grouped and sorted by keys (an engine command)."""
        from coopy_tui.widgets.results_screen import ResultsScreen

        app = self.coopy
        app.push_screen(ResultsScreen(app.client.results, f"{app.state.pipeline}: results"))

    def action_pools(self) -> None:
        """The resource pools, and resizing one (an engine command, like a worker cap)."""
        from coopy_tui.widgets.pools_screen import PoolsScreen

        app = self.coopy
        app.push_screen(PoolsScreen(app.state.pools, app.client.set_pool, lambda: app.state.pools))

    # ================================================================ the command palette
    def palette_commands(self) -> Iterable[SystemCommand]:
        """Every key of the table by name (ctrl+p), run as the key would."""
        for key in KEYS:
            if key.palette:
                yield SystemCommand(
                    f"{key.help} ({key.display.split('  ')[0]})", f"Key: {key.display}", self._run(key.action)
                )

    def _run(self, action: str) -> Callable[[], Any]:
        async def run() -> None:
            await self.app.run_action(action, self)

        return run
