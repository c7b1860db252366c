"""`coopy-tui` attaching to a live engine does not expand the file's configurations (the engine has them):
a million cost the screen 4 s and 400 MB before its first frame."""

from __future__ import annotations

from pathlib import Path

import pytest

from coopy_core.errors import ConfigError
from coopy_tui.cli import load_for_screen
from tests.helpers.cli import coopy
from tests.helpers.engine import BEYOND_MEMORY, TWO_SLEEPING, write_config


def test_a_live_engine_is_attached_to_without_expanding_the_file(tmp_path: Path) -> None:
    write_config(tmp_path, TWO_SLEEPING)
    assert coopy("run", "--detach", "coopy.toml", cwd=tmp_path).returncode == 0
    try:
        write_config(tmp_path, BEYOND_MEMORY)  # 1,000,000,000 configurations: more than any memory holds
        config = load_for_screen(str(tmp_path / "coopy.toml"))
        assert config.tasks == () and config.stage_names == ["s"]
    finally:
        write_config(tmp_path, TWO_SLEEPING)
        assert coopy("stop", "coopy.toml", "--stop-running", cwd=tmp_path).returncode == 0
    write_config(tmp_path, BEYOND_MEMORY)
    with pytest.raises(ConfigError, match=r"tasks\.matrix: the matrix expands to 1000000000"):
        load_for_screen(str(tmp_path / "coopy.toml"))  # no engine: the whole file, as a new engine needs it
    assert [t.name for t in load_for_screen(str(write_config(tmp_path, TWO_SLEEPING))).tasks] == ["i=0", "i=1"]
