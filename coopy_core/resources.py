"""Resource pools (GPU ids, CPU counts, memory): what a run must hold besides a worker slot.

A pool is either a list of ids (GPUs: a run gets specific ids, passed to it as CUDA_VISIBLE_DEVICES)
or an amount (mem_gb = 64: a run takes a share). Pools can be resized while the pipeline runs;
allocations already made are kept, so a shrunken pool may be over-committed until they end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

Allocation = dict[str, list[str] | float]  # pool -> ids held, or amount held
PoolSpec = Sequence[int | str] | int | float


@dataclass
class Pool:
    name: str
    ids: list[str] | None  # None: an amount pool
    capacity: float
    held: dict[object, list[str] | float] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, name: str, spec: PoolSpec) -> Pool:
        if isinstance(spec, int | float):
            return cls(name, None, float(spec))
        ids = [str(i) for i in spec]
        return cls(name, ids, float(len(ids)))

    @property
    def used(self) -> float:
        return sum(len(v) if isinstance(v, list) else v for v in self.held.values())

    def free_ids(self) -> list[str]:
        taken = {i for v in self.held.values() if isinstance(v, list) for i in v}
        return [i for i in (self.ids or []) if i not in taken]

    def can_take(self, amount: float) -> bool:
        if self.ids is not None:
            return len(self.free_ids()) >= amount
        return self.used + amount <= self.capacity + 1e-9

    def take(self, key: object, amount: float) -> list[str] | float:
        got: list[str] | float = self.free_ids()[: int(amount)] if self.ids is not None else amount
        self.held[key] = got
        return got

    def spec(self) -> list[str] | float:
        return list(self.ids) if self.ids is not None else self.capacity


class Pools:
    def __init__(self, specs: Mapping[str, PoolSpec]) -> None:
        self.pools = {name: Pool.from_spec(name, spec) for name, spec in specs.items()}

    def __bool__(self) -> bool:
        return bool(self.pools)

    def can_serve(self, request: Mapping[str, float]) -> bool:
        return all(self.pools[name].can_take(amount) for name, amount in request.items())

    def allocate(self, key: object, request: Mapping[str, float]) -> Allocation:
        return {name: self.pools[name].take(key, amount) for name, amount in request.items()}

    def restore(self, key: object, allocation: Mapping[str, list[str] | float]) -> None:
        """Re-adopted runs keep what they held before the restart."""
        for name, got in allocation.items():
            if name in self.pools:
                self.pools[name].held[key] = got

    def release(self, key: object) -> None:
        for pool in self.pools.values():
            pool.held.pop(key, None)

    def resize(self, name: str, spec: PoolSpec) -> None:
        old = self.pools[name]
        new = Pool.from_spec(name, spec)
        if (old.ids is None) != (new.ids is None):
            kind = "a list of ids" if old.ids is not None else "an amount"
            raise ValueError(f"pool {name!r} is {kind}; give it {kind} again")
        new.held = old.held
        self.pools[name] = new

    def view(self) -> dict[str, dict[str, object]]:
        return {
            name: {"size": p.spec(), "used": p.used, "capacity": p.capacity, "free": p.free_ids() if p.ids else None}
            for name, p in self.pools.items()
        }


def environment(allocation: Mapping[str, list[str] | float]) -> dict[str, str]:
    """What a run sees of its allocation: CUDA_VISIBLE_DEVICES and COOPY_GPUS for GPUs, COOPY_<POOL> else."""
    env: dict[str, str] = {}
    for name, got in allocation.items():
        text = ",".join(got) if isinstance(got, list) else f"{got:g}"
        env[f"COOPY_{name.upper()}"] = text
        if name == "gpus":
            env["CUDA_VISIBLE_DEVICES"] = text
    return env


def detect_gpus() -> list[str]:
    """GPU ids from CUDA_VISIBLE_DEVICES, else from `nvidia-smi -L`; empty when there are none."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(out.stdout.splitlines()) if line.startswith("GPU ")]
