"""`coopy run --until STAGE` runs STAGE and the stages it needs, directly or not, and nothing else; it says at the
end which stages wait, exits 0 when what it ran passed, and the next plain `coopy run` runs the rest (and not
again what ran). Each execution appends one line to `marks`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.helpers.cli import coopy
from tests.helpers.engine import write_config

CONFIG = """
[pipeline]
poll_interval = 0.2
[tasks.matrix]
i = [0, 1]
[[stages]]
name = "s"
workers = 2
command = ["sh", "-c", "echo s$0 >> marks", "{i}"]
[[stages]]
name = "t"
needs = ["s"]
command = ["sh", "-c", "echo t$0 >> marks", "{i}"]
[[stages]]
name = "u"
needs = ["t"]
over = []
command = ["sh", "-c", "echo u >> marks"]
[[stages]]
name = "v"
command = ["sh", "-c", "echo v$0 >> marks", "{i}"]
"""


def _marks(tmp_path: Path) -> Counter[str]:
    return Counter((tmp_path / "marks").read_text().split())


def test_until_runs_the_stage_and_what_it_needs_only(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, CONFIG)
    out = coopy("run", "--until", "t", str(cfg), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert _marks(tmp_path) == Counter({"s0": 1, "s1": 1, "t0": 1, "t1": 1})
    assert "--until t: not run this time: u (1 run), v (2 runs)" in out.stdout, out.stdout
    held = [line.split()[0] for line in out.stdout.splitlines() if line.endswith("(not run: --until)")]
    assert held == ["u", "v"], out.stdout

    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 0
    assert _marks(tmp_path) == Counter({"s0": 1, "s1": 1, "t0": 1, "t1": 1, "u": 1, "v0": 1, "v1": 1})


def test_until_an_unknown_stage_starts_nothing(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, CONFIG)
    out = coopy("run", "--until", "nope", str(cfg), cwd=tmp_path)
    assert out.returncode == 2
    assert "--until: no stage named 'nope'" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "marks").exists()
