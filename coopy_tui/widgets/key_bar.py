"""KeyBar: the footer. The screen's keys in one or two lines, most useful first, `? keys` always first.

Textual's Footer gives every key a widget and cuts the line where the screen ends (at 80 columns
the summary, pools and stage keys were simply gone), and re-composes on every focus change. This
one is a single widget that renders text: keys as bound (a keymap shows through), grouped keys
merged (`][ workers`), wrapped onto a second line when the bar may be two lines tall, and whatever
does not fit is one `?` away: the bar then ends with `… ? more` (the help screen lists the view's keys).
A click on a key runs it. While a dialog is up over its screen, it lists the dialog's keys: the screen's
own do nothing then (and the dialog, over the whole screen, takes the clicks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input

Item = tuple[str, str, str]  # key shown, label, action to run on a click
MORE_WIDTH = len("… ? more")  # the mark that ends a bar some keys did not fit in


class KeyBar(Widget):
    DEFAULT_CSS = """
    KeyBar {
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
    }
    KeyBar:ansi {
        background: ansi_default;
        color: ansi_default;
    }
    """

    def __init__(
        self,
        max_lines: int = 1,
        palette: bool = True,
        hidden: Callable[[], set[str]] | None = None,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines
        self.palette = palette
        self.hidden = hidden or set  # actions not worth the room now (pools when there are none)
        self._items: list[Item] = []
        self._lines: list[Text] = []
        self._spans: list[tuple[int, int, int, str]] = []  # (line, start, end, action) of each key as drawn
        self._over: Screen[Any] | None = None  # the dialog whose keys are shown (see show_keys_of)
        self._held = 0  # lines kept while a dialog's keys show: the screen under it does not move

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.app.screen_change_signal.subscribe(self, self._screen_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)
        self.app.screen_change_signal.unsubscribe(self)
        self.show_keys_of(None)

    def _screen_changed(self, top: Screen[Any]) -> None:
        over = top.is_modal and top is not self.screen and self.screen in self.app.screen_stack
        self.show_keys_of(top if over else None)

    def show_keys_of(self, dialog: Screen[Any] | None) -> None:
        """A dialog over this bar's screen (None: it is gone): its keys, in place of the screen's."""
        if dialog is self._over:
            return
        if self._over is not None:
            self._over.bindings_updated_signal.unsubscribe(self)
        self._over = dialog
        self._held = len(self._lines) if dialog is not None else 0
        if dialog is not None:
            dialog.bindings_updated_signal.subscribe(self, self._bindings_changed)
        if self.is_attached:
            self._bindings_changed(dialog or self.screen)

    def set_max_lines(self, lines: int) -> None:
        if lines != self.max_lines:
            self.max_lines = lines
            self._fit()

    def _bindings_changed(self, screen: Screen[Any]) -> None:
        if screen is not (self._over or self.screen):
            return  # the screen under a dialog
        items = self.items(screen)
        if items != self._items:
            self._items = items
            self._fit()

    def items(self, screen: Screen[Any]) -> list[Item]:
        """The shown keys in binding order, one item per action (or per group of actions). While a text
        field has the focus, the keys that work there (letters are typed, not commands)."""
        app = self.app
        if isinstance(screen.focused, Input):
            return list(getattr(screen.focused, "hints", None) or [("⏎", "go", ""), ("esc", "close", "")])
        out: list[Item] = []
        seen: dict[str, int] = {}  # action or group -> index in out
        hidden = self.hidden() if screen is self.screen else getattr(screen, "hidden_actions", set)()
        for _node, binding, enabled, _tooltip in self._active(screen):
            if not binding.show or not enabled or binding.action in hidden:
                continue
            shown = binding.key_display or app.get_key_display(binding)
            group = binding.group
            if group is not None:
                at = seen.get(f"group:{group.description}")
                if at is None:
                    seen[f"group:{group.description}"] = len(out)
                    out.append((shown, group.description, binding.action))
                elif shown not in out[at][0]:
                    key, label, action = out[at]
                    out[at] = (key + shown, label, action)
                continue
            if binding.action in seen:
                continue
            seen[binding.action] = len(out)
            out.append((shown, binding.description, binding.action))
        if screen.is_modal:  # `?` lists a dialog's keys too (CoopyApp.action_view_help), but for the help's own
            if not any("question_mark" in binding.key for _n, binding, _e, _t in self._active(screen)):
                out.insert(0, ("?", "keys", "app.view_help"))
            return out
        if self.palette and app.ENABLE_COMMAND_PALETTE:  # after the stage keys: every command by name
            at = next((i + 1 for i, item in enumerate(out) if item[1] == "stage"), len(out))
            out.insert(at, ("^p", "palette", "app.command_palette"))
        return out

    @staticmethod
    def _active(screen: Screen[Any]) -> list[tuple[Any, Binding, bool, str]]:
        """Active bindings, the app's and the main screen's (the key table's) in their declared order first
        (Textual lists the focused widget's first)."""
        active = list(screen.active_bindings.values())

        def first(node: Any) -> bool:
            return node is screen.app or (node is screen and not screen.is_modal)

        return sorted(active, key=lambda item: 0 if first(item[0]) else 1) if active else []

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        width = self.size.width or 80
        lines: list[Text] = [Text(no_wrap=True, overflow="crop")]
        spans = []
        starts: list[int] = []  # where each piece of the last line starts
        cut = False
        for key, label, action in self._items:
            piece = Text.assemble((key, "bold reverse"), f" {label} " if label else " ")
            if lines[-1].cell_len + piece.cell_len > width:
                if len(lines) >= self.max_lines:
                    cut = True
                    break
                lines.append(Text(no_wrap=True, overflow="crop"))
                starts = []
            start = lines[-1].cell_len
            starts.append(start)
            lines[-1].append_text(piece)
            if action:
                spans.append((len(lines) - 1, start, lines[-1].cell_len, action))
        if cut:
            self._more(lines, spans, starts, width)
        lines += [Text() for _ in range(min(self._held, self.max_lines) - len(lines))]
        self._lines = lines
        self._spans = spans
        height = len(lines)
        if self.styles.height is None or self.styles.height.value != height:
            self.styles.height = height
        self.refresh()

    def _more(self, lines: list[Text], spans: list[tuple[int, int, int, str]], starts: list[int], width: int) -> None:
        """Keys were left out: the last line ends with `… ? more` (the keys that did not fit make room for it)."""
        last = lines[-1]
        row = len(lines) - 1
        while starts and last.cell_len + MORE_WIDTH > width:
            start = starts.pop()
            last.right_crop(last.cell_len - start)
            while spans and spans[-1][0] == row and spans[-1][1] >= start:
                spans.pop()
        start = last.cell_len
        last.append_text(Text.assemble("… ", ("?", "bold reverse"), " more"))
        help_action = "help" if any(action == "help" for _k, _l, action in self._items) else "app.view_help"
        spans.append((row, start, last.cell_len, help_action))

    async def on_click(self, event: events.Click) -> None:
        """A click on a key runs it, as the key would (on the node that binds it)."""
        for line, start, end, action in self._spans:
            if line == event.y and start <= event.x < end:
                event.stop()
                if "." in action.split("(")[0]:
                    await self.app.run_action(action)
                    return
                node = next((n for n, b, _e, _t in self._active(self.screen) if b.action == action), self.app)
                await self.app.run_action(action, node)
                return

    def shown(self) -> str:
        """The bar's text (tests read it)."""
        return "\n".join(line.plain for line in self._lines)

    def render(self) -> Text:
        return Text("\n").join(self._lines) if self._lines else Text()
