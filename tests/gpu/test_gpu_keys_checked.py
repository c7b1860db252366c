"""Bad GPU keys: one line naming the file and the key, exit 2, nothing started."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.fake_nvml import FakeNvml, Gpu
from tests.helpers.gpu_runs import gpu_pipeline, run_coopy


@pytest.mark.parametrize(
    ("resources", "stage", "key", "problem"),
    [
        ('gpus = "all"', "gpus = 1", "resources.gpus", 'should be "auto" or a list'),
        ('gpus = "auto"\ngpu_others = "never"', "gpus = 1", "resources.gpu_others", "should be one of avoid, share"),
        ('gpus = "auto"', "gpu_mem_gb = 10", "stages[0].resources.gpu_mem_gb", "needs gpus = N beside it"),
        ('gpus = "auto"', "gpus = 1, gpu_mem_gb = -1", "stages[0].resources.gpu_mem_gb", "a number of GB > 0"),
        ('mem_gb = "lots"', "mem_gb = 1", "resources.mem_gb", "should be a number or a list of ids"),
        ('gpus = [0, "GPU-nope"]\ngpu_others = "share"', "gpus = 1", "resources.gpus", "NVML sees no GPU GPU-nope"),
    ],
)
def test_bad_gpu_keys_are_refused_in_one_line(
    fake_nvml: FakeNvml, tmp_path: Path, resources: str, stage: str, key: str, problem: str
) -> None:
    fake_nvml.gpus = [Gpu(40)]
    fake_nvml.write()
    cfg = gpu_pipeline(tmp_path, resources, stage, tasks=1)
    out = run_coopy(cfg, fake_nvml.env())
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{cfg}: {key}: " in lines[0] and problem in lines[0], out.stderr
    assert not (tmp_path / "runs.log").exists()
