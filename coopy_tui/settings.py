"""The TUI's own settings: keymap, theme and end-of-pipeline notification.

They come from `[tui]` in the pipeline's config and from the user's own file,
`$XDG_CONFIG_HOME/coopy/tui.toml` (default `~/.config/coopy/tui.toml`; the same keys at its top
level). The user's file wins key by key: a pipeline's config is often shared by a team, while keys
and colours are one person's habits. Everything is checked before the screen starts; a problem is
one line naming the file and the key (exit 2), like any config error.

```toml
[tui]
theme = "catppuccin-latte"
notify = "osc9"              # when the pipeline finishes: none | bell | osc9 | osc777
[tui.keys]
more_workers = "w,right_square_bracket"
"log.search" = "ctrl+f"
```
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from coopy_core.config import Config, TuiConfig, load_tui_file
from coopy_core.errors import ConfigError
from coopy_tui.keys import actions

KEY_NAME = re.compile(r"^((ctrl|shift|alt|meta|super|hyper)\+)*([A-Za-z0-9_]+|[^\sA-Za-z0-9_,])$")
THEMES_NOTE = "one of Textual's themes, e.g. textual-dark, textual-light, catppuccin-latte, nord, gruvbox"


@dataclass(frozen=True)
class Settings:
    keymap: dict[str, str] = field(default_factory=dict)  # Textual binding id -> keys
    theme: str | None = None
    notify: str = "none"
    theme_at: tuple[str, str] = ("", "")  # (file, key) the theme was set in, for its error


def user_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "coopy" / "tui.toml"


def load_settings(config: Config | None, user: Path | None = None, shown: str | None = None) -> Settings:
    """The settings of `config`'s `[tui]` overlaid with the user's file (if there is one); `shown` is the
    config's path as the user wrote it (for error messages)."""
    sources: list[tuple[str, str, TuiConfig]] = []  # (file shown in errors, key prefix, settings)
    if config is not None:
        sources.append((shown or str(config.path), "tui.", config.tui))
    path = user if user is not None else user_file()
    if path.is_file():
        sources.append((str(path), "", load_tui_file(path)))
    keymap: dict[str, str] = {}
    theme: str | None = None
    theme_at = ("", "")
    notify = "none"
    known = actions()
    where: dict[str, tuple[str, str]] = {}  # binding id -> (file, key) it was set in
    for shown, prefix, tui in sources:
        for action, keys in tui.keys.items():
            key = known.get(action)
            if key is None:
                raise ConfigError(shown, f"{prefix}keys.{action}", f"no such action (actions: {', '.join(known)})")
            names = [k.strip() for k in keys.split(",")]
            for name in names:
                if not KEY_NAME.match(name):
                    raise ConfigError(
                        shown, f"{prefix}keys.{action}", f"{name!r} is not a key name (like w, ctrl+f, plus, f5)"
                    )
            keymap[key.id] = ",".join(names)
            where[key.id] = (shown, f"{prefix}keys.{action}")
        if "theme" in tui.model_fields_set:
            theme = tui.theme
            theme_at = (shown, f"{prefix}theme")
        if "notify" in tui.model_fields_set:
            notify = tui.notify
    _check_clashes(keymap, where)
    return Settings(keymap=keymap, theme=theme, notify=notify, theme_at=theme_at)


RESERVED = {  # keys a focused widget or Textual itself takes first, by screen
    "coopy.": {
        "g": "the task list (first row)",
        "G": "the task list (last row)",
        "home": "the task list",
        "end": "the task list",
        "pageup": "the task list",
        "pagedown": "the task list",
        "tab": "next stage",
        "shift+tab": "previous stage",
        "ctrl+p": "the command palette",
        "ctrl+q": "quit",
        "ctrl+c": "copy",
    },
    "coopy.log.": {"ctrl+p": "the command palette", "ctrl+q": "quit", "ctrl+c": "copy"},
}


def _check_clashes(keymap: dict[str, str], where: dict[str, tuple[str, str]]) -> None:
    """Two actions of one screen on one key: one of them would never run. Say which, at the key that
    the keymap set."""
    known = actions()
    for table, reserved in RESERVED.items():
        owner: dict[str, str] = {}  # key name -> binding id
        keys_of = {k.id: keymap.get(k.id, k.keys) for k in known.values() if k.id.rsplit(".", 1)[0] + "." == table}
        for binding_id in sorted(keys_of, key=lambda i: i in where):  # defaults first, then what was set
            for name in (n.strip() for n in keys_of[binding_id].split(",") if n.strip()):
                other = owner.get(name)
                clash = reserved.get(name) if binding_id in where else None
                if other is not None and other != binding_id and binding_id in where and _yields(other, where):
                    keymap[other] = ",".join(
                        k for k in keymap.get(other, keys_of[other]).split(",") if k.strip() != name
                    )
                    owner[name] = binding_id  # the keymap's action takes the key (see Key.yields)
                    continue
                if other is not None and other != binding_id:
                    clash = "the key of " + other.removeprefix(table)
                if clash and binding_id in where:
                    shown, at = where[binding_id]
                    raise ConfigError(shown, at, f"{name!r} is already {clash}")
                owner.setdefault(name, binding_id)


def _yields(binding_id: str, where: dict[str, tuple[str, str]]) -> bool:
    """A default key (the keymap did not set it) of an action added after keymaps were written."""
    key = next((k for k in actions().values() if k.id == binding_id), None)
    return binding_id not in where and key is not None and key.yields


def check_theme(settings: Settings, available: set[str]) -> None:
    name = settings.theme
    if name is not None and name not in available:
        shown, key = settings.theme_at
        raise ConfigError(shown, key, f"{name!r} is not a theme ({THEMES_NOTE})")
