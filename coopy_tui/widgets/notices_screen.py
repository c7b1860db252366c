"""NoticesScreen (`!` or `n`): the history of failures and messages, newest first; enter jumps to the run.

Toasts only show the latest news and go away; this list keeps all of it (time, run, what happened),
so a failure that scrolled by while nobody looked is still two keys away.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from coopy_tui.format import clock_time, cut
from coopy_tui.notices import FAILED, FINISHED, HOOK, RETRY, Notice
from coopy_tui.widgets.list_keys import LIST_KEYS, move

GLYPHS = {FAILED: "✗", RETRY: "↻", HOOK: "⚑", FINISHED: "■"}
RunKey = tuple[str, str]


class NoticesScreen(ModalScreen[RunKey | None]):
    """Enter on a notice about a run closes the list and selects that run; esc closes."""

    BINDINGS = [
        Binding("escape,q,exclamation_mark,n", "close", "close", key_display="esc"),
        Binding("f", "toggle_failures", "failures only"),
        *LIST_KEYS,
    ]

    def __init__(
        self, notices: list[Notice], now: float, dropped: int = 0, shorten: Callable[[str], str] = str
    ) -> None:
        super().__init__()
        self.shorten = shorten  # run names without the params every run shares (Names.in_text)
        self.all = notices
        self.now = now
        self.dropped = dropped
        self.failures_only = False

    @property
    def shown(self) -> list[Notice]:
        return [n for n in self.all if n.is_failure] if self.failures_only else self.all

    def compose(self) -> ComposeResult:
        with Vertical(id="notices-box") as box:
            box.border_title = "notifications"
            box.border_subtitle = "⏎ go to the run · f failures only · esc close"
            yield Static(self._heading(), id="notices-heading", markup=False)
            yield OptionList(*self._options(), id="notices-list")

    def on_mount(self) -> None:
        options = self.query_one("#notices-list", OptionList)
        options.focus()
        if self.shown:
            options.highlighted = 0

    def _heading(self) -> str:
        failed = sum(1 for n in self.all if n.kind == FAILED)
        retried = sum(1 for n in self.all if n.kind == RETRY)
        other = len(self.all) - failed - retried
        if not self.all:
            return "Nothing yet."
        attempts = "1 attempt" if retried == 1 else f"{retried} attempts"
        text = f"{failed} failed for good, {attempts} failed and retried, {other} other; newest first"
        if self.dropped:
            text += f" ({self.dropped} older ones forgotten)"
        return text

    def line(self, notice: Notice) -> str:
        again = f" (×{notice.repeats})" if notice.repeats > 1 else ""
        return f"{clock_time(notice.time, self.now)} {GLYPHS.get(notice.kind, '·')} {self.shorten(notice.text)}{again}"

    def _options(self) -> list[Option]:
        width = max(30, min(96, self.app.size.width) - 6)  # one line each: the list wraps long prompts
        return [Option(Text(cut(self.line(n), width))) for n in self.shown]

    def text(self) -> str:
        """The list as plain text (tests read it)."""
        return "\n".join([self._heading(), *(self.line(n) for n in self.shown)])

    def action_toggle_failures(self) -> None:
        self.failures_only = not self.failures_only
        options = self.query_one("#notices-list", OptionList)
        options.clear_options()
        options.add_options(self._options())
        options.highlighted = 0 if self.shown else None
        self.query_one("#notices-box").border_title = "failures" if self.failures_only else "notifications"

    def action_close(self) -> None:
        self.dismiss(None)

    def action_list(self, action: str) -> None:
        move(self, action)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        notice = self.shown[event.option_index]
        if notice.stage and notice.task:
            self.dismiss((notice.stage, notice.task))
        else:
            self.notify("This notice is not about one run.", severity="warning", markup=False)
