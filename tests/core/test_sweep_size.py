"""How many configurations a sweep may have: what memory allows, not a fixed 100,000."""

from __future__ import annotations

from pathlib import Path

from coopy_core.config.capacity import needed_bytes, too_many
from tests.helpers.cli import coopy
from tests.helpers.engine import write_config


def test_a_sweep_past_the_old_limit_is_accepted(tmp_path: Path) -> None:
    values = ", ".join(str(i) for i in range(100_001))
    write_config(
        tmp_path,
        f"""
        [tasks.matrix]
        i = [{values}]
        j = [0, 1]
        [[stages]]
        name = "s"
        command = ["true"]
        """,
    )
    out = coopy("validate", "coopy.toml", cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ok: 200002 configurations" in out.stdout
    assert not (tmp_path / ".coopy").exists(), "validate writes nothing"


def test_a_sweep_the_memory_cannot_hold_is_refused_with_what_it_needs() -> None:
    gib = 2**30
    assert too_many(1_000_000, 1, available=4 * gib) is None
    why = too_many(1_000_000, 3, available=2 * gib)
    assert why is not None
    assert why.startswith("1000000 configurations x 3 stage(s): the engine would need about 4.4 GB of memory")
    assert "this machine has 2 GB available" in why
    assert needed_bytes(1_000_000, 3) > 3 * needed_bytes(1_000_000, 1) - needed_bytes(0, 1) * 3
