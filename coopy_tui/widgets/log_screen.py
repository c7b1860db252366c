"""LogScreen (`enter`): a run's log full screen, live, with its earlier attempts, search and a pager.

The header says which attempt it is and how it went: its start, end and duration, exit code and
reason. `[` / `]` step through the run's attempts (each has its own log:
`<log_dir>/<stage>/<run>.<attempt>.log`); `/` searches the lines shown (n / N: next / previous);
`v` / `e` open the file in $PAGER / $EDITOR and the screen comes back when they exit; `y` copies the
path. The app feeds it the lines of the file it follows (one reader for the pane and this view).
The status line says whether the view follows the log or where the reader stopped (and how many lines
came in below since), and whether long lines wrap (`w`); space / b page as in less.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from coopy_core.model import RunState, RunView
from coopy_tui.format import clock_time, counted, format_duration, reason_now
from coopy_tui.keys import LOG_KEYS, log_bindings
from coopy_tui.widgets.key_bar import KeyBar
from coopy_tui.widgets.log_view import LogView

_ATTEMPT = re.compile(r"\.(\d+)\.log$")


@dataclass(frozen=True)
class AttemptInfo:
    number: int
    state: str  # "running", "failed", ...; "" unknown (before this screen's history)
    exit_code: int | None
    reason: str
    started_at: float | None
    ended_at: float | None
    log: str


def attempt_log(path: str, number: int) -> str:
    """The log of attempt `number` of the run whose log (of any attempt) is `path`."""
    return _ATTEMPT.sub(f".{number}.log", path) if _ATTEMPT.search(path) else path


def attempts_of(run: RunView, history: list[dict[str, Any]]) -> list[AttemptInfo]:
    """Attempts 1..run.attempt: the ended ones from the engine's history, the current one from the run."""
    rows = {int(h["attempt"]): h for h in history if isinstance(h.get("attempt"), int)}
    out = []
    for n in range(1, run.attempt + 1):
        if n == run.attempt and (run.state == RunState.RUNNING or n not in rows):
            out.append(
                AttemptInfo(n, run.state.value, run.exit_code, run.reason, run.started_at, run.ended_at, run.log)
            )
        elif n in rows:
            h = rows[n]
            out.append(
                AttemptInfo(
                    n,
                    str(h.get("state") or ""),
                    h.get("exit_code"),
                    str(h.get("reason") or ""),
                    h.get("started_at"),
                    h.get("ended_at"),
                    str(h.get("log") or attempt_log(run.log, n)),
                )
            )
        else:
            out.append(AttemptInfo(n, "", None, "", None, None, attempt_log(run.log, n)))
    return out


def timing_text(started: float | None, ended: float | None, now: float, running: bool) -> str:
    """`14:03:01 → 14:03:09 (8s)`, or `since 14:03:01 (5s)` while it runs."""
    if started is None:
        return ""
    if running or ended is None:
        return f"since {clock_time(started, now)} ({format_duration(max(0.0, now - started))})"
    return f"{clock_time(started, now)} → {clock_time(ended, now)} ({format_duration(max(0.0, ended - started))})"


def details_text(info: AttemptInfo, now: float) -> str:
    """`failed · exit 1 · 14:03:01 → 14:03:09 (8s) · CUDA out of memory`."""
    parts = [info.state or "state not recorded"]
    if info.exit_code is not None:
        parts.append(f"exit {info.exit_code}")
    if timing := timing_text(info.started_at, info.ended_at, now, info.state == RunState.RUNNING.value):
        parts.append(timing)
    reason = info.reason
    if info.exit_code is not None and reason.startswith(f"exit code {info.exit_code}"):
        reason = reason.removeprefix(f"exit code {info.exit_code}").lstrip(";: ")  # said already
    if reason:
        parts.append(reason)
    return " · ".join(parts)


