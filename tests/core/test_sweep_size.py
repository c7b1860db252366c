"""How many configurations a sweep may have: what memory allows, not a fixed 100,000."""

from __future__ import annotations

import subprocess
from pathlib import Path

from coopy_core.config.capacity import engine_too_big, unreadable
from tests.helpers.cli import coopy, coopy_argv
from tests.helpers.engine import BEYOND_MEMORY, TWO_SLEEPING, write_config
from tests.helpers.machine import memory_limited


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
    assert unreadable(100_000, available=0) is None, "valid before the check existed: valid still"
    assert engine_too_big(100_000, 500_000, available=0) is None
    assert unreadable(1_000_000, available=gib) is None
    why = unreadable(10_000_000, available=2 * gib)
    assert why == (
        "10000000 configurations, which need about 4.9 GB of memory to read; "
        "this machine has 2 GB available (leave some out, or split the sweep)"
    )
    assert engine_too_big(1_000_000, 3_000_000, available=4 * gib) is None
    why = engine_too_big(1_000_000, 3_000_000, available=2 * gib)
    assert why is not None and why.startswith("1000000 configurations make 3000000 runs: the engine would need")


def test_an_engine_that_would_not_fit_in_its_cgroup_is_refused_before_it_starts(tmp_path: Path) -> None:
    """200,002 configurations x 3 stages (600,006 runs, ~590 MB for the engine) under a real 450 MB cgroup:
    `coopy validate` and `coopy run` refuse it in one line naming tasks.matrix; nothing runs. Unlimited, the
    same file is fine."""
    values = ", ".join(str(i) for i in range(100_001))
    stages = "".join(f'[[stages]]\nname = "s{k}"\ncommand = ["touch", "ran"]\n' for k in range(3))
    write_config(tmp_path, f"[tasks.matrix]\ni = [{values}]\nj = [0, 1]\n{stages}")
    assert coopy("validate", "coopy.toml", cwd=tmp_path, timeout=120).returncode == 0
    with memory_limited(450 * 2**20) as inside:
        for verb in ("validate", "run"):
            out = subprocess.run(
                [*inside, *coopy_argv(), verb, "coopy.toml"], cwd=tmp_path, capture_output=True, text=True, timeout=300
            )
            assert out.returncode == 2, (verb, out.stdout, out.stderr)
            assert (
                out.stderr.count("\n") == 1
                and "coopy.toml: tasks.matrix: 200002 configurations make 600006 runs" in out.stderr
            )
            assert "this machine has" in out.stderr
    assert not (tmp_path / "ran").exists(), "nothing ran"


def test_status_of_a_live_engine_does_not_expand_the_configurations(tmp_path: Path) -> None:
    """`coopy status` asks the running engine for its summary without expanding the file's configurations
    (a million take seconds): shown even when the file now names more than memory holds."""
    write_config(tmp_path, TWO_SLEEPING)
    assert coopy("run", "--detach", "coopy.toml", cwd=tmp_path).returncode == 0
    try:
        write_config(tmp_path, BEYOND_MEMORY)
        live = coopy("status", "coopy.toml", cwd=tmp_path)
        assert live.returncode == 0, live.stderr
        assert "2 configurations; engine running" in live.stdout
        full = coopy("status", "coopy.toml", "--json", cwd=tmp_path)  # every run: the file is read in full
        assert full.returncode == 2 and "tasks.matrix" in full.stderr and "memory" in full.stderr
    finally:
        write_config(tmp_path, TWO_SLEEPING)
        assert coopy("stop", "coopy.toml", "--stop-running", cwd=tmp_path).returncode == 0
