"""`[resources] gpus = "auto"`, `gpu_others` and a stage's `gpu_mem_gb`: the GPU keys of issue 25.

A config without them means what it meant before (static ids, whole GPUs, NVML never loaded). With any of
them the GPU pool is NVML's: `auto` is every GPU it sees (ids are NVML's indices), a list of indices or UUIDs
is kept as written, and `gpu_others` (default "avoid") says how other people's processes count."""

from __future__ import annotations

from dataclasses import dataclass

from coopy_core.config.messages import show
from coopy_core.config.models import ConfigFile
from coopy_core.errors import ConfigError
from coopy_core.gpus.pool import OTHERS
from coopy_core.resources import GPU_MEM


@dataclass(frozen=True)
class GpuKeys:
    ids: list[str] | None  # "auto" resolved (None: the pool as the config wrote it)
    others: str | None  # None: the GPU keys are not used
    note: str = ""


def check_gpus(parsed: ConfigFile, shown: str) -> GpuKeys:
    resources = parsed.resources
    others = resources.get("gpu_others")
    if others is not None and others not in OTHERS:
        raise ConfigError(shown, "resources.gpu_others", f"should be one of {', '.join(OTHERS)}, got {show(others)}")
    spec = resources.get("gpus")
    if isinstance(spec, str) and spec != "auto":
        raise ConfigError(shown, "resources.gpus", f'should be "auto" or a list of GPU indices or UUIDs, got {spec!r}')
    for name, value in resources.items():
        if isinstance(value, str) and name not in ("gpus", "gpu_others"):
            raise ConfigError(shown, f"resources.{name}", f"should be a number or a list of ids, got {value!r}")
    for i, stage in enumerate(parsed.stages):
        if GPU_MEM in stage.resources and "gpus" not in stage.resources:
            raise ConfigError(shown, f"stages[{i}].resources.{GPU_MEM}", "needs gpus = N beside it (GPUs per run)")
    asks_mem = any(GPU_MEM in s.resources for s in parsed.stages)
    if spec != "auto" and others is None and not asks_mem:
        return GpuKeys(None, None)
    from coopy_core.gpus.nvml import NvmlMissing, read

    try:
        seen = read()
    except NvmlMissing as exc:
        if spec != "auto":
            return GpuKeys(None, None, f"{exc}: gpu_mem_gb means a whole GPU")
        from coopy_core.resources import detect_gpus

        found = detect_gpus()
        note = f'{exc}: gpus = "auto" found {len(found)} GPU(s) by CUDA_VISIBLE_DEVICES / nvidia-smi'
        return GpuKeys(found, None, note + (" (gpu_mem_gb means a whole GPU)" if asks_mem else ""))
    ids = [str(g.index) for g in seen] if spec in ("auto", None) else None
    if isinstance(spec, list):
        known = {str(g.index) for g in seen} | {g.uuid for g in seen}
        unknown = [str(i) for i in spec if str(i) not in known]
        if unknown:
            raise ConfigError(shown, "resources.gpus", f"NVML sees no GPU {', '.join(unknown)} (indices or UUIDs)")
    return GpuKeys(ids, str(others or "avoid"))
