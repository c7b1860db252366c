"""`coopy gpus CONFIG`: a line per GPU with others' memory, this pipeline's use and reservation, what is free,
and the runs on it; without NVML, one line and exit 1."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.helpers.cli import coopy_argv
from tests.helpers.fake_nvml import FakeNvml, Gpu
from tests.helpers.gpu_runs import gpu_pipeline, start_coopy
from tests.helpers.waiting import poll


def gpus(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*coopy_argv(), "gpus", *args], env=env, capture_output=True, text=True, timeout=30)


def test_coopy_gpus_shows_others_reservations_and_runs(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    fake_nvml.gpus = [Gpu(80, name="Fake H100", processes=[(4242, 30)]), Gpu(40)]
    fake_nvml.write()
    cfg = gpu_pipeline(
        tmp_path,
        'gpus = "auto"\ngpu_others = "share"',
        "gpus = 1, gpu_mem_gb = 20",
        tasks=1,
        hog_gb=5,
        state=fake_nvml.state,
        wait=str(tmp_path / "release-TASK"),
    )
    proc = start_coopy(cfg, fake_nvml.env())
    try:
        poll(lambda: "proc 0 " in fake_nvml.state.read_text().split("4242")[-1], 30, "the run on the GPU")
        out = gpus(fake_nvml.env(), str(cfg))
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines() == [
            "gpu0 Fake H100, 80.0 GB: others 30.0 GB, coopy 5.0 GB used / 20.0 GB reserved, free 30.0 GB; "
            "runs: train/i=0",
            "gpu1 Fake A100, 40.0 GB: others 0.0 GB, coopy 0.0 GB used / 0.0 GB reserved, free 40.0 GB; runs: -",
        ]
        (tmp_path / "release-i=0").touch()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_coopy_gpus_without_nvml_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "FAKE_NVML_STATE")}
    out = gpus(env)
    assert out.returncode == 1
    assert out.stdout == "" and len(out.stderr.splitlines()) == 1 and "NVML" in out.stderr
