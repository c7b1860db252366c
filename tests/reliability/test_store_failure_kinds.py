"""A store that fails for good (a table changed under the engine by another program or CooPy version, a damaged
file) is told apart from one that fails for a while (a full disk: tests/reliability/test_full_state_disk.py): the
engine says so in one line and stops, instead of trying again every 2 s for ever."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.helpers.cli import coopy, coopy_popen
from tests.helpers.processes import kill_all, processes_mentioning
from tests.helpers.waiting import wait_for

CONFIG = """
[pipeline]
state_dir = ".coopy"

[tasks.matrix]
seed = [0, 1]

[[stages]]
name = "train"
workers = 2
command = "while [ ! -e {root}/go ]; do sleep 0.05; done; echo {{seed}} >> {root}/marks.txt"
shell = true

[[stages]]
name = "evaluate"
command = "echo {{seed}} >> {root}/evaluated.txt"
shell = true
"""


def test_a_table_changed_under_the_engine_stops_it_in_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "coopy.toml"
    cfg.write_text(CONFIG.format(root=tmp_path))
    out = tmp_path / "run.out"
    engine = coopy_popen("run", str(cfg), cwd=tmp_path, output=out)
    try:
        db = tmp_path / ".coopy" / "state.sqlite"

        def both_running() -> bool:
            answer = coopy("status", str(cfg), "--json", cwd=tmp_path)
            if answer.returncode != 0:
                return False
            return sum(r["state"] == "running" for r in json.loads(answer.stdout)["runs"]) == 2

        wait_for(both_running, "both train runs running", timeout=60)
        conn = sqlite3.connect(db, timeout=30)
        conn.execute("ALTER TABLE attempts RENAME TO attempts_of_another_program")
        conn.commit()
        conn.close()
        (tmp_path / "go").touch()  # the runs end: recording their attempts cannot succeed, ever
        code = engine.wait(timeout=120)
    finally:
        if engine.poll() is None:
            engine.kill()
        kill_all(processes_mentioning(str(tmp_path), environ=True))
    text = out.read_text()
    assert code == 2, text
    errors = [line for line in text.splitlines() if line.startswith("coopy:")]
    assert len(errors) == 1 and "does not pass by waiting" in errors[0] and str(db) in errors[0], text
    assert "Traceback" not in text
    assert not (tmp_path / "evaluated.txt").exists()  # nothing started after the failure