class LogScreen(ModalScreen[None]):
    """Scroll with the arrows, j/k, pgup/pgdn, g/G; esc or q goes back."""

    BINDINGS = log_bindings()

    def __init__(
        self,
        run: RunView,
        attempts: list[AttemptInfo],
        lines: Callable[[], tuple[list[str], str, bool]],
        max_lines: int,
        *,
        now: Callable[[], float],
        follow: Callable[[str], None] | None = None,
        external: Callable[[str, str], Any] | None = None,
        copy: Callable[[str], None] | None = None,
        shorten: Callable[[str], str] = str,
    ) -> None:
        super().__init__()
        self.run = run
        self.shorten = shorten  # the name without the params every run shares (the path line has them all)
        self.attempts = attempts or [
            AttemptInfo(run.attempt, run.state.value, run.exit_code, run.reason, run.started_at, run.ended_at, run.log)
        ]
        self.shown = len(self.attempts) - 1  # index of the attempt shown
        self.now = now
        self._follow = follow
        self._external = external
        self._copy = copy
        self.initial = lines  # the lines read so far, asked for when the screen is up (the app feeds the rest)
        self.extra = ""  # the app's news of the current attempt (Slurm job, resources)
        self.paused = False  # the run's stage is paused (a queued retry waits for it to resume)
        self._shown_details = ""
        self.message = ""  # the last answer to a key (a search's match, an attempt's number), after the place
        self.log_view = LogView(max_lines=max_lines, placeholder="(no output yet)", id="log-full")
        self.search_input = Input(
            placeholder="search the log: enter finds, n / N next / previous, esc stops", id="log-search"
        )
        self.search_input.cursor_blink = False
        self.search_input.hints = (("⏎", "find", ""), ("esc", "stop", ""), ("", "case does not matter", ""))  # type: ignore[attr-defined]

    @property
    def info(self) -> AttemptInfo:
        return self.attempts[self.shown]

    @property
    def path(self) -> str:
        return self.info.log

    def title_text(self) -> str:
        n = len(self.attempts)
        of = f" of {n}" if n > 1 else ""
        return f"{self.shorten(f'{self.run.stage}/{self.run.task}')} · attempt {self.info.number}{of}"

    def details(self) -> str:
        now = self.now()
        info = self.info
        latest = self.shown == len(self.attempts) - 1
        if latest and (waiting := reason_now(self.run, now, self.paused)) != self.run.reason:
            info = dataclasses.replace(info, reason=waiting)  # a retry's wait as it is now
        text = self.shorten(details_text(info, now))  # a reason's `waits on train/...` as the list says it
        if latest and self.extra:
            text += f" · {self.extra}"
        if len(self.attempts) > 1:
            text += " · [ ] other attempts"
        return text

    def compose(self) -> ComposeResult:
        yield Static(self.title_text(), id="log-title", markup=False)
        yield Static(self.details(), id="log-details", markup=False)
        yield Static(self.path or "(no log file yet)", id="log-path", markup=False)
        yield self.log_view
        yield Static("", id="log-status", markup=False)
        yield self.search_input
        yield KeyBar(max_lines=1, palette=False, id="log-keys")

    def on_mount(self) -> None:
        lines, partial, cut = self.initial()
        self.log_view.replace(lines, partial, cut)
        self.log_view.focus()
        self._show_status()

    # ------------------------------------------------------------------ the app's news
    def update_run(self, run: RunView, attempts: list[AttemptInfo] | None = None, extra: str = "") -> None:
        """The run changed (a new attempt started, the current one ended): keep the view on the same
        attempt unless it was showing the latest, which it keeps following."""
        latest = self.shown == len(self.attempts) - 1
        self.run = run
        self.extra = extra
        if attempts is not None:
            self.attempts = attempts or self.attempts
        if latest:
            self.shown = len(self.attempts) - 1
        self.shown = min(self.shown, len(self.attempts) - 1)
        self._set_header()

    def tick(self) -> None:
        """The clock moved: a running attempt's time, a retry's countdown."""
        if self.details() != self._shown_details:
            self._set_header()

    def _set_header(self) -> None:
        if not self.is_mounted:
            return
        self._shown_details = self.details()
        texts = {"log-title": self.title_text(), "log-details": self._shown_details}
        texts["log-path"] = self.path or "(no log file yet)"
        for part in self.query(Static).results(Static):  # none while the app closes: its widgets go first
            if part.id in texts:
                part.update(texts[part.id])

    def set_title(self, title: str, path: str) -> None:
        """Kept for the app's older call: the header is rebuilt from the run."""
        self._set_header()

    def say(self, text: str) -> None:
        self.message = text
        self._show_status()

    def status_text(self) -> Text:
        """`▼ following` or `⏸ paused at line 120 of 400 · 15 new lines below (G follows)`, `· wrapped`,
        then the last key's answer."""
        view = self.log_view
        text = Text()
        if view.following:
            text.append("▼ following", style="bold")
        else:
            text.append(f"⏸ {view.position_text()}", style="bold reverse")
            text.append(" (G follows)")
        text.append(" · lines wrapped" if view.wrap else " · long lines cut")
        if self.message:
            text.append(f"   {self.message}", style="bold")
        return text

    def _show_status(self) -> None:
        for status in self.query("#log-status").results(Static):  # none before compose
            status.update(self.status_text())

    def on_log_view_moved(self, event: LogView.Moved) -> None:
        event.stop()
        self._show_status()

    # ------------------------------------------------------------------ actions
    def action_close(self) -> None:
        if self.search_input.has_focus:
            self._stop_search()
            return
        self.dismiss(None)

    def _show_attempt(self, index: int) -> None:
        if not 0 <= index < len(self.attempts):
            self.say("no earlier attempt" if index < 0 else "this is the latest attempt")
            return
        self.shown = index
        self._set_header()
        self.log_view.clear()
        self.log_view.set_placeholder(
            "(no output)" if self.info.state and self.info.state != "running" else "(no output yet)"
        )
        if self._follow is not None:
            self._follow(self.path)
        self.say(f"attempt {self.info.number} of {len(self.attempts)}")

    def action_prev_attempt(self) -> None:
        self._show_attempt(self.shown - 1)

    def action_next_attempt(self) -> None:
        self._show_attempt(self.shown + 1)

    def action_search(self) -> None:
        self.search_input.add_class("-visible")
        self.search_input.focus()

    def _stop_search(self) -> None:
        self.search_input.remove_class("-visible")
        self.log_view.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        term = event.value
        count = self.log_view.set_search(term)
        self._stop_search()
        if not term:
            self.say("")
            return
        if not count:
            self.say(f"no match for {term!r} (in the {counted(self.log_view.line_count, 'line')} shown)")
            return
        self._found(self.log_view.find(True))

    def _found(self, found: tuple[int, int] | None) -> None:
        term = self.log_view.search_term
        if found is None:
            self.say(f"no match for {term!r}" if term else "/ searches first")
        else:
            self.say(f"{term!r}: match {found[0]} of {found[1]}")

    def action_next_match(self) -> None:
        self._found(self.log_view.find(True) if self.log_view.search_term else None)

    def action_prev_match(self) -> None:
        self._found(self.log_view.find(False) if self.log_view.search_term else None)

    def action_pager(self) -> Any:
        if self._external is not None:
            return self._external(self.path, "pager")
        return None

    def action_editor(self) -> Any:
        if self._external is not None:
            return self._external(self.path, "editor")
        return None

    def action_copy_path(self) -> None:
        if self._copy is not None:
            self._copy(self.path)

    def action_top(self) -> None:
        self.log_view.action_scroll_home()

    def action_end(self) -> None:
        self.log_view.follow_end()

    def action_scroll_down(self) -> None:
        self.log_view.action_scroll_down()

    def action_scroll_up(self) -> None:
        self.log_view.action_scroll_up()

    def action_page_down(self) -> None:
        self.log_view.page(1)

    def action_page_up(self) -> None:
        self.log_view.page(-1)

    def action_wrap(self) -> None:
        wrap = not self.log_view.wrap
        self.log_view.set_wrap(wrap)
        self.say("")  # the status line says it (`· lines wrapped`); a message too said it twice, and stayed


__all__ = ["LOG_KEYS", "AttemptInfo", "LogScreen", "attempt_log", "attempts_of", "details_text", "timing_text"]
