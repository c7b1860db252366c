"""`exclude` where the README's reference config shows it (under [tasks.matrix]) works when uncommented, and a
table under another matrix key says where exclusions go. A matrix param named `exclude` with plain values stays
a param, as it always was."""

from __future__ import annotations

import re
from pathlib import Path

from coopy_core import load_config
from tests.helpers.cli import coopy

README = Path(__file__).resolve().parents[2] / "README.md"


def _reference_config() -> str:
    """The README's first TOML block (the reference config), with its `# exclude = ...` line uncommented."""
    block = re.search(r"```toml\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    text = block.group(1)
    assert "\n# exclude = " in text
    return text.replace("\n# exclude = ", "\nexclude = ")


def test_the_readme_exclude_line_uncommented_leaves_its_configuration_out(tmp_path: Path) -> None:
    cfg = tmp_path / "coopy.toml"
    cfg.write_text(_reference_config())
    config = load_config(cfg)
    names = {t.name for t in config.tasks}
    assert "model=mlp,seed=2" not in names
    assert {"model=mlp,seed=1", "model=cnn,seed=2", "baseline"} <= names
    assert len(names) == 3 * 2 - 1 + 1
    answer = coopy("validate", str(cfg), cwd=tmp_path)
    assert answer.returncode == 0, answer.stderr


def test_a_table_under_another_matrix_key_says_where_exclude_goes(tmp_path: Path) -> None:
    cfg = tmp_path / "coopy.toml"
    cfg.write_text(
        '[tasks.matrix]\nmodel = ["a", "b"]\nexclud = [{ model = "a" }]\n\n[[stages]]\nname = "s"\ncommand = "true"\n'
    )
    answer = coopy("validate", str(cfg), cwd=tmp_path)
    assert answer.returncode == 2
    (line,) = answer.stderr.strip().splitlines()
    assert f"{cfg}: tasks.matrix.exclud[0]" in line and "exclude = [{ ... }]" in line


def test_a_matrix_param_named_exclude_keeps_its_meaning(tmp_path: Path) -> None:
    cfg = tmp_path / "coopy.toml"
    cfg.write_text('[tasks.matrix]\nexclude = ["x", "y"]\n\n[[stages]]\nname = "s"\ncommand = "true"\n')
    assert sorted(t.params["exclude"] for t in load_config(cfg).tasks) == ["x", "y"]
