"""Footer: Textual's key footer, rebuilt only when the keys it shows change.

Textual's Footer re-composes (unmounts and mounts a widget per key, restyling each) on every
focus change, although moving from one stage's task list to the next leaves the keys exactly as
they were. Under load that rebuild was most of what a `tab` cost; here it is skipped when the
footer would show the same thing.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    """The same footer; `bindings_changed` ignores changes that leave the shown keys as they were."""

    _shown_keys: tuple[Any, ...] | None = None

    @staticmethod
    def _keys(screen: Screen[Any]) -> tuple[Any, ...]:
        return tuple(
            (key, b.action, b.description, b.key_display, b.show, b.group, enabled, tooltip)
            for key, (_node, b, enabled, tooltip) in screen.active_bindings.items()
        )

    def bindings_changed(self, screen: Screen[Any]) -> None:
        keys = self._keys(screen)
        if keys == self._shown_keys:
            self._bindings_ready = True
            return
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._shown_keys = keys
        super().bindings_changed(screen)
