"""What the UI tells a person: a bounded history (the `!` screen) and toasts that never pile up.

Every failure, message, hook note and refused command is kept in the history with its time and
run. Toasts are only the latest news: at most one toast of each kind is on screen (a new one
replaces the old), failures are coalesced into one toast that is updated at most once a second
(its title counts the failures since it appeared), and no failure toast is on screen while a dialog
is open (the top bar's `✗ N failed` and `! N new` count them meanwhile). The toast carries no totals
of its own: the top bar's are the live ones, so the two can never disagree.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from textual.notifications import Notification, Notify, SeverityLevel
from textual.widgets._toast import Toast

from coopy_core.model import Event, EventKind, RunState, RunView
from coopy_tui.format import cut_words

HISTORY = 5000  # notices kept
FAILURE_TOAST_INTERVAL = 1.0  # seconds between two updates of the failure toast
TOAST_INTERVAL = 1.0  # ... and of any other toast of news (a flood of messages costs a layout a second)
TOAST_TEXT = 56  # a failure's text in its toast: a quarter of an 80x24 screen at most (the whole one is in `!`)
IMMEDIATE = ("command", "filter", "engine")  # answers to a key: shown at once
TOAST_SECONDS = {
    "failures": 8.0,
    "finished": 20.0,
    "hook": 6.0,
    "command": 5.0,
    "info": 5.0,
    "filter": 6.0,
    "store": 15.0,
    "machine": 8.0,
    "engine": 15.0,
}
SOURCES = {"store": "State store", "machine": "Cannot start runs now"}  # engine news not about one run's end

FAILED = "failed"  # a run failed for good (after its retries)
RETRY = "retry"  # an attempt failed; the run will be retried
MESSAGE = "message"
HOOK = "hook"
FINISHED = "finished"
COMMAND = "command"  # a refused command, or what one did


@dataclass(frozen=True, slots=True)
class Notice:
    time: float
    kind: str
    level: str  # info | warning | error
    text: str
    stage: str | None = None
    task: str | None = None
    repeats: int = 1  # the same notice said again in a row is one line: `(×3)`

    def same(self, other: Notice) -> bool:
        return (self.kind, self.level, self.text, self.stage, self.task) == (
            other.kind,
            other.level,
            other.text,
            other.stage,
            other.task,
        )

    @property
    def is_failure(self) -> bool:
        return self.kind in (FAILED, RETRY)


def from_event(event: Event) -> Notice | None:
    """The notice an engine event makes, if any."""
    if event.kind == EventKind.FINISHED:
        return Notice(event.time, FINISHED, "info", event.message)
    if event.kind != EventKind.MESSAGE or not event.message:
        return None
    run = event.run
    stage, task = (run.stage, run.task) if run is not None else (None, None)
    if event.data.get("source") == "hook":
        return Notice(event.time, HOOK, event.level, event.message, stage, task)
    if event.data.get("source") in SOURCES:  # a full state disk, starts the machine refuses: not failures
        return Notice(event.time, MESSAGE, event.level, event.message, stage, task)
    if run is not None and event.level == "error":
        return Notice(event.time, FAILED, "error", event.message, stage, task)
    if run is not None and event.level == "warning":
        return Notice(event.time, RETRY, "warning", event.message, stage, task)
    return Notice(event.time, MESSAGE, event.level, event.message, stage, task)


def failure_toast(
    pending: list[Notice], burst: int, shorten: Callable[[str], str] = str
) -> tuple[str, str, SeverityLevel]:
    """The one failure toast: how many attempts failed since it appeared, and the latest. The totals are
    the top bar's (`✗ N failed`), never repeated here to go stale."""
    title = "1 attempt failed" if burst == 1 else f"{burst} attempts failed"
    for_good = [p for p in pending if p.kind == FAILED]
    latest = cut_words(shorten((for_good or pending)[-1].text), TOAST_TEXT)  # run names without what all share
    body = f"{latest} · f: next failed, !: list"
    return title, body, "error" if for_good else "warning"


class NoticeLog:
    """The history, newest last; `unread` counts failures since the `!` screen was last opened."""

    def __init__(self, limit: int = HISTORY) -> None:
        self.items: deque[Notice] = deque(maxlen=limit)
        self.unread = 0
        self.dropped = 0  # older notices that fell out

    def add(self, notice: Notice, read: bool = False) -> None:
        """Keep `notice`; the same one as the newest is merged into it (its count and time)."""
        if self.items and self.items[-1].same(notice):
            last = self.items.pop()
            self.items.append(replace(notice, repeats=last.repeats + 1))
            if notice.is_failure and not read:
                self.unread += 1
            return
        if len(self.items) == self.items.maxlen:
            self.dropped += 1
        self.items.append(notice)
        if notice.is_failure and not read:
            self.unread += 1

    def seed(self, runs: Iterable[RunView]) -> None:
        """The runs that had failed before the screen attached (from its snapshot), oldest first, as read."""
        failed = sorted((r for r in runs if r.state == RunState.FAILED), key=lambda r: r.ended_at or 0.0)
        for r in failed[-self.items.maxlen if self.items.maxlen else 0 :]:
            text = f"{r.stage}/{r.task} attempt {r.attempt} failed: {r.reason}"
            self.add(Notice(r.ended_at or 0.0, FAILED, "error", text, r.stage, r.task), read=True)

    def mark_read(self) -> None:
        self.unread = 0

    def newest_first(self) -> list[Notice]:
        return list(reversed(self.items))


