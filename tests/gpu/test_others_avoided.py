"""gpus = "auto" with the fake NVML: a GPU another user's process holds is avoided, and used as soon as it
leaves (mid-run); a waiting run says what it waits for; each run gets NVML's numbering."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.fake_nvml import FakeNvml, Gpu
from tests.helpers.gpu_runs import ended, gpu_pipeline, run_coopy, start_coopy, started, status
from tests.helpers.waiting import poll

FOREIGN = 4242  # no such process here: NVML shows it, /proc cannot say it is ours, so it is another user's


def test_a_gpu_taken_by_another_process_is_avoided(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    fake_nvml.gpus = [Gpu(80, processes=[(FOREIGN, 70)]), Gpu(80), Gpu(80, processes=[(FOREIGN + 1, 1)])]
    fake_nvml.write()
    cfg = gpu_pipeline(tmp_path, 'gpus = "auto"', "gpus = 1", tasks=4, hold=0.2)
    out = run_coopy(cfg, fake_nvml.env())
    assert out.returncode == 0, out.stdout + out.stderr
    runs = started(tmp_path)
    assert sorted(r.task for r in runs) == ["i=0", "i=1", "i=2", "i=3"]
    assert {r.gpus for r in runs} == {"1"}  # only the GPU nobody else uses
    assert {(r.order, r.coopy_gpus) for r in runs} == {("PCI_BUS_ID", "1")}
    assert max(r.live for r in runs) == 1  # whole GPUs: one run at a time on it


def test_a_gpu_freed_by_another_user_mid_run_is_used(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    fake_nvml.gpus = [Gpu(80, processes=[(FOREIGN, 70)])]
    fake_nvml.write()
    cfg = gpu_pipeline(tmp_path, 'gpus = "auto"', "gpus = 1, gpu_mem_gb = 20", tasks=1, hold=0.1)
    proc = start_coopy(cfg, fake_nvml.env())
    try:

        def reason() -> str:
            runs = [r for r in status(cfg, fake_nvml.env()).get("runs", []) if r.get("stage") == "train"]
            return runs[0].get("reason", "") if runs else ""

        said = poll(lambda: "pid 4242" in reason() and reason(), 30, "the run to say what it waits for")
        assert said == "waiting for a GPU with 20 GB free: gpu0 used by pid 4242 (another user, 70 GB)"
        assert started(tmp_path) == []
        fake_nvml.gpus[0].processes.clear()  # the other user's job ends
        fake_nvml.write()
        assert proc.wait(timeout=60) == 0, proc.stdout.read() if proc.stdout else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert [(r.task, r.gpus) for r in started(tmp_path)] == [("i=0", "0")]
    assert ended(tmp_path) == ["i=0"]


def test_gpus_listed_by_uuid_are_watched_too(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    fake_nvml.gpus = [Gpu(80), Gpu(80, processes=[(FOREIGN, 1)]), Gpu(80)]
    fake_nvml.write()
    resources = 'gpus = ["GPU-fake-0001", "GPU-fake-0002"]\ngpu_others = "avoid"'
    cfg = gpu_pipeline(tmp_path, resources, "gpus = 1", tasks=2, hold=0.2)
    out = run_coopy(cfg, fake_nvml.env())
    assert out.returncode == 0, out.stdout + out.stderr
    assert {r.gpus for r in started(tmp_path)} == {"GPU-fake-0002"}  # as listed; the one another user holds avoided
