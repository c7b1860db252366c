"""Runs with gpu_mem_gb share a GPU while their declarations (reserved from start to end, before they allocate
anything) plus what NVML shows fit; a run's own processes are never another user's; a run using more than it
declared counts with what it uses."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.fake_nvml import FakeNvml, Gpu
from tests.helpers.gpu_runs import ended, gpu_pipeline, run_coopy, start_coopy, started
from tests.helpers.waiting import poll


def test_runs_pack_a_gpu_up_to_its_memory(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    fake_nvml.gpus = [Gpu(40)]
    fake_nvml.write()
    cfg = gpu_pipeline(tmp_path, 'gpus = "auto"', "gpus = 1, gpu_mem_gb = 10", tasks=8, hold=1.0)
    out = run_coopy(cfg, fake_nvml.env())
    assert out.returncode == 0, out.stdout + out.stderr
    runs = started(tmp_path)
    assert len(runs) == 8 and {r.gpus for r in runs} == {"0"}
    assert max(r.live for r in runs) == 4  # 4 x 10 GB on a 40 GB GPU, never a fifth


def test_runs_starting_together_never_overfill_a_gpu(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    """Nothing is allocated yet when both start: only the reservation keeps them apart."""
    fake_nvml.gpus = [Gpu(30), Gpu(30)]
    fake_nvml.write()
    cfg = gpu_pipeline(tmp_path, 'gpus = "auto"', "gpus = 1, gpu_mem_gb = 20", tasks=2, wait=str(tmp_path / "go"))
    proc = start_coopy(cfg, fake_nvml.env())
    try:
        poll(lambda: len(started(tmp_path)) == 2, 30, "both runs to start")
        (tmp_path / "go").touch()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert sorted(r.gpus for r in started(tmp_path)) == ["0", "1"]


def test_a_runs_own_processes_are_not_another_users(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    """gpu_others = "avoid": the first run's process shows on the GPU; the second still joins it."""
    fake_nvml.gpus = [Gpu(40)]
    fake_nvml.write()
    cfg = gpu_pipeline(
        tmp_path,
        'gpus = "auto"',
        "gpus = 1, gpu_mem_gb = 10",
        tasks=2,
        workers=1,
        hog_gb=5,
        state=fake_nvml.state,
        wait=str(tmp_path / "release-TASK"),
    )
    proc = start_coopy(cfg, fake_nvml.env())
    try:
        poll(lambda: "proc 0" in fake_nvml.state.read_text(), 30, "the first run to show on the GPU")
        set_workers(cfg, fake_nvml, 2)
        poll(lambda: len(started(tmp_path)) == 2, 30, "the second run to start beside the first")
        (tmp_path / "release-i=0").touch()
        (tmp_path / "release-i=1").touch()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert max(r.live for r in started(tmp_path)) == 2


def test_a_run_using_more_than_it_declared_counts_with_what_it_uses(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    fake_nvml.gpus = [Gpu(40)]
    fake_nvml.write()
    cfg = gpu_pipeline(
        tmp_path,
        'gpus = "auto"',
        "gpus = 1, gpu_mem_gb = 10",
        tasks=2,
        workers=1,
        hog_gb=35,  # declared 10, uses 35: 35 + 10 > 40
        state=fake_nvml.state,
        wait=str(tmp_path / "release-TASK"),
    )
    proc = start_coopy(cfg, fake_nvml.env())
    try:
        poll(lambda: "proc 0" in fake_nvml.state.read_text(), 30, "the first run to show on the GPU")
        set_workers(cfg, fake_nvml, 2)
        (tmp_path / "release-i=1").touch()
        poll(lambda: "waiting for a GPU" in reason_of(cfg, fake_nvml, "i=1"), 30, "the second run to wait")
        assert len(started(tmp_path)) == 1
        (tmp_path / "release-i=0").touch()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert [r.live for r in started(tmp_path)] == [1, 1]
    assert ended(tmp_path) == ["i=0", "i=1"]


def set_workers(cfg: Path, fake_nvml: FakeNvml, n: int) -> None:
    import subprocess

    from tests.helpers.cli import coopy_argv

    out = subprocess.run(
        [*coopy_argv(), "workers", str(cfg), "train", str(n)],
        cwd=cfg.parent,
        env=fake_nvml.env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def reason_of(cfg: Path, fake_nvml: FakeNvml, task: str) -> str:
    from tests.helpers.gpu_runs import status

    runs = [r for r in status(cfg, fake_nvml.env()).get("runs", []) if r.get("task") == task]
    return str(runs[0].get("reason", "")) if runs else ""
