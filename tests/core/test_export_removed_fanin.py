"""`coopy export` of a configuration removed from the config: its fan-in is the run it was a member of (now over
the remaining members), never `waiting`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.cli import coopy
from tests.helpers.engine import write_config

CONFIG = """
[tasks.matrix]
sample = ["A", "B", "C"]
group = ["g"]

[[stages]]
name = "map"
command = ["sh", "-c", "echo {sample} >> mapped.txt"]

[[stages]]
name = "call"
over = []
command = ["sh", "-c", "echo all >> called.txt"]

[[stages]]
name = "per_sample"
needs = ["map"]
over = ["sample"]
command = ["sh", "-c", "echo {sample} >> per_sample.txt"]
"""


def export(cfg: Path) -> dict[str, dict[str, object]]:
    out = coopy("export", str(cfg), "--format", "json", cwd=cfg.parent)
    assert out.returncode == 0, out.stderr
    return {r["task"]: r for r in json.loads(out.stdout)}


def test_a_removed_samples_fan_in_is_the_run_it_was_part_of(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, CONFIG)
    ran = coopy("run", str(cfg), cwd=tmp_path, timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    cfg.write_text(cfg.read_text().replace('"A", "B", "C"', '"A", "B"'))
    rows = export(cfg)
    gone = rows["sample=C,group=g"]
    assert gone["removed"] is True
    states = {stage: s["state"] for stage, s in gone["stages"].items()}  # type: ignore[attr-defined]
    assert states == {"map": "done", "call": "done", "per_sample": "done"}, states
    ran = coopy("run", str(cfg), cwd=tmp_path, timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (tmp_path / "called.txt").read_text().count("all") == 2  # the fan-in ran again over A and B
    assert export(cfg)["sample=C,group=g"]["stages"]["call"]["state"] == "done"  # type: ignore[index]
