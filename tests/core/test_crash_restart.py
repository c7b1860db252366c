"""SIGKILL the real `coopy run` mid-run, several times, restarting it each time: every run
is executed exactly once (counted by marker lines the commands append), none is lost,
and no process of the pipeline is left behind."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from tests.helpers.cli import coopy, coopy_popen
from tests.helpers.engine import write_config
from tests.helpers.processes import kill_all, processes_mentioning

TASKS = 12
STAGES = ("prep", "train", "eval")


def _config(tmp: Path, markers: Path) -> Path:
    stages = "".join(
        f"""
        [[stages]]
        name = "{stage}"
        workers = 3
        command = ["sh", "-c", "sleep 0.2; echo \\"$1 $2 $3\\" >> \\"$4\\"; sleep 0.5; :", "sh",
                   "{{stage}}", "{{task}}", "{{attempt}}", "{markers}"]
        """
        for stage in STAGES
    )
    return write_config(
        tmp,
        f"""
        [pipeline]
        name = "crashy"
        poll_interval = 0.5

        [tasks.matrix]
        i = {list(range(TASKS))}
        {stages}
        """,
    )


def _lines(markers: Path) -> list[str]:
    return markers.read_text().splitlines() if markers.exists() else []


def _wait_lines(markers: Path, count: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(_lines(markers)) < count:
        assert proc.poll() is None, f"coopy run ended early with {proc.returncode}"
        assert time.monotonic() < deadline, f"only {len(_lines(markers))} markers after {timeout}s"
        time.sleep(0.02)


def test_sigkill_and_restart_runs_everything_exactly_once(tmp_path: Path) -> None:
    markers = tmp_path / "markers.txt"
    config = _config(tmp_path, markers)
    output = tmp_path / "coopy-output.txt"
    total = TASKS * len(STAGES)
    try:
        # kill after N markers (commands surely running), and twice soon after a restart
        # (while the engine re-adopts what ran without it)
        for threshold in (3, None, 11, 19, None, 27):
            before = len(_lines(markers))
            proc = coopy_popen("run", str(config), cwd=tmp_path, output=output)
            _wait_lines(markers, threshold or before + 1, proc)
            running = processes_mentioning(str(markers))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            assert running, "the engine was killed while no command was running"
        final = coopy_popen("run", str(config), cwd=tmp_path, output=output)
        assert final.wait(timeout=120) == 0, output.read_text()[-3000:]
    finally:
        kill_all(processes_mentioning(str(markers)))

    lines = _lines(markers)
    seen = Counter(tuple(line.split()[:2]) for line in lines)
    expected = {(stage, f"i={i}") for stage in STAGES for i in range(TASKS)}
    assert set(seen) == expected, "a run was lost"
    assert [k for k, n in seen.items() if n != 1] == [], "a run was executed twice"
    assert len(lines) == total

    status = coopy("status", str(config), "--json", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert len(data["runs"]) == total
    assert {r["state"] for r in data["runs"]} == {"done"}
    assert all(s["counts"]["done"] == TASKS for s in data["stages"])
    assert data["engine_pid"] is None
    assert processes_mentioning(str(markers)) == []
