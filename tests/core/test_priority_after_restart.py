"""A stage's `priority` edited in the config takes effect at the next start for the runs already queued, and a
priority given at run time (`coopy bump`) stays a lead over the new default; with the config unchanged, the stored
priorities are kept as they were."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.cli import coopy, status
from tests.helpers.engine import write_config
from tests.helpers.waiting import wait_for

CONFIG = """
[pipeline]
poll_interval = 0.2
[tasks.matrix]
i = [0, 1, 2]
[[stages]]
name = "s"
workers = 1
priority = {priority}
command = ["sh", "-c", "while [ ! -e go ]; do sleep 0.1; done"]
"""


def _priorities(cfg: Path) -> dict[str, int]:
    return {r["task"]: r["priority"] for r in status(cfg)["runs"] if r["state"] == "queued"}


def _restart(cfg: Path, tmp_path: Path) -> None:
    assert coopy("stop", str(cfg), cwd=tmp_path).returncode == 0
    wait_for(lambda: status(cfg)["engine_pid"] is None, "the engine to stop", 30)
    assert coopy("run", "--detach", str(cfg), cwd=tmp_path).returncode == 0


def test_an_edited_priority_takes_effect_and_a_bump_stays_a_lead(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, CONFIG.format(priority=0))
    try:
        assert coopy("run", "--detach", str(cfg), cwd=tmp_path).returncode == 0
        wait_for(lambda: len(_priorities(cfg)) == 2, "two runs queued", 30)
        queued = sorted(_priorities(cfg))
        assert coopy("bump", str(cfg), "s", queued[1], "--by", "3", cwd=tmp_path).returncode == 0
        assert _priorities(cfg) == {queued[0]: 0, queued[1]: 3}

        _restart(cfg, tmp_path)  # the config unchanged: kept
        assert _priorities(cfg) == {queued[0]: 0, queued[1]: 3}

        write_config(tmp_path, CONFIG.format(priority=10))
        _restart(cfg, tmp_path)
        assert _priorities(cfg) == {queued[0]: 10, queued[1]: 13}
        _restart(cfg, tmp_path)  # once
        assert _priorities(cfg) == {queued[0]: 10, queued[1]: 13}
    finally:
        (tmp_path / "go").touch()
        coopy("stop", str(cfg), cwd=tmp_path)
