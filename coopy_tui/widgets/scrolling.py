"""Setting a line-API widget's scrollable size without re-laying-out the whole screen.

`Widget.virtual_size` is a layout reactive: every change re-flows and re-renders every widget that
moved. The log pane grows by a line whenever its run prints one, and a task list changes size with
every filter keystroke; neither moves anything else on screen unless a scrollbar appears or goes.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.widget import Widget


def set_virtual_size(widget: Widget, size: Size) -> None:
    """Set `widget.virtual_size`; lay out only if that shows or hides a scrollbar.

    `_scroll_update` re-decides the scrollbars: their reactives lay out when they change, and it
    updates the scrollbars' ranges and clamps the scroll offset otherwise.
    """
    if size == widget.virtual_size:
        return
    if not widget.is_mounted or not widget.container_size:
        widget.virtual_size = size  # not laid out yet: the first layout does it all
        return
    widget.set_reactive(Widget.virtual_size, size)
    widget._scroll_update(size)
    widget.refresh()
