"""RetryScreen (`R`): retry every failed or cancelled run of this stage, or of the whole pipeline.

It says how many runs each choice queues again; the safe answer (no) has the focus.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from coopy_tui.format import counted


class RetryScreen(ModalScreen[str | None]):
    """Returns "stage", "all" or None."""

    BINDINGS = [
        Binding("s", "answer('stage')", "this stage"),
        Binding("a", "answer('all')", "every stage"),
        Binding("n,escape", "answer('')", "no"),
        Binding("left,h,right,l", "app.focus_next", show=False),
    ]

    def __init__(self, stage: str, in_stage: int, in_all: int) -> None:
        super().__init__()
        self.stage = stage
        self.in_stage = in_stage
        self.in_all = in_all

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(
                f"Retry failed and cancelled runs, each with a fresh retry budget?\n"
                f"This stage ({self.stage}): {counted(self.in_stage, 'run')}. "
                f"Every stage: {counted(self.in_all, 'run')}.\n"
                "What they blocked waits for them again.",
                id="question",
                markup=False,
            )
            with Horizontal(classes="buttons"):
                yield Button(
                    f"{self.stage}: {self.in_stage} (s)",
                    id="stage",
                    variant="warning",
                    compact=True,
                    disabled=not self.in_stage,
                )
                yield Button(f"Every stage: {self.in_all} (a)", id="all", variant="error", compact=True)
                yield Button("No (n)", id="no", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_answer("" if event.button.id == "no" else str(event.button.id))

    def action_answer(self, choice: str) -> None:
        if choice == "stage" and not self.in_stage:
            return
        self.dismiss(choice or None)
