"""A run's GPU use lands in its metrics: gpu_mem_peak_gb (the most NVML showed for its processes) and
gpu_energy_j (its share of the GPU's energy counter, by memory, beside another user's process)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.helpers.cli import coopy_argv
from tests.helpers.fake_nvml import FakeNvml, Gpu
from tests.helpers.gpu_runs import gpu_pipeline, start_coopy
from tests.helpers.waiting import poll


def results(cfg: Path, fake_nvml: FakeNvml) -> dict[str, Any]:
    out = subprocess.run(
        [*coopy_argv(), "results", str(cfg), "--format", "json"],
        cwd=cfg.parent,
        env=fake_nvml.env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["rows"]
    return dict(rows[0]["metrics"]) if rows else {}


def test_a_runs_gpu_memory_peak_and_energy_are_its_metrics(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    fake_nvml.gpus = [Gpu(40, energy_mj=1_000)]
    fake_nvml.write()
    cfg = gpu_pipeline(
        tmp_path,
        'gpus = "auto"\ngpu_others = "share"',
        "gpus = 1, gpu_mem_gb = 10",
        tasks=1,
        hog_gb=6,
        state=fake_nvml.state,
        wait=str(tmp_path / "release-TASK"),
    )
    proc = start_coopy(cfg, fake_nvml.env())
    try:
        poll(lambda: "proc 0" in fake_nvml.state.read_text(), 30, "the run to show on the GPU")
        pid = int(fake_nvml.state.read_text().split("proc 0 ")[1].split()[0])
        poll(lambda: results(cfg, fake_nvml).get("gpu_mem_peak_gb") == 6, 30, "the run's peak memory")
        # 50 J more while the run (10 GB declared, 8 used) shares the GPU with another user's 10 GB: half is its
        fake_nvml.gpus[0] = Gpu(40, energy_mj=51_000, processes=[(pid, 8), (4242, 10)])
        fake_nvml.write()
        poll(lambda: results(cfg, fake_nvml).get("gpu_energy_j") == 25, 30, "the run's energy")
        assert results(cfg, fake_nvml)["gpu_mem_peak_gb"] == 8
        (tmp_path / "release-i=0").touch()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    row = results(cfg, fake_nvml)
    assert (row["gpu_mem_peak_gb"], row["gpu_energy_j"]) == (8, 25)
