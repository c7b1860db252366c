"""Without NVML `gpus = "auto"` is today's discovery, said in one line; a config without the GPU keys means
what it meant before, even where NVML answers (static ids, another user's process not looked at)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.helpers.fake_nvml import FakeNvml, Gpu
from tests.helpers.gpu_runs import gpu_pipeline, run_coopy, started


def test_auto_without_nvml_falls_back_to_the_visible_gpus(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "FAKE_NVML_STATE")}
    env["CUDA_VISIBLE_DEVICES"] = "0,1"
    cfg = gpu_pipeline(tmp_path, 'gpus = "auto"', "gpus = 1, gpu_mem_gb = 20", tasks=4, hold=0.5)
    out = run_coopy(cfg, env)
    assert out.returncode == 0, out.stdout + out.stderr
    said = [line for line in out.stderr.splitlines() if 'gpus = "auto"' in line]
    assert len(said) == 1, out.stderr
    assert "found 2 GPU(s) by CUDA_VISIBLE_DEVICES / nvidia-smi (gpu_mem_gb means a whole GPU)" in said[0]
    runs = started(tmp_path)
    assert len(runs) == 4 and {r.gpus for r in runs} <= {"0", "1"}
    assert max(r.live for r in runs) == 2  # whole GPUs: two at a time


def test_a_config_without_the_new_keys_ignores_nvml(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    fake_nvml.gpus = [Gpu(80, processes=[(4242, 70)]), Gpu(80)]
    fake_nvml.write()
    cfg = gpu_pipeline(tmp_path, "gpus = [0, 1]", "gpus = 1", tasks=2, hold=0.5)
    out = run_coopy(cfg, fake_nvml.env())
    assert out.returncode == 0, out.stdout + out.stderr
    assert "NVML" not in out.stderr
    assert sorted(r.gpus for r in started(tmp_path)) == ["0", "1"]  # GPU 0 used despite the other process