class Toaster:
    """Raises toasts on `app`, one per kind at a time; failures coalesced and throttled.

    `can_show_failures()` says whether a failure toast may appear now (the main screen is showing);
    `failure_text()` builds the coalesced toast's text from the current counts.
    """

    def __init__(
        self,
        app: Any,
        can_show_failures: Callable[[], bool],
        failure_text: Callable[[list[Notice], int], tuple[str, str, SeverityLevel]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.can_show_failures = can_show_failures
        self.failure_text = failure_text
        self.clock = clock
        self.live: dict[str, Notification] = {}
        self._pending: list[Notice] = []  # failures not yet in a toast
        self._last_failure_toast = -1e9
        self._burst = 0  # failures counted by the failure toast on screen
        self._held = False  # the failure toast is off screen only while a dialog is open: it goes on counting
        self._shown_at: dict[str, float] = {}  # kind -> when its toast was last raised
        self._waiting: dict[str, tuple[str, str, SeverityLevel]] = {}  # kind -> the latest news held back

    def toast(self, kind: str, message: str, title: str = "", severity: SeverityLevel = "information") -> None:
        """Show `message` as the one toast of `kind` (replacing the one on screen, if any); news of a
        kind shown less than TOAST_INTERVAL ago waits for `flush` (only the latest is kept)."""
        now = self.clock()
        if kind not in IMMEDIATE and now - self._shown_at.get(kind, -1e9) < TOAST_INTERVAL:
            self._waiting[kind] = (message, title, severity)
            return
        self._waiting.pop(kind, None)
        self._shown_at[kind] = now
        if self._update_in_place(kind, message, title, severity):
            return
        old = self.live.pop(kind, None)
        if old is not None:
            old.timeout = 0  # expired: dropped even if its Notify message is still on its way
            self.app._unnotify(old, refresh=False)  # the new one's refresh shows both changes at once
        notification = Notification(message, title, severity, TOAST_SECONDS.get(kind, 5.0), markup=False)
        self.live[kind] = notification
        self.app.post_message(Notify(notification))

    def failures(self, notices: Iterable[Notice]) -> None:
        self._pending.extend(notices)
        self.flush()

    def flush(self) -> None:
        """Show the news held back, if it is time; the pending failures as one toast if the main screen
        is up."""
        for kind, (message, title, severity) in list(self._waiting.items()):
            if self.clock() - self._shown_at.get(kind, -1e9) >= TOAST_INTERVAL:
                self.toast(kind, message, title, severity)
        if not self._pending or not self.can_show_failures():
            return
        now = self.clock()
        if now - self._last_failure_toast < FAILURE_TOAST_INTERVAL:
            return
        self._last_failure_toast = now
        pending, self._pending = self._pending, []
        if self._up("failures") or self._held:
            self._burst += len(pending)
        else:
            self._burst = len(pending)
        self._held = False
        title, message, severity = self.failure_text(pending, self._burst)
        self._shown_at.pop("failures", None)  # throttled above already
        self.toast("failures", message, title, severity)

    def drop_pending(self) -> None:
        """The person looked at the failures: those waiting for a toast need none, and the next toast
        counts from zero."""
        self._pending = []
        self._held = False
        self._remove("failures")

    def hold_failures(self) -> None:
        """A dialog opens over the list the failure toast would cover: take it away until the main
        screen is back, when it comes back with everything that failed meanwhile."""
        if self._remove("failures"):
            self._held = True

    def clear_for_dialog(self) -> None:
        """A dialog opens: no news toast may cover it (they are all in the history). Failures come back
        after; a refused command's answer stays (it may be about the dialog itself)."""
        self.hold_failures()
        for kind in [k for k in self.live if k not in ("failures", "command")]:
            self._remove(kind)
            self._waiting.pop(kind, None)

    def _update_in_place(self, kind: str, message: str, title: str, severity: SeverityLevel) -> bool:
        """The toast of `kind` is on screen: change its text where it is (no second toast appears, not
        even for a frame, and nothing is laid out again but the toast). It keeps its time left."""
        live = self.live.get(kind)
        if live is None or live.has_expired:
            return False
        try:
            toast = self.app.screen.query_one(f"#--textual-toast-{live.identity}").query_one(Toast)
        except Exception:  # noqa: BLE001 - not mounted (yet, or any more): replace it instead
            return False
        live.message, live.title = message, title
        if severity != live.severity:
            toast.remove_class(f"-{live.severity}")
            live.severity = severity
            toast.add_class(f"-{severity}")
        toast.refresh(layout=True)
        return True

    def _up(self, kind: str) -> bool:
        """A toast of `kind` is showing (or about to: its Notify message may not be handled yet)."""
        n = self.live.get(kind)
        return n is not None and not n.has_expired

    def _remove(self, kind: str) -> bool:
        up = self._up(kind)
        old = self.live.pop(kind, None)
        if old is None:
            return False
        old.timeout = 0
        self.app._unnotify(old)
        return up

    def on_screen(self, kind: str) -> int:
        """How many toasts of `kind` are on screen now (0 or 1; tests check this)."""
        n = self.live.get(kind)
        return 1 if n is not None and n in self.app._notifications else 0
