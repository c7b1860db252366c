"""Two engines claiming one GPU at the same moment (real lease files, two live processes' identities): the later
claim withdraws, so the GPU is never kept by both."""

from __future__ import annotations

import os
from pathlib import Path

from coopy_core.gpus.leases import Leases, start_time
from coopy_core.gpus.pool import GpuPlan, GpuState


def engine(folder: Path, pid: int) -> GpuPlan:
    """An engine's GPU plan as `pid` (a live process) would hold it: one GPU of 30 GB, nothing on it."""
    leases = Leases(folder)
    leases.pid, leases.start = pid, start_time(pid) or 0
    return GpuPlan("avoid", {"0": GpuState(30 * 1024, uuid="GPU-x")}, leases=leases)


def give(plan: GpuPlan, key: str) -> dict[object, list[str] | float]:
    """What Pools.allocate does for a 20 GB run before it claims: the GPU held, the memory reserved."""
    plan.mem[key] = 20 * 1024
    return {key: ["0"]}


def test_the_later_of_two_claims_withdraws(tmp_path: Path) -> None:
    a, b = engine(tmp_path, os.getpid()), engine(tmp_path, os.getppid())
    held_a, held_b = give(a, "a"), give(b, "b")
    assert a.leases is not None and b.leases is not None
    path_a = a.leases.claim("a", "GPU-x", a.mem["a"])  # a writes first, and has not looked yet
    assert path_a is not None
    assert not b.claim("b", ["0"], held_b)  # b writes, looks, sees a's earlier claim: withdraws
    assert [p.name for p in tmp_path.iterdir()] == [path_a.name]
    a.leases.drop("a")
    assert a.claim("a", ["0"], held_a)  # alone: kept
