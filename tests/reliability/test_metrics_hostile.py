"""Metrics a run may write that must never cost the sweep its results: a flood ending with the final value, and
hostile values (a 400-digit integer, NaN, infinities, deep nesting, a long line, bytes that are not UTF-8). The
run settles, its downstream runs, each value is kept or refused on its own, and the last value is the last one
written. Real processes through `coopy run`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.helpers.cli import coopy

FLOOD = r"""
import json, os
with open(os.environ["COOPY_METRICS"], "w") as f:
    for i in range(1_000_000):
        f.write('{"step": %d, "loss": %d}\n' % (i, i))
    f.write(json.dumps({"step": 1_000_000, "loss": -1.0, "final": 1}) + "\n")
"""

HOSTILE = r"""
import os
lines = [
    b'{"big": ' + b"9" * 400 + b', "kept": 1}',
    b'{"nan": NaN, "kept": 2}',
    b'{"inf": Infinity, "ninf": -Infinity, "kept": 3}',
    b'{"huge": 1e999, "kept": 4}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"deep": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}",
    b'{"long": "' + b"x" * 200_000 + b'"}',
    b'{"bytes": "\xff\xfe"}',
    b'{"neg": -' + b"9" * 400 + b"}",
    b'{"kept": 5, "ok": 0.25}',
]
with open(os.environ["COOPY_METRICS"], "wb") as f:
    f.write(b"\n".join(lines) + b"\n")
"""

CONFIG = """
[pipeline]
state_dir = ".coopy"

[tasks]
named = {{ one = {{ x = 1 }} }}

[[stages]]
name = "train"
command = ["{python}", "{script}"]

[[stages]]
name = "after"
command = ["true"]
"""


def _run(tmp_path: Path, script: str) -> tuple[dict[str, float], str]:
    (tmp_path / "w.py").write_text(script)
    cfg = tmp_path / "coopy.toml"
    cfg.write_text(CONFIG.format(python=sys.executable, script=tmp_path / "w.py"))
    done = coopy("run", str(cfg), cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    status = json.loads(coopy("status", str(cfg), "--json", cwd=tmp_path).stdout)
    assert {(r["stage"], r["state"]) for r in status["runs"]} == {("train", "done"), ("after", "done")}
    table = json.loads(coopy("results", str(cfg), "--format", "json", cwd=tmp_path).stdout)
    (row,) = table["rows"]
    log = next((tmp_path / ".coopy" / "logs").rglob("*.log")).read_text(errors="replace")
    return row["metrics"], log


def test_a_flood_of_metric_lines_keeps_the_last_value(tmp_path: Path, report: dict[str, Any]) -> None:
    metrics, log = _run(tmp_path, FLOOD)
    report.update({"metric lines": 1_000_001, "last loss kept": metrics.get("loss")})
    assert metrics["loss"] == -1.0
    assert metrics["final"] == 1.0
    assert "not JSON" not in log and "bad line" not in log


def test_hostile_metric_values_are_kept_or_refused_one_by_one(tmp_path: Path, report: dict[str, Any]) -> None:
    metrics, log = _run(tmp_path, HOSTILE)
    report.update({"hostile lines": 10, "values kept": ", ".join(sorted(metrics))})
    assert metrics["kept"] == 5.0 and metrics["ok"] == 0.25
    assert not {"big", "nan", "inf", "ninf", "huge", "neg", "long", "bytes"} & set(metrics)
    assert "ignored a bad line" in log  # said once, in the run's log
