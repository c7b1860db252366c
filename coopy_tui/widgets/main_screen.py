"""MainScreen: the app's first screen, which draws the answer to a key at once.

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

from textual import events
from textual.screen import Screen

KEY_ANSWER_SECONDS = 0.25  # a frame this soon after a key is its answer; later ones wait for the grid


class MainScreen(Screen[None]):
    """The screen with the stage panels; `key_pressed()` asks for the next frame to be drawn at once."""

    def __init__(self) -> None:
        super().__init__(id="_default")
        self._key_at: float | None = None

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
