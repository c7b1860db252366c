"""The fake NVML (fake_nvml.c) built with gcc into a folder as libnvidia-ml.so.1, and its state file: what the
real nvidia-ml-py finds through LD_LIBRARY_PATH in a `coopy` started with `env()`."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SOURCE = Path(__file__).with_name("fake_nvml.c")


def build(folder: Path) -> Path:
    """Compile the fake library into `folder`; the folder is what LD_LIBRARY_PATH names."""
    if shutil.which("gcc") is None:
        raise RuntimeError("gcc is needed to build the fake NVML (CI installs it: .ci/run)")
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "libnvidia-ml.so.1"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o", str(out), str(SOURCE)], check=True)
    return folder


@dataclass
class Gpu:
    total_gb: float
    name: str = "Fake A100"
    energy_mj: int = 0
    processes: list[tuple[int, float]] = field(default_factory=list)  # pid, GB


@dataclass
class FakeNvml:
    """The GPUs the fake library reports; `write()` after every change (read again on every NVML call)."""

    libdir: Path
    state: Path
    gpus: list[Gpu] = field(default_factory=list)

    def write(self) -> None:
        lines = []
        for i, g in enumerate(self.gpus):
            lines.append(f"gpu {i} GPU-fake-{i:04d} {int(g.total_gb * 1024)} {g.energy_mj} {g.name}")
        for i, g in enumerate(self.gpus):
            lines += [f"proc {i} {pid} {int(gb * 1024)}" for pid, gb in g.processes]
        tmp = self.state.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, self.state)  # a reader sees the old file or the new one

    def env(self) -> dict[str, str]:
        """The environment of a `coopy` that loads this NVML (and nothing of the machine's)."""
        env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
        env["LD_LIBRARY_PATH"] = str(self.libdir)
        env["FAKE_NVML_STATE"] = str(self.state)
        env["COOPY_GPU_LEASES"] = str(self.leases)  # the test's own, never the machine's
        return env

    @property
    def leases(self) -> Path:
        return self.state.parent / "gpu-leases"
