"""What each run used of its GPUs, from the looks at NVML (watch.GpuWatch): `gpu_mem_peak_gb`, the most memory
NVML showed for the run's processes, and `gpu_energy_j`, its share of the GPUs' total-energy counters.

The energy rule: between two looks, a GPU's counter grew by E; E is split between the runs of this pipeline
on it and the other processes on it in proportion to their memory (a run: the larger of what it declared and
what it uses; a whole-GPU run: the GPU's memory; another process: what it uses). Others' shares are counted
for no one. If no one has memory to weigh, CooPy's runs on it share E equally. A run's first look starts
its count (up to one poll_interval of its start is not counted)."""

from __future__ import annotations

from collections.abc import Mapping

from coopy_core.gpus.nvml import GpuSeen
from coopy_core.gpus.pool import GpuPlan

MB_PER_GB = 1024.0


class GpuAccounting:
    def __init__(self) -> None:
        self.peak_mb: dict[object, float] = {}
        self.energy_mj: dict[object, float] = {}
        self._last_counter: dict[str, int] = {}  # GPU id -> its counter at the previous look

    def observe(
        self, seen: list[GpuSeen], plan: GpuPlan, held: Mapping[object, list[str] | float]
    ) -> dict[object, dict[str, float]]:
        """One look: the runs whose numbers changed, with their metrics now."""
        by_id = {str(g.index): g for g in seen} | {g.uuid: g for g in seen}
        changed: dict[object, dict[str, float]] = {}
        live = {k for k, v in held.items() if isinstance(v, list)}
        for key in list(self.peak_mb):
            if key not in live:  # ended: its numbers went with its end
                self.peak_mb.pop(key, None)
                self.energy_mj.pop(key, None)
        for gpu, state in (plan.states or {}).items():
            holders = [k for k in live if gpu in held[k]]  # type: ignore[operator]
            for key in holders:
                used = state.ours.get(key, 0.0)
                if key not in self.peak_mb or used > self.peak_mb[key]:
                    self.peak_mb[key] = max(used, self.peak_mb.get(key, 0.0))
                    changed.setdefault(key, {})
            g = by_id.get(gpu)
            counter = g.energy_mj if g is not None else None
            before = self._last_counter.get(gpu)
            if counter is None:
                continue
            self._last_counter[gpu] = counter
            if before is None or counter < before or not holders:
                continue
            grew = counter - before
            weights = {k: plan.mem.get(k, state.total_mb) for k in holders}
            weights = {k: max(w, state.ours.get(k, 0.0)) for k, w in weights.items()}
            others = sum(mb for _, mb in state.foreign)
            total = sum(weights.values()) + others
            for key, weight in weights.items():
                share = grew * weight / total if total > 0 else grew / len(holders)
                if share:
                    self.energy_mj[key] = self.energy_mj.get(key, 0.0) + share
                    changed.setdefault(key, {})
        for key, values in changed.items():
            values["gpu_mem_peak_gb"] = round(self.peak_mb.get(key, 0.0) / MB_PER_GB, 3)
            if key in self.energy_mj:
                values["gpu_energy_j"] = round(self.energy_mj[key] / 1000.0, 3)
        return changed
