"""The README's tables of `coopy` verbs are rendered from the verb table (coopy_core.cli.readme), as the key
table is from coopy_tui.keys: a verb, an argument or a help line changed in the code changes the README."""

from __future__ import annotations

from pathlib import Path

from coopy_core.cli.readme import engine_table, local_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_holds_the_table_of_local_verbs() -> None:
    assert local_table() in README.read_text(), "regenerate the README's table: coopy_core.cli.readme.local_table()"


def test_the_readme_holds_the_table_of_engine_verbs() -> None:
    assert engine_table() in README.read_text(), "regenerate the README's table: coopy_core.cli.readme.engine_table()"


def test_each_table_is_whole_in_the_readme() -> None:
    """Exactly the rendering: no hand-written row before or after it."""
    text = README.read_text()
    for table in (local_table(), engine_table()):
        start = text.index(table)
        before, after = text[:start], text[start + len(table) :]
        assert before.endswith("\n\n") and (after.startswith("\n\n") or after == "\n")
