"""EngineLink: the viewer's hold on a background engine, which can go away and come back.

When the engine stops (`coopy stop`, another viewer's `q` `s`, a crash) the event stream ends: the
screen shows what the engine last said, frozen (elapsed times stop ticking, the top bar says the engine
is gone) and keys say the engine is gone instead of a socket error. Every second it tries to attach
to a new engine of the same pipeline (never starting one itself); once one answers, its snapshot
replaces the screen's copy and the stage, sort, filter and cursor stay as they were.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from coopy_core.errors import CoopyError
from coopy_core.wire.remote import RemoteEngine
from coopy_tui.client import EngineClient
from coopy_tui.notices import MESSAGE, Notice
from coopy_tui.state import PipelineState

if TYPE_CHECKING:
    from coopy_tui.app import CoopyApp

Reconnect = Callable[[], EngineClient | None]  # a new engine of this pipeline, or None when none answers
RETRY_SECONDS = 1.0
GONE = "The engine is gone: nothing was sent. This screen re-attaches when one starts (coopy-tui or coopy run)."


class EngineLink:
    """Watches the client's connection; the disconnected state and the re-attach."""

    def __init__(self, app: CoopyApp, reconnect: Reconnect | None) -> None:
        self.app = app
        self.reconnect = reconnect
        self.gone = False
        self._trying = False
        self._timer: object | None = None

    def watch(self, client: EngineClient) -> None:
        """Be told (on the app's loop) when this client's engine goes away."""
        if isinstance(client, RemoteEngine):
            client.on_disconnect = self._disconnected_from_thread

    def unwatch(self) -> None:
        if isinstance(self.app.client, RemoteEngine):
            self.app.client.on_disconnect = None

    def _disconnected_from_thread(self) -> None:
        """On the event reader's thread; the app's own way in (its timers need the app's context)."""
        with contextlib.suppress(RuntimeError):  # the app is not running any more
            self.app.call_from_thread(self.engine_gone)

    def engine_gone(self) -> None:
        """The engine stopped answering: freeze the screen, say it once, look for a new one."""
        if self.gone:
            return
        self.gone = True
        app = self.app
        app.pipeline_bar.set_gone(True)
        hint = " and re-attaches when one starts" if self.reconnect else ""
        text = f"The engine stopped: this screen shows what it last knew{hint}."
        app.notices.add(Notice(app.clock(), MESSAGE, "error", text))
        app.toaster.toast("engine", text, "Engine gone", "error")
        if self.reconnect is not None and self._timer is None:
            self._timer = app.set_interval(RETRY_SECONDS, self._try, name="reattach")

    def _try(self) -> None:
        if not self.gone or self._trying or self.reconnect is None:
            return
        self._trying = True
        reconnect = self.reconnect

        def attempt() -> None:  # in a thread: an engine still starting may take a while to answer
            client = None
            with contextlib.suppress(CoopyError, OSError):
                client = reconnect()
            with contextlib.suppress(RuntimeError):
                self.app.call_from_thread(self._attached, client)

        self.app.run_worker(attempt, thread=True, group="reattach", exit_on_error=False)

    def _attached(self, client: EngineClient | None) -> None:
        self._trying = False
        if client is None:
            return
        app = self.app
        try:
            snapshot = client.snapshot()
        except CoopyError:
            _close(client)
            return
        if [s.name for s in snapshot.stages] != app.state.stage_names:
            _close(client)
            self.reconnect = None  # another pipeline now: say it once, stop trying
            app.say("A new engine runs other stages: quit and start coopy-tui again to see them.", "warning")
            return
        old = app.client
        app.client = client
        _close(old)
        app.reload(PipelineState(snapshot))
        self.gone = False
        app.pipeline_bar.set_gone(False)
        self.watch(client)
        pid = getattr(client, "info", {}).get("pid")
        app.say(f"Re-attached to the new engine (pid {pid}).", kind="engine")


def _close(client: EngineClient) -> None:
    if isinstance(client, RemoteEngine):
        client.on_disconnect = None
        client.close()
