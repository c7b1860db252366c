"""QuitScreen: `q` asks whether running commands keep running (the default) or are stopped.

Attached to a background engine, "leave" means detach: the engine goes on dispatching without a screen.
"""

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
    """l / d / q: leave them running (detach, from a background engine); s: stop them; esc: stay."""

    BINDINGS = [
        Binding("d", "choose('leave')", "detach"),
        Binding("l", "leave", "leave running"),
        Binding("q", "leave", show=False),
        Binding("s", "choose('stop')", "stop"),
        Binding("escape", "choose('')", "stay"),
        Binding("left,h,right", "app.focus_next", show=False),
    ]

    def __init__(self, running: int, background: bool = False) -> None:
        super().__init__()
        self.running = running
        self.background = background

    def compose(self) -> ComposeResult:
        n = self.running
        what = "1 command is" if n == 1 else f"{n} commands are"
        with Vertical(id="dialog", classes="dialog"):
            if self.background:
                yield Static(
                    f"Quit CooPy? {what} running.\n"
                    "Detach and the pipeline goes on in the background (coopy-tui re-attaches), "
                    "or stop the pipeline: the engine and its running commands (their runs go back to the queue).",
                    id="question",
                    markup=False,
                )
            else:
                yield Static(
                    f"Quit CooPy? {what} still running.\n"
                    "Leave them running and the next start picks them up, or stop them "
                    "(their runs go back to the queue).",
                    id="question",
                    markup=False,
                )
            with Horizontal(classes="buttons"):
                leave = "Detach (d)" if self.background else "Leave running (l)"
                stop = "Stop the pipeline (s)" if self.background else "Stop them (s)"
                yield Button(leave, id="leave", variant="primary", compact=True)
                yield Button(stop, id="stop", variant="error", compact=True)
                yield Button("Stay (esc)", id="stay", compact=True)

    def on_mount(self) -> None:
        self.query_one("#leave", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_choose("" if event.button.id == "stay" else str(event.button.id))

    def hidden_actions(self) -> set[str]:
        """What the footer leaves out: one word for leaving, the one the dialog's button says (KeyBar)."""
        return {"leave"} if self.background else {"choose('leave')"}

    def action_leave(self) -> None:
        self.action_choose("leave")

    def action_choose(self, choice: str) -> None:
        self.dismiss(QuitChoice(choice) if choice else None)
