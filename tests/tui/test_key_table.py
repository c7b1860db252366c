"""The one key table (coopy_tui.keys) as the README shows it."""

from __future__ import annotations

from pathlib import Path

from coopy_tui.keys import KEYS, markdown_table


def test_key_table_for_the_readme_lists_every_key() -> None:
    table = markdown_table()
    for key in KEYS:
        assert key.help in table


def test_the_readme_has_the_current_key_table() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert markdown_table() in readme, "regenerate the README's key table: coopy_tui.keys.markdown_table()"
