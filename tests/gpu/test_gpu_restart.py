"""An engine killed and started again keeps its running runs' GPU reservations (and claims them again), so a
queued run does not squeeze in beside a re-adopted one."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.helpers.fake_nvml import FakeNvml, Gpu
from tests.helpers.gpu_runs import ended, gpu_pipeline, start_coopy, started, status
from tests.helpers.waiting import poll


def test_a_restarted_engine_keeps_the_reservations_of_running_runs(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    fake_nvml.gpus = [Gpu(30)]
    fake_nvml.write()
    cfg = gpu_pipeline(
        tmp_path, 'gpus = "auto"', "gpus = 1, gpu_mem_gb = 20", tasks=2, wait=str(tmp_path / "release-TASK")
    )
    first = start_coopy(cfg, fake_nvml.env())
    second = None
    try:
        poll(lambda: started(tmp_path), 30, "the first run to start")
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        (tmp_path / "release-i=1").touch()  # the second run would end at once if it started
        second = start_coopy(cfg, fake_nvml.env())

        def waiting() -> bool:
            now = status(cfg, fake_nvml.env())
            runs = {r["task"]: r for r in now.get("runs", [])}
            return (
                now.get("engine_pid") == second.pid  # the new engine answers (the store says what the old one saw)
                and runs.get("i=0", {}).get("state") == "running"
                and "waiting for" in runs.get("i=1", {}).get("reason", "")
            )

        poll(waiting, 30, "the re-adopted run running and the other waiting for the GPU")
        assert len(started(tmp_path)) == 1
        assert len(list(fake_nvml.leases.iterdir())) == 1  # the dead engine's claim replaced by the new one's
        (tmp_path / "release-i=0").touch()
        assert second.wait(timeout=60) == 0
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [r.live for r in started(tmp_path)] == [1, 1]
    assert sorted(ended(tmp_path)) == ["i=0", "i=1"]


def test_a_readopted_run_holds_what_it_declared_not_the_whole_gpu(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    fake_nvml.gpus = [Gpu(50)]
    fake_nvml.write()
    wait = str(tmp_path / "release-TASK")
    cfg = gpu_pipeline(tmp_path, 'gpus = "auto"', "gpus = 1, gpu_mem_gb = 20", tasks=2, workers=1, wait=wait)
    first = start_coopy(cfg, fake_nvml.env())
    second = None
    try:
        poll(lambda: started(tmp_path), 30, "the first run to start")
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        gpu_pipeline(tmp_path, 'gpus = "auto"', "gpus = 1, gpu_mem_gb = 20", tasks=2, workers=2, wait=wait)
        second = start_coopy(cfg, fake_nvml.env())
        poll(lambda: len(started(tmp_path)) == 2, 20, "the second run beside the re-adopted one (20 + 20 <= 50 GB)")
        (tmp_path / "release-i=0").touch()
        (tmp_path / "release-i=1").touch()
        assert second.wait(timeout=60) == 0
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert sorted(ended(tmp_path)) == ["i=0", "i=1"]
