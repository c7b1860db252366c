"""Which GPU a run fits on, from what NVML last showed and what CooPy reserved (pure: no NVML call here).

A run without `gpu_mem_gb` takes whole GPUs, as before. A run with it shares a GPU while the memory others use
(per `gpu_others`) plus CooPy's reservations plus its own declaration fit in the GPU's memory. A run's
declaration is reserved from its start to its end, before its process allocates anything, so two runs that
start together never both land on a GPU that fits one; when NVML shows a run using more, the larger counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

OTHERS = ("avoid", "share", "ignore")


@dataclass(frozen=True, slots=True)
class GpuState:
    """One GPU of the pool as the last poll saw it: MiB; `foreign` are processes no run of ours started."""

    total_mb: float
    foreign: tuple[tuple[int, float], ...] = ()
    ours: Mapping[object, float] = field(default_factory=dict)  # run key -> MiB its processes use
    label: str = ""


@dataclass
class GpuPlan:
    """The GPU pool's packing state: `held` is the pool's (key -> ids), `mem` the declared MiB per GPU."""

    others: str
    states: dict[str, GpuState] | None = None  # id -> state; None: no NVML (whole GPUs, as before)
    mem: dict[object, float] = field(default_factory=dict)

    def fits(self, gpu: str, held: Mapping[object, list[str] | float], mem_mb: float | None) -> bool:
        holders = [k for k, v in held.items() if isinstance(v, list) and gpu in v]
        state = self.states.get(gpu) if self.states is not None else None
        if mem_mb is None or self.states is None:  # a whole GPU
            return not holders and (state is None or self.others == "ignore" or not state.foreign)
        if state is None or any(k not in self.mem for k in holders):
            return False  # not seen by NVML, or held whole
        if self.others == "avoid" and state.foreign:
            return False
        return self.used_mb(gpu, holders) + mem_mb <= state.total_mb + 1e-6

    def used_mb(self, gpu: str, holders: list[object]) -> float:
        """Others' memory (as `gpu_others` counts it) plus what CooPy's runs on it reserved or use."""
        state = self.states.get(gpu) if self.states is not None else None
        if state is None:
            return 0.0
        others = sum(mb for _, mb in state.foreign) if self.others != "ignore" else 0.0
        return others + sum(max(self.mem.get(k, 0.0), state.ours.get(k, 0.0)) for k in holders)

    def why_not(self, ids: list[str], held: Mapping[object, list[str] | float], mem_mb: float | None) -> str:
        """What a waiting run waits for, in one line."""
        want = f"a GPU with {mem_mb / 1024:g} GB free" if mem_mb is not None and self.states else "a free GPU"
        parts = []
        for gpu in ids:
            holders = [k for k, v in held.items() if isinstance(v, list) and gpu in v]
            state = self.states.get(gpu) if self.states is not None else None
            what = []
            if state is not None and state.foreign and self.others != "ignore":
                what += [f"pid {pid} (another user, {mb / 1024:g} GB)" for pid, mb in state.foreign[:3]]
            if holders:
                what.append(f"{len(holders)} run(s) of this pipeline")
            if state is not None and mem_mb is not None and not what:
                what.append(f"{(state.total_mb - self.used_mb(gpu, holders)) / 1024:g} GB free")
            parts.append(f"gpu{gpu} used by {', '.join(what)}" if what else f"gpu{gpu} free")
        return f"waiting for {want}: " + "; ".join(parts)
