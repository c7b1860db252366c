"""The key table: one list feeds the bindings, the footer, the `?` help screen and the palette.

Keeping it in one place is what makes "every key is in the footer, the help
screen and the command palette" true by construction rather than by care.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType

STAGE_GROUP = Binding.Group("stage", compact=True)
TASK_GROUP = Binding.Group("task", compact=True)
PRIORITY_GROUP = Binding.Group("prio", compact=True)
WORKERS_GROUP = Binding.Group("workers", compact=True)


@dataclass(frozen=True)
class Key:
    """One command of the UI: its action, keys, and how it is shown."""

    action: str
    keys: str  # Textual key names, comma-separated (the first is shown in the footer)
    display: str  # how the help screen and README show the keys
    label: str  # short footer label
    help: str  # one-line description (help screen, command palette)
    footer_key: str = ""  # key shown in the footer; "" uses Textual's display of the first key
    group: Binding.Group | None = None
    priority_keys: str = ""  # keys that win even over a focused widget (tab would move focus)
    palette: bool = True

    def bindings(self) -> list[Binding]:
        """Textual bindings for this key; ids let a keymap rebind them (`coopy.<action>`)."""
        label = self.label or (self.group.description if self.group else self.help)
        out = []
        for keys, priority in ((self.priority_keys, True), (self.keys, False)):
            if keys:
                out.append(
                    Binding(
                        keys,
                        self.action,
                        label,
                        key_display=self.footer_key or None,
                        priority=priority,
                        show=not (priority and self.keys),  # one footer entry per action
                        group=self.group,
                        id=f"coopy.{self.action}" + ("" if priority or not self.priority_keys else ".alt"),
                    )
                )
        return out


KEYS: tuple[Key, ...] = (
    Key("help", "question_mark", "?", "help", "Show every key and what it does"),
    Key("quit", "q", "q", "quit", "Quit: detach (running commands go on) or stop them; asks when any run"),
    Key("raise_priority", "plus", "+", "", "Raise the selected queued run's priority", "+", PRIORITY_GROUP),
    Key("lower_priority", "minus", "-", "", "Lower the selected queued run's priority", "-", PRIORITY_GROUP),
    Key("top", "t", "t", "top", "Move the selected queued run to the top of its queue"),
    Key("toggle_pause", "p", "p", "pause", "Pause or resume the stage (running commands go on)"),
    Key("more_workers", "right_square_bracket", "]", "", "Raise the stage's worker cap", "]", WORKERS_GROUP),
    Key("fewer_workers", "left_square_bracket", "[", "", "Lower the stage's worker cap", "[", WORKERS_GROUP),
    Key("retry", "r", "r", "retry", "Retry the selected failed or cancelled run"),
    Key("cancel", "c", "c", "cancel", "Cancel the selected queued or running run (asks first)"),
    Key("filter", "slash", "/", "filter", "Filter tasks by name or state (esc clears)"),
    Key("open_log", "enter", "enter", "log", "Open the selected run's log full screen", "⏎"),
    Key("summary", "s", "s", "summary", "Summary: per stage mean / longest duration and failures"),
    Key("pools", "u", "u", "pools", "Resource pools (GPUs, memory): what is in use; resize them"),
    Key("next_stage", "right,l", "tab  →  l", "", "Next stage", "⇥", STAGE_GROUP, priority_keys="tab"),
    Key(
        "prev_stage",
        "left,h",
        "shift+tab  ←  h",
        "",
        "Previous stage",
        "⇤",
        STAGE_GROUP,
        priority_keys="shift+tab",
    ),
    Key("cursor_up", "up,k", "↑  k", "", "Previous task in the stage", "↑", TASK_GROUP, palette=False),
    Key("cursor_down", "down,j", "↓  j", "", "Next task in the stage", "↓", TASK_GROUP, palette=False),
    # issue 15; last, so a narrow footer drops it before the stage and task keys
    Key("results", "m", "m", "results", "Results: the metrics per configuration, grouped and sorted"),
)

EXTRA_HELP: tuple[tuple[str, str], ...] = (
    ("pgup  pgdn  home  end", "Scroll the task list"),
    ("ctrl+p", "Command palette (every command above, by name)"),
    ("esc", "Close a dialog, the log view or the filter"),
)


def app_bindings() -> list[BindingType]:
    return [b for key in KEYS for b in key.bindings()]


def markdown_table() -> str:
    """The key table as Markdown (for the README)."""
    lines = ["| Key | Does |", "| --- | --- |"]
    for key in KEYS:
        shown = " / ".join(f"`{k}`" for k in key.display.split("  "))
        lines.append(f"| {shown} | {key.help} |")
    for keys, text in EXTRA_HELP:
        shown = " / ".join(f"`{k}`" for k in keys.split("  "))
        lines.append(f"| {shown} | {text} |")
    return "\n".join(lines)
