"""The real coopy-tui in tmux: the pools screen (`u`) shows each GPU as NVML shows it, live: another user's
process appearing while the screen is open is there without reopening it."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.cli import coopy_argv
from tests.helpers.fake_nvml import FakeNvml, Gpu
from tests.helpers.gpu_runs import gpu_pipeline, started
from tests.helpers.tmux import Tmux, tui_command
from tests.helpers.waiting import poll

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def test_the_pools_screen_shows_the_gpus_live(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    fake_nvml.gpus = [Gpu(40, name="Fake L40")]
    fake_nvml.write()
    release = tmp_path / "release"
    gpu_pipeline(
        tmp_path, 'gpus = "auto"\ngpu_others = "share"', "gpus = 1, gpu_mem_gb = 10", tasks=1, wait=str(release)
    )
    env = fake_nvml.env()
    names = ("LD_LIBRARY_PATH", "FAKE_NVML_STATE", "COOPY_GPU_LEASES")
    prefix = "env -u CUDA_VISIBLE_DEVICES " + " ".join(f"{n}={shlex.quote(env[n])}" for n in names)
    tmux = Tmux(tmp_path)
    try:
        tmux.start(f"{prefix} {tui_command()} coopy.toml")
        poll(lambda: started(tmp_path), 60, "the run to start")
        tmux.keys("u")
        line = "gpu0 Fake L40: 30.0 of 40.0 GB free; others 0.0, coopy 10.0; train/i=0"
        poll(lambda: line in tmux.screen(), 30, "the GPU's line on the pools screen")
        fake_nvml.gpus[0].processes.append((4242, 12))  # another user starts a job on it
        fake_nvml.write()
        line = "gpu0 Fake L40: 18.0 of 40.0 GB free; others 12.0, coopy 10.0; train/i=0"
        poll(lambda: line in tmux.screen(), 30, "the line to change while the screen is open")
    finally:
        release.touch()
        tmux.kill()
        subprocess.run(
            [*coopy_argv(), "stop", "coopy.toml", "--stop-running"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            timeout=60,
        )
