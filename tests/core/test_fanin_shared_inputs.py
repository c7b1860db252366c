"""A fan-in's input shared by every member (`genome.fa` beside `mapped/{sample}.bam`) is passed once in
`{inputs}`, in argv and through a shell, and changing it makes the fan-in run again like any input."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.cli import coopy
from tests.helpers.engine import write_config

CONFIG = """
[tasks.matrix]
sample = ["A", "B", "C"]

[[stages]]
name = "map"
command = ["sh", "-c", "mkdir -p mapped && echo {sample} > mapped/{sample}.bam"]

[[stages]]
name = "call"
over = []
inputs = ["genome.fa", "mapped/{sample}.bam"]
command = [
    "python3", "-c", "import json, sys; open('argv.jsonl', 'a').write(json.dumps(sys.argv[1:]) + chr(10))", "{inputs}",
]

[[stages]]
name = "call_shell"
needs = ["map"]
over = []
shell = true
inputs = ["genome.fa", "mapped/{sample}.bam"]
command = "echo {inputs} >> shell.txt"
"""


def test_a_shared_input_is_passed_once_and_still_watched(tmp_path: Path) -> None:
    (tmp_path / "genome.fa").write_text(">chr1\nACGT\n")
    cfg = write_config(tmp_path, CONFIG)
    ran = coopy("run", str(cfg), cwd=tmp_path, timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    calls = [json.loads(line) for line in (tmp_path / "argv.jsonl").read_text().splitlines()]
    assert calls == [["genome.fa", "mapped/A.bam", "mapped/B.bam", "mapped/C.bam"]]
    assert (tmp_path / "shell.txt").read_text().split() == ["genome.fa", "mapped/A.bam", "mapped/B.bam", "mapped/C.bam"]

    plan = coopy("plan", str(cfg), cwd=tmp_path)
    assert "0 run(s) would run" in plan.stdout, plan.stdout
    (tmp_path / "genome.fa").write_text(">chr1\nACGTT\n")
    plan = coopy("plan", str(cfg), cwd=tmp_path)
    assert "genome.fa" in plan.stdout, plan.stdout
    again = coopy("run", str(cfg), cwd=tmp_path, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len((tmp_path / "argv.jsonl").read_text().splitlines()) == 2  # the fan-in ran once more
