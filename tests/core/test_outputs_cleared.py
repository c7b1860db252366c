"""A run's declared outputs (`done_when`) are removed before it starts (README: Partial outputs are never
trusted): an attempt that runs again and writes nothing is never reported done on what an earlier attempt
left."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.cli import coopy, status
from tests.helpers.engine import write_config


def test_a_rerun_that_writes_nothing_is_not_done_on_the_old_output(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        """
        [tasks.named]
        t = { v = 1 }
        [[stages]]
        name = "make"
        retries = 0
        timeout = 2
        command = ["sh", "-c", "echo $0 >> marks.txt; [ $0 != 1 ] || (mkdir -p out; echo made > out/result.txt)", "{v}"]
        done_when = ["out/result.txt"]
        """,
    )
    first = coopy("run", str(cfg), cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert (tmp_path / "out" / "result.txt").read_text() == "made\n"

    cfg.write_text(cfg.read_text().replace("t = { v = 1 }", "t = { v = 2 }"))  # runs again; writes nothing
    second = coopy("run", str(cfg), cwd=tmp_path)
    assert (tmp_path / "marks.txt").read_text().split() == ["1", "2"], "it ran again"
    run = next(r for r in status(cfg)["runs"] if r["stage"] == "make")
    assert (run["attempt"], run["state"]) == (2, "failed"), f"done on the output attempt 1 left: {run}"
    assert "timed out" in run["reason"], run  # it exited 0 and waited for its output, which never came
    assert second.returncode == 1, second.stdout + second.stderr
    assert not (tmp_path / "out" / "result.txt").exists()
