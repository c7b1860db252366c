"""QuitScreen: `q` asks whether running commands keep running (the default) or are stopped."""

from __future__ import annotations

import enum

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class QuitChoice(enum.StrEnum):
    LEAVE = "leave"  # running commands go on; the next start adopts them
    STOP = "stop"  # stop them; their runs go back to the queue


class QuitScreen(ModalScreen[QuitChoice | None]):
    """l / enter / q: leave them running; s: stop them; esc: stay."""

    BINDINGS = [
        Binding("l,q", "choose('leave')", "leave running"),
        Binding("s", "choose('stop')", "stop them"),
        Binding("escape", "choose('')", "stay"),
        Binding("left,h,right", "app.focus_next", show=False),
    ]

    def __init__(self, running: int) -> None:
        super().__init__()
        self.running = running

    def compose(self) -> ComposeResult:
        n = self.running
        what = "1 command is" if n == 1 else f"{n} commands are"
        with Vertical(id="dialog", classes="dialog"):
            yield Static(
                f"Quit CooPy? {what} still running.\n"
                "Leave them running and the next start picks them up, or stop them "
                "(their runs go back to the queue).",
                id="question",
                markup=False,
            )
            with Horizontal(classes="buttons"):
                yield Button("Leave running (l)", id="leave", variant="primary", compact=True)
                yield Button("Stop them (s)", id="stop", variant="error", compact=True)
                yield Button("Stay (esc)", id="stay", compact=True)

    def on_mount(self) -> None:
        self.query_one("#leave", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_choose("" if event.button.id == "stay" else str(event.button.id))

    def action_choose(self, choice: str) -> None:
        self.dismiss(QuitChoice(choice) if choice else None)
