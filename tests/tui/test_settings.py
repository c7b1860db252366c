"""`[tui]` and the user's own tui.toml: merged key by key (the user's file wins), checked before the screen
starts; a bad one is one line naming the file and the key, exit 2, like any config error."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from coopy_core.config import load_config
from coopy_core.errors import ConfigError
from coopy_tui.settings import load_settings, user_file
from tests.tui.test_cli import assert_clean_failure, tui

BASE = """
    [tasks.matrix]
    x = [1]
    [[stages]]
    name = "a"
    command = ["true"]
"""


def config(tmp_path: Path, tui_table: str = "") -> Path:
    path = tmp_path / "coopy.toml"
    path.write_text(textwrap.dedent(BASE) + textwrap.dedent(tui_table))
    return path


def test_the_users_file_wins_key_by_key(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        """
        [tui]
        theme = "nord"
        notify = "bell"
        [tui.keys]
        sort = "O"
        more_workers = "w"
    """,
    )
    user = tmp_path / "tui.toml"
    user.write_text('theme = "catppuccin-latte"\n[keys]\nsort = "S"\n"log.search" = "ctrl+f"\n')
    settings = load_settings(load_config(path), user=user)
    assert settings.theme == "catppuccin-latte"  # the user's
    assert settings.notify == "bell"  # the config's: the user's file does not say
    assert settings.keymap == {"coopy.sort": "S", "coopy.more_workers": "w", "coopy.log.search": "ctrl+f"}


def test_the_user_file_is_found_under_xdg_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert user_file() == tmp_path / "xdg" / "coopy" / "tui.toml"
    user_file().parent.mkdir(parents=True)
    user_file().write_text('[keys]\nsort = "S"\n')
    assert load_settings(load_config(config(tmp_path))).keymap == {"coopy.sort": "S"}


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        ('[tui.keys]\nfly = "x"\n', "tui.keys.fly", "no such action"),
        ('[tui.keys]\nsort = "two words"\n', "tui.keys.sort", "not a key name"),
        ('[tui.keys]\nsort = "p"\n', "tui.keys.sort", "already the key of toggle_pause"),
        ('[tui.keys]\nsort = "g"\n', "tui.keys.sort", "already the task list"),
        ('[tui]\nnotify = "loud"\n', "tui.notify", "not allowed"),
        ('[tui]\ncolour = "red"\n', "tui.colour", "unknown key"),
    ],
)
def test_a_bad_tui_table_names_its_key(tmp_path: Path, table: str, key: str, words: str) -> None:
    path = config(tmp_path, table)
    with pytest.raises(ConfigError) as err:
        load_settings(load_config(path), user=tmp_path / "none.toml")
    assert f": {key}: " in str(err.value) and words in str(err.value)


def test_swapping_two_keys_is_no_clash(tmp_path: Path) -> None:
    path = config(tmp_path, '[tui.keys]\ntoggle_pause = "o"\nsort = "p"\n')
    settings = load_settings(load_config(path), user=tmp_path / "none.toml")
    assert settings.keymap == {"coopy.toggle_pause": "o", "coopy.sort": "p"}


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('[tui]\ntheme = "no-such-theme"\n', "coopy.toml: tui.theme: 'no-such-theme' is not a theme"),
        ('[tui.keys]\nfly = "x"\n', "coopy.toml: tui.keys.fly: no such action"),
    ],
)
def test_coopy_tui_refuses_a_bad_tui_table_in_one_line(tmp_path: Path, table: str, expected: str) -> None:
    config(tmp_path, table)
    result = tui("coopy.toml", cwd=tmp_path)
    assert_clean_failure(result)
    assert result.stderr.startswith(f"coopy-tui: {expected}"), result.stderr
    assert not (tmp_path / ".coopy").exists(), "nothing started or written"


def test_a_bad_user_file_is_named(tmp_path: Path) -> None:
    config(tmp_path)
    (tmp_path / "xdg" / "coopy").mkdir(parents=True)
    (tmp_path / "xdg" / "coopy" / "tui.toml").write_text("[keys]\nsort = 3\n")
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    result = subprocess.run(
        [sys.executable, "-m", "coopy_tui", "coopy.toml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    assert_clean_failure(result)
    assert "tui.toml: keys.sort: should be a string" in result.stderr
