"""LogScreen (`enter`): the selected run's log full screen, still following the file live."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from coopy_tui.widgets.log_view import LogView


class LogScreen(ModalScreen[None]):
    """Scroll with the arrows, j/k, pgup/pgdn, g/G; esc, q or enter goes back.

    The app feeds it the same lines as the log pane (one reader for both).
    """

    BINDINGS = [
        Binding("escape,q,enter", "close", "back"),
        Binding("j", "scroll('down')", show=False),
        Binding("k", "scroll('up')", show=False),
        Binding("g", "scroll('home')", "top", key_display="g"),
        Binding("G", "scroll('end')", "end (follow)", key_display="G"),
    ]

    def __init__(self, title: str, path: str, lines: list[str], partial: str, max_lines: int) -> None:
        super().__init__()
        self.title_text = title
        self.path = path
        self.initial = lines
        self.initial_partial = partial
        self.log_view = LogView(max_lines=max_lines, placeholder="(no output yet)", id="log-full")

    def compose(self) -> ComposeResult:
        yield Static(self.title_text, id="log-title", markup=False)
        yield Static(self.path or "(no log file yet)", id="log-path", markup=False)
        yield self.log_view
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.log_view.replace(self.initial, self.initial_partial)
        self.log_view.focus()

    def set_title(self, title: str, path: str) -> None:
        if title != self.title_text:
            self.title_text = title
            self.query_one("#log-title", Static).update(title)
        if path != self.path:
            self.path = path
            self.query_one("#log-path", Static).update(path or "(no log file yet)")

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll(self, where: str) -> None:
        view = self.log_view
        if where == "down":
            view.scroll_down(animate=False)
        elif where == "up":
            view.scroll_up(animate=False)
        elif where == "home":
            view.scroll_home(animate=False)
        else:
            view.scroll_end(animate=False)
