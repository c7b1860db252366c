"""Hooks fire once per event, also across engine kills, and `coopy export` has a row per configuration with its
params and a column group per stage; both through the real `coopy run` on one pipeline with a failing run."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers.engine import write_config

HOOKED = """
[pipeline]
name = "hooks"
poll_interval = 0.5
on_finished = ["sh", "-c", "echo finished $0 >> hooks.txt", "{state}"]
[tasks.matrix]
i = [0, 1, 2, 3, 4, 5]
[[stages]]
name = "work"
command = ["sh", "-c", "sleep 0.6; [ $0 != 3 ]", "{i}"]
workers = 3
on_done = ["sh", "-c", "echo done $0 $1 >> hooks.txt", "{task}", "{attempt}"]
on_failed = ["sh", "-c", "echo failed $0 $1 >> hooks.txt", "{task}", "{exit_code}"]
"""


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coopy_core.cli.main", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def hook_lines(tmp: Path) -> list[str]:
    path = tmp / "hooks.txt"
    return sorted(path.read_text().splitlines()) if path.exists() else []


def test_hooks_fire_once_per_event_even_across_engine_kills(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, HOOKED)
    expected = sorted([f"done i={i} 1" for i in (0, 1, 2, 4, 5)] + ["failed i=3 1", "finished failed"])
    for _kill in range(2):  # kill the engine while runs (and hooks) are in flight, then restart it
        proc = subprocess.Popen(
            [sys.executable, "-m", "coopy_core.cli.main", "run", str(cfg)],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.9)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    final = run_cli(tmp_path, "run", str(cfg))
    assert final.returncode == 1, final.stderr  # one configuration fails for good
    deadline = time.monotonic() + 10
    while len(hook_lines(tmp_path)) < len(expected) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert hook_lines(tmp_path) == expected
    again = run_cli(tmp_path, "run", str(cfg))  # nothing left to do: no event, no hook
    assert again.returncode == 1
    time.sleep(0.5)
    assert hook_lines(tmp_path) == expected
    assert list((tmp_path / ".coopy" / "logs" / "hooks").glob("on_done.work.*.log"))


def test_export_has_a_row_per_configuration_with_params_and_stage_columns(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, HOOKED.replace("sleep 0.6", "sleep 0.1"))
    assert run_cli(tmp_path, "run", str(cfg)).returncode == 1
    out = run_cli(tmp_path, "export", str(cfg), "--format", "csv")
    assert out.returncode == 0, out.stderr
    table = list(csv.DictReader(io.StringIO(out.stdout)))
    columns = ["task", "i", "work.state", "work.attempts", "work.duration_s", "work.exit_code", "removed"]
    assert list(table[0]) == columns
    assert [row["task"] for row in table] == [f"i={i}" for i in range(6)]
    by = {row["task"]: row for row in table}
    assert by["i=3"]["work.state"] == "failed" and by["i=3"]["work.exit_code"] == "1"
    assert by["i=0"]["work.state"] == "done" and by["i=0"]["work.attempts"] == "1"
    assert float(by["i=0"]["work.duration_s"]) >= 0.1
    js = run_cli(tmp_path, "export", str(cfg), "--format", "json", "-o", str(tmp_path / "x.json"))
    assert js.returncode == 0
    data = json.loads((tmp_path / "x.json").read_text())
    assert data[3] == {
        "task": "i=3",
        "params": {"i": 3},
        "removed": False,
        "stages": {
            "work": {
                "state": "failed",
                "attempts": 1,
                "duration_s": data[3]["stages"]["work"]["duration_s"],
                "exit_code": 1,
                "reason": "exit code 1",
            }
        },
    }
    assert os.path.getsize(tmp_path / "x.json") > 0
