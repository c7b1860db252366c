"""The key tables: one list feeds the bindings, the footer, the `?` help screen, the palette and the README.

Keeping it in one place is what makes "every key is in the footer, the help screen and the command
palette" true by construction rather than by care. Every binding has an id (`coopy.<action>`, and
`coopy.log.<action>` in the log view), so a keymap (`[tui.keys]`, see coopy_tui.settings) can
rebind it; the footer and the help screen show the keys as bound. The pipeline view's keys are bound
on `MainScreen`, the log view's on `LogScreen`: each screen binds the keys that act on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType

STAGE_GROUP = Binding.Group("stage", compact=True)
TASK_GROUP = Binding.Group("task", compact=True)
PRIORITY_GROUP = Binding.Group("prio", compact=True)
WORKERS_GROUP = Binding.Group("workers", compact=True)
FAILED_GROUP = Binding.Group("failed", compact=True)
MATCH_GROUP = Binding.Group("match", compact=True)
ATTEMPT_GROUP = Binding.Group("attempt", compact=True)


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
    show: bool = True  # in the footer
    prefix: str = "coopy"  # binding ids are `<prefix>.<action>`
    # a key added after keymaps were written (issue 24): a keymap binding it to another action takes it from this
    # one (that keymap was valid before this key existed), where any other clash is an error
    yields: bool = False

    @property
    def id(self) -> str:
        return f"{self.prefix}.{self.action}"

    def bindings(self) -> list[Binding]:
        """Textual bindings for this key; ids let a keymap rebind them (`coopy.<action>`; the keys that
        win over a focused widget, tab and shift+tab, are `coopy.<action>.priority`)."""
        label = self.label or (self.group.description if self.group else self.help)
        out = []
        for keys, priority in ((self.keys, False), (self.priority_keys, True)):
            if keys:
                out.append(
                    Binding(
                        keys,
                        self.action,
                        label,
                        key_display=self.footer_key or None,
                        priority=priority,
                        show=self.show and not (priority and self.keys),  # one footer entry per action
                        group=self.group,
                        tooltip=self.help,
                        id=self.id + (".priority" if priority else ""),
                    )
                )
        return out


KEYS: tuple[Key, ...] = (  # in the footer's order: what is looked for first comes first
    Key("help", "question_mark", "?", "keys", "Show the keys of the view you are in and what they do"),
    Key("quit", "q", "q", "quit", "Quit: detach (running commands go on) or stop them; asks when any run"),
    Key("open_log", "enter", "enter", "log", "Open the selected run's log full screen (its attempts, search)", "⏎"),
    Key("next_failed", "f", "f", "", "Jump to the next failed run, in any stage", "f", FAILED_GROUP),
    Key("prev_failed", "F", "F", "", "Jump to the previous failed run, in any stage", "F", FAILED_GROUP),
    Key("notices", "exclamation_mark,n", "!  n", "news", "Notifications: failures, messages; enter: to the run", "!"),
    Key("filter", "slash", "/", "filter", "Filter tasks: words of the name or state; lr=1: exactly 1 (esc clears)"),
    Key("summary", "s", "s", "summary", "Summary: per stage counts and durations, failures with their last line"),
    Key("retry", "r", "r", "retry", "Retry the selected failed or cancelled run (the marked ones: asks once)"),
    Key("retry_all", "R", "R", "retry all", "Retry every failed or cancelled run of the stage or pipeline (asks)"),
    Key("cancel", "c", "c", "cancel", "Cancel the selected queued or running run, or the marked ones (asks first)"),
    Key(
        "cancel_stage",
        "C",
        "C",
        "cancel all",
        "Cancel every run of the stage that has not ended (asks)",
        show=False,
        yields=True,
    ),
    Key(
        "mark_all",
        "ctrl+a",
        "ctrl+a",
        "mark all",
        "Mark every run listed in the stage; again: unmark them",
        show=False,
        yields=True,
    ),
    Key("rerun", "a", "a", "again", "Run the selected finished run again, and what consumes it (asks)", show=False),
    Key("toggle_pause", "p", "p", "pause", "Pause or resume the stage (running commands go on)"),
    Key("more_workers", "right_square_bracket", "]", "", "Raise the stage's worker cap by one", "]", WORKERS_GROUP),
    Key("fewer_workers", "left_square_bracket", "[", "", "Lower the stage's worker cap by one", "[", WORKERS_GROUP),
    Key("raise_priority", "plus", "+", "", "Raise the selected (or marked) queued runs' priority", "+", PRIORITY_GROUP),
    Key(
        "lower_priority", "minus", "-", "", "Lower the selected (or marked) queued runs' priority", "-", PRIORITY_GROUP
    ),
    Key("top", "t", "t", "top", "Move the selected queued run to the top of its queue"),
    Key("next_stage", "right,l", "tab  →  l", "", "Next stage", "⇥", STAGE_GROUP, priority_keys="tab"),
    Key("prev_stage", "left,h", "shift+tab  ←  h", "", "Previous stage", "⇤", STAGE_GROUP, priority_keys="shift+tab"),
    Key("sort", "o", "o", "sort", "Sort the task list: queue order, name (natural), state, elapsed"),
    Key(
        "wide",
        "W",
        "W",
        "wide",
        "Whole names in the task list (shift+← →: scroll sideways); W again: what differs",
        show=False,
    ),
    Key("graph", "d", "d", "graph", "The pipeline's graph: each stage, what it needs, its runs"),
    Key("pools", "u", "u", "pools", "Resource pools (GPUs, memory): what is in use; resize them"),
    Key("pager", "v", "v", "pager", "Open the selected run's log in $PAGER; the screen comes back after"),
    Key("editor", "e", "e", "editor", "Open the selected run's log in $EDITOR"),
    Key("copy_path", "y", "y", "copy path", "Copy the selected run's log path to the clipboard"),
    Key("results", "m", "m", "results", "Results: the metrics per configuration, grouped and sorted"),
    Key(
        "mark",
        "space",
        "space",
        "mark",
        "Mark or unmark the selected run; c, r, + and - then act on the marked",
        "␣",
        yields=True,
    ),
    Key(
        "waits_on",
        "J",
        "J",
        "waits on",
        "Jump to the run the selected one waits on (a blocked one: what failed)",
        yields=True,
    ),
    Key("cursor_up", "up,k", "↑  k", "", "Previous task in the stage", "↑", TASK_GROUP, palette=False, show=False),
    Key("cursor_down", "down,j", "↓  j", "", "Next task in the stage", "↓", TASK_GROUP, palette=False, show=False),
)

LOG_KEYS: tuple[Key, ...] = (
    Key("close", "escape,q", "esc  q", "back", "Back to the pipeline", "esc", prefix="coopy.log"),
    Key("search", "slash", "/", "search", "Search the log (enter: go; esc: stop)", prefix="coopy.log"),
    Key("next_match", "n", "n", "", "Next match", "n", MATCH_GROUP, prefix="coopy.log"),
    Key("prev_match", "N", "N", "", "Previous match", "N", MATCH_GROUP, prefix="coopy.log"),
    Key(
        "prev_attempt",
        "left_square_bracket",
        "[",
        "",
        "The run's earlier attempt",
        "[",
        ATTEMPT_GROUP,
        prefix="coopy.log",
    ),
    Key(
        "next_attempt",
        "right_square_bracket",
        "]",
        "",
        "The run's later attempt",
        "]",
        ATTEMPT_GROUP,
        prefix="coopy.log",
    ),
    Key("pager", "v", "v", "pager", "Open this log in $PAGER", prefix="coopy.log"),
    Key("editor", "e", "e", "editor", "Open this log in $EDITOR", prefix="coopy.log"),
    Key("copy_path", "y", "y", "copy path", "Copy this log's path to the clipboard", prefix="coopy.log"),
    Key("top", "g,home", "g  home", "top", "First line", prefix="coopy.log"),
    Key("end", "G,end", "G  end", "end", "Last line, and follow the log", prefix="coopy.log"),
    Key("scroll_down", "j,down", "↓  j", "", "Scroll down", prefix="coopy.log", palette=False, show=False),
    Key("scroll_up", "k,up", "↑  k", "", "Scroll up", prefix="coopy.log", palette=False, show=False),
    Key("page_down", "space,pagedown", "space  pgdn", "", "Page down (as in less)", prefix="coopy.log", show=False),
    Key("page_up", "b,pageup", "b  pgup", "", "Page up (as in less)", prefix="coopy.log", show=False),
    Key("wrap", "w", "w", "wrap", "Wrap long lines, or cut them (← → scroll sideways)", prefix="coopy.log"),
)

EXTRA_HELP: tuple[tuple[str, str], ...] = (
    ("g  home", "First task of the list"),
    ("G  end", "Last task of the list"),
    ("pgup  pgdn", "Scroll the task list"),
    ("ctrl+p", "Command palette (every command above, by name)"),
    ("esc", "Close a dialog, the log view or the filter; on the list: clear the marks, then a kept filter"),
)

NAVIGATION = ("next_stage", "prev_stage", "cursor_up", "cursor_down")


def main_bindings() -> list[BindingType]:
    """The pipeline view's keys, bound on MainScreen (the screen they act on)."""
    return [b for key in KEYS for b in key.bindings()]


def log_bindings() -> list[BindingType]:
    """The log view's keys, bound on LogScreen."""
    return [b for key in LOG_KEYS for b in key.bindings()]


def actions() -> dict[str, Key]:
    """Every rebindable action by the name a keymap uses: `more_workers`, `log.search`, ..."""
    out = {key.action: key for key in KEYS}
    out.update({f"log.{key.action}": key for key in LOG_KEYS})
    return out


def markdown_table() -> str:
    """The key tables as Markdown (for the README)."""
    lines = ["| Key | Does |", "| --- | --- |"]
    for key in KEYS:
        shown = " / ".join(f"`{k}`" for k in key.display.split("  "))
        lines.append(f"| {shown} | {key.help} |")
    for keys, text in EXTRA_HELP:
        shown = " / ".join(f"`{k}`" for k in keys.split("  "))
        lines.append(f"| {shown} | {text} |")
    lines += ["", "In the log view (`enter`):", "", "| Key | Does |", "| --- | --- |"]
    for key in LOG_KEYS:
        shown = " / ".join(f"`{k}`" for k in key.display.split("  "))
        lines.append(f"| {shown} | {key.help} |")
    return "\n".join(lines)
