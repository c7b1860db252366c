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

from coopy_core.gpus.pool import GpuPlan

Allocation = dict[str, list[str] | float]  # pool -> ids held, or amount held
PoolSpec = Sequence[int | str] | int | float
GPU_MEM = "gpu_mem_gb"  # in a request: not a pool, the memory each of the run's GPUs must have free


@dataclass
class Pool:
    name: str
    ids: list[str] | None  # None: an amount pool
    capacity: float
    held: dict[object, list[str] | float] = field(default_factory=dict)
    plan: GpuPlan | None = None  # GPUs read from NVML: packed by memory, others' processes seen

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

    def can_take(self, amount: float, mem_mb: float | None = None) -> bool:
        if self.ids is not None:
            return len(self.fitting_ids(mem_mb)) >= amount
        return self.used + amount <= self.capacity + 1e-9

    def fitting_ids(self, mem_mb: float | None) -> list[str]:
        if self.plan is None:
            return self.free_ids()
        return [i for i in (self.ids or []) if self.plan.fits(i, self.held, mem_mb)]

    def take(self, key: object, amount: float, mem_mb: float | None = None) -> list[str] | float:
        got: list[str] | float = self.fitting_ids(mem_mb)[: int(amount)] if self.ids is not None else amount
        self.held[key] = got
        if self.plan is not None and mem_mb is not None:
            self.plan.mem[key] = mem_mb
        return got

    def spec(self) -> list[str] | float:
        return list(self.ids) if self.ids is not None else self.capacity


class Pools:
    def __init__(self, specs: Mapping[str, PoolSpec], gpu_others: str | None = None) -> None:
        self.pools = {name: Pool.from_spec(name, spec) for name, spec in specs.items()}
        self.gpu_plan = GpuPlan(gpu_others) if gpu_others is not None and "gpus" in self.pools else None
        if self.gpu_plan is not None:
            self.pools["gpus"].plan = self.gpu_plan

    def __bool__(self) -> bool:
        return bool(self.pools)

    def can_serve(self, request: Mapping[str, float]) -> bool:
        mem = _mem_mb(request)
        return all(self.pools[name].can_take(amount, mem) for name, amount in request.items() if name != GPU_MEM)

    def allocate(self, key: object, request: Mapping[str, float]) -> Allocation | None:
        """What `key` gets; None when another pipeline claimed the same GPU at the same moment (nothing taken)."""
        mem = _mem_mb(request)
        got = {name: self.pools[name].take(key, amount, mem) for name, amount in request.items() if name != GPU_MEM}
        if GPU_MEM in request:
            got[GPU_MEM] = float(request[GPU_MEM])  # kept with the run: a restart reserves it again
        gpus = got.get("gpus")
        if self.gpu_plan is not None and isinstance(gpus, list) and not self.gpu_plan.claim(key, gpus, self.held_gpus):
            self.release(key)
            return None
        return got

    @property
    def held_gpus(self) -> dict[object, list[str] | float]:
        return self.pools["gpus"].held

    def waiting_for(self, request: Mapping[str, float]) -> str | None:
        """What a run asking for GPUs waits for, when it is GPUs it waits for (None otherwise)."""
        pool = self.pools.get("gpus")
        if "gpus" not in request or pool is None or pool.can_take(request["gpus"], _mem_mb(request)):
            return None
        if pool.plan is None:
            return f"waiting for {request['gpus']:g} free GPU(s)"
        return pool.plan.why_not(pool.ids or [], pool.held, _mem_mb(request))

    def restore(self, key: object, allocation: Mapping[str, list[str] | float]) -> None:
        """Re-adopted runs keep what they held before the restart."""
        for name, got in allocation.items():
            if name in self.pools:
                self.pools[name].held[key] = got
        mem = allocation.get(GPU_MEM)
        if self.gpu_plan is not None and isinstance(mem, int | float):
            self.gpu_plan.mem[key] = float(mem) * 1024
        self.reclaim(key)

    def reclaim(self, key: object) -> None:
        """A re-adopted run's GPUs are claimed machine-wide again (the claims of the engine before are dead)."""
        plan, gpus = self.gpu_plan, self.pools["gpus"].held.get(key) if "gpus" in self.pools else None
        if plan is None or plan.leases is None or plan.states is None or not isinstance(gpus, list):
            return
        for gpu in gpus:
            state = plan.states.get(gpu)
            if state is not None and not any(m == (key, state.uuid) for m in plan.leases.mine):
                plan.leases.claim(key, state.uuid, plan.mem.get(key))

    def release(self, key: object) -> None:
        for pool in self.pools.values():
            pool.held.pop(key, None)
        if self.gpu_plan is not None:
            self.gpu_plan.mem.pop(key, None)
            if self.gpu_plan.leases is not None:
                self.gpu_plan.leases.drop(key)

    def resize(self, name: str, spec: PoolSpec) -> None:
        old = self.pools[name]
        new = Pool.from_spec(name, spec)
        if (old.ids is None) != (new.ids is None):
            kind = "a list of ids" if old.ids is not None else "an amount"
            raise ValueError(f"pool {name!r} is {kind}; give it {kind} again")
        new.held = old.held
        new.plan = old.plan
        self.pools[name] = new

    def view(self) -> dict[str, dict[str, object]]:
        views: dict[str, dict[str, object]] = {
            name: {"size": p.spec(), "used": p.used, "capacity": p.capacity, "free": p.free_ids() if p.ids else None}
            for name, p in self.pools.items()
        }
        if self.gpu_plan is not None and self.gpu_plan.states is not None:  # what NVML showed at the last look
            gpus = self.pools["gpus"]
            views["gpus"]["free"] = gpus.fitting_ids(None)
            views["gpus"]["gpus"] = self.gpu_plan.describe(gpus.ids or [], gpus.held)
        return views


def _mem_mb(request: Mapping[str, float]) -> float | None:
    mem = request.get(GPU_MEM)
    return float(mem) * 1024 if mem is not None else None


def environment(allocation: Mapping[str, list[str] | float]) -> dict[str, str]:
    """What a run sees of its allocation: CUDA_VISIBLE_DEVICES and COOPY_GPUS for GPUs, COOPY_<POOL> else.
    CUDA_DEVICE_ORDER=PCI_BUS_ID makes CUDA's numbering NVML's (and nvidia-smi's), which the ids are in."""
    env: dict[str, str] = {}
    for name, got in allocation.items():
        text = ",".join(got) if isinstance(got, list) else f"{got:g}"
        env[f"COOPY_{name.upper()}"] = text
        if name == "gpus":
            env["CUDA_VISIBLE_DEVICES"] = text
            env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
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
