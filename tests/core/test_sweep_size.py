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


def test_status_of_a_live_engine_does_not_expand_the_configurations(tmp_path: Path) -> None:
    """`coopy status` asks the running engine for its summary without expanding the file's configurations
    (a million take seconds): shown even when the file now names more than memory holds."""
    small = """
        [tasks.matrix]
        i = [0, 1]
        [[stages]]
        name = "s"
        command = ["sleep", "60"]
        """
    write_config(tmp_path, small)
    assert coopy("run", "--detach", "coopy.toml", cwd=tmp_path).returncode == 0
    try:
        huge = small.replace("i = [0, 1]", "\n".join(f"p{k} = {list(range(10))}" for k in range(9)))
        write_config(tmp_path, huge)
        live = coopy("status", "coopy.toml", cwd=tmp_path)
        assert live.returncode == 0, live.stderr
        assert "2 configurations; engine running" in live.stdout
        full = coopy("status", "coopy.toml", "--json", cwd=tmp_path)  # every run: the file is read in full
        assert full.returncode == 2 and "tasks.matrix" in full.stderr and "memory" in full.stderr
    finally:
        write_config(tmp_path, small)
        assert coopy("stop", "coopy.toml", "--stop-running", cwd=tmp_path).returncode == 0
