"""Which GPU a run fits on, from what NVML last showed and what CooPy reserved (pure: no NVML call here).

A run without `gpu_mem_gb` takes whole GPUs, as before. A run with it shares a GPU while the memory others use
(per `gpu_others`) plus CooPy's reservations plus its own declaration fit in the GPU's memory. A run's
declaration is reserved from its start to its end, before its process allocates anything, so two runs that
start together never both land on a GPU that fits one; when NVML shows a run using more, the larger counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from coopy_core.gpus.leases import Lease, Leases, safe

OTHERS = ("avoid", "share", "ignore")


@dataclass(frozen=True, slots=True)
class GpuState:
    """One GPU of the pool as the last poll saw it: MiB; `foreign` are processes no run of ours started."""

    total_mb: float
    foreign: tuple[tuple[int, float], ...] = ()
    ours: Mapping[object, float] = field(default_factory=dict)  # run key -> MiB its processes use
    label: str = ""
    uuid: str = ""


@dataclass
class GpuPlan:
    """The GPU pool's packing state: `held` is the pool's (key -> ids), `mem` the declared MiB per GPU."""

    others: str
    states: dict[str, GpuState] | None = None  # id -> state; None: no NVML (whole GPUs, as before)
    mem: dict[object, float] = field(default_factory=dict)
    leases: Leases | None = None  # other pipelines' claims, machine-wide (gpus/leases.py)
    leased: list[Lease] = field(default_factory=list)  # the live claims of other engines, as last read

    def fits(
        self,
        gpu: str,
        held: Mapping[object, list[str] | float],
        mem_mb: float | None,
        leased: list[Lease] | None = None,
    ) -> bool:
        holders = [k for k, v in held.items() if isinstance(v, list) and gpu in v]
        state = self.states.get(gpu) if self.states is not None else None
        claims = self.claims_on(gpu, self.leased if leased is None else leased)
        if mem_mb is None or self.states is None:  # a whole GPU
            foreign_ok = state is None or self.others == "ignore" or not state.foreign
            return not holders and not claims and foreign_ok
        if state is None or any(k not in self.mem for k in holders) or any(c.mem_mb is None for c in claims):
            return False  # not seen by NVML, or held whole (by a run of ours or of another pipeline)
        if self.others == "avoid" and state.foreign:
            return False
        leased_mb = sum(c.mem_mb or 0.0 for c in claims)
        return self.used_mb(gpu, holders) + leased_mb + mem_mb <= state.total_mb + 1e-6

    def claims_on(self, gpu: str, leased: list[Lease]) -> list[Lease]:
        state = self.states.get(gpu) if self.states is not None else None
        return [c for c in leased if state is not None and c.gpu == safe(state.uuid)]

    def claim(self, key: object, gpus: list[str], held: Mapping[object, list[str] | float]) -> bool:
        """Claim the GPUs just given to `key` machine-wide; False (claims withdrawn) when another engine's
        claim written at the same moment or earlier leaves no room for it (that engine keeps the GPU)."""
        if self.leases is None or self.states is None:
            return True
        mem = self.mem.get(key)
        written = {}
        for gpu in gpus:
            state = self.states.get(gpu)
            path = self.leases.claim(key, state.uuid, mem) if state is not None else None
            if path is not None:
                written[gpu] = self.leases.written_ns(path)
        if not written:
            return True
        self.leased = self.leases.others()
        others = {k: v for k, v in held.items() if k != key}
        for gpu, at in written.items():
            earlier = [c for c in self.leased if c.written_ns <= at]
            if not self.fits(gpu, others, mem, earlier):
                self.leases.drop(key)
                return False
        return True

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
            claims = self.claims_on(gpu, self.leased)
            if claims:
                whole = any(c.mem_mb is None for c in claims)
                size = "a whole GPU" if whole else f"{sum(c.mem_mb or 0.0 for c in claims) / 1024:g} GB"
                what.append(f"{len(claims)} run(s) of another CooPy pipeline ({size})")
            if state is not None and mem_mb is not None and not what:
                what.append(f"{(state.total_mb - self.used_mb(gpu, holders)) / 1024:g} GB free")
            parts.append(f"gpu{gpu} used by {', '.join(what)}" if what else f"gpu{gpu} free")
        return f"waiting for {want}: " + "; ".join(parts)

    def describe(self, ids: list[str], held: Mapping[object, list[str] | float]) -> list[str]:
        """One line per GPU as the last look saw it (the TUI's pools screen): others, CooPy, free, the runs."""
        lines = []
        for gpu in ids:
            state = self.states.get(gpu) if self.states is not None else None
            if state is None:
                continue
            holders = [k for k, v in held.items() if isinstance(v, list) and gpu in v]
            others = sum(mb for _, mb in state.foreign)
            ours = sum(max(self.mem.get(k, state.total_mb), state.ours.get(k, 0.0)) for k in holders)
            leased = sum(c.mem_mb if c.mem_mb is not None else state.total_mb for c in self.claims_on(gpu, self.leased))
            free = max(0.0, state.total_mb - others - ours - leased)
            runs = ", ".join("/".join(map(str, k)) if isinstance(k, tuple) else str(k) for k in holders) or "-"
            pipelines = f", other pipelines {leased / 1024:.1f}" if leased else ""
            lines.append(
                f"gpu{gpu} {state.label}: {free / 1024:.1f} of {state.total_mb / 1024:.1f} GB free; "
                f"others {others / 1024:.1f}, coopy {ours / 1024:.1f}{pipelines}; {runs}"
            )
        return lines
