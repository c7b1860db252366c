"""A run starts with every signal at its default, as it would from a terminal: the engine is a Python process,
which ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across exec (a shell cannot even undo
it). With SIGPIPE ignored, `yes | head -n 1` prints "Broken pipe" errors and the writer fails instead of
ending quietly."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.cli import coopy
from tests.helpers.engine import one_stage

# `yes` ends quietly by SIGPIPE once head has gone; the run's own mask of ignored signals goes to the log
PIPE = '["sh", "-c", "yes | head -n 1; grep SigIgn /proc/self/status"]'


def test_a_run_starts_with_sigpipe_at_its_default(tmp_path: Path) -> None:
    cfg = one_stage(tmp_path, PIPE)
    out = coopy("run", str(cfg), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    (log,) = (tmp_path / ".coopy" / "logs" / "s").glob("*.log")
    text = log.read_text()
    assert "Broken pipe" not in text
    assert text.splitlines()[0] == "y"
    ignored = int(next(line for line in text.splitlines() if line.startswith("SigIgn:")).split()[1], 16)
    assert not ignored & (1 << (13 - 1)), f"SIGPIPE ignored in the run: {text!r}"
    assert not ignored & (1 << (25 - 1)), f"SIGXFSZ ignored in the run: {text!r}"
