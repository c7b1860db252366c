"""One look at NVML through NVIDIA's own binding (`nvidia-ml-py`, the `gpu` extra), which loads
`libnvidia-ml.so.1` through the dynamic loader. Every call is fast (no GPU work); the engine makes them in one
place per poll (`watch.GpuWatch`), never per pick."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class GpuSeen:
    """One GPU at one moment: memory in MiB, each compute process's pid and MiB, energy in mJ (None: unknown)."""

    index: int
    uuid: str
    name: str
    total_mb: float
    processes: tuple[tuple[int, float], ...] = field(default_factory=tuple)
    energy_mj: int | None = None


class NvmlMissing(Exception):
    """No NVML here: the `gpu` extra is not installed, or no driver / library answers."""


def _binding() -> Any:
    try:
        import pynvml  # the `gpu` extra (nvidia-ml-py); lazily: only configs with the GPU keys need it
    except ImportError:
        raise NvmlMissing("nvidia-ml-py is not installed (pip install 'coopy[gpu]')") from None
    return pynvml


_initialised = False


def read() -> list[GpuSeen]:
    """Every GPU NVML sees, in NVML's order (PCI bus order). Raises NvmlMissing when NVML cannot answer."""
    global _initialised
    nv = _binding()
    try:
        if not _initialised:
            nv.nvmlInit()
            _initialised = True
        seen = []
        for index in range(nv.nvmlDeviceGetCount()):
            handle = nv.nvmlDeviceGetHandleByIndex(index)
            try:
                energy: int | None = int(nv.nvmlDeviceGetTotalEnergyConsumption(handle))
            except nv.NVMLError:
                energy = None  # older GPUs have no energy counter
            processes = tuple(
                (int(p.pid), (p.usedGpuMemory or 0) / MIB) for p in nv.nvmlDeviceGetComputeRunningProcesses(handle)
            )
            seen.append(
                GpuSeen(
                    index=index,
                    uuid=_text(nv.nvmlDeviceGetUUID(handle)),
                    name=_text(nv.nvmlDeviceGetName(handle)),
                    total_mb=nv.nvmlDeviceGetMemoryInfo(handle).total / MIB,
                    processes=processes,
                    energy_mj=energy,
                )
            )
        return seen
    except nv.NVMLError as exc:
        _initialised = False
        raise NvmlMissing(f"NVML does not answer ({exc})") from None


def _text(value: str | bytes) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
