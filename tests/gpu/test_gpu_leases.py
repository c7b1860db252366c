"""Two pipelines on one machine share GPU claims through the lease folder: never both on a GPU that fits one;
a killed engine's claims are reclaimed; a lease file that proves nothing (a symlink, garbage) is refused."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
from pathlib import Path

from coopy_core.gpus.leases import start_time
from tests.helpers.fake_nvml import FakeNvml, Gpu
from tests.helpers.gpu_runs import gpu_pipeline, start_coopy, started, status
from tests.helpers.waiting import poll


def two_pipelines(fake_nvml: FakeNvml, tmp_path: Path) -> tuple[Path, Path]:
    fake_nvml.gpus = [Gpu(30)]
    fake_nvml.write()
    cfgs = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        cfgs.append(
            gpu_pipeline(folder, 'gpus = "auto"', "gpus = 1, gpu_mem_gb = 20", tasks=1, wait=str(folder / "release"))
        )
    return cfgs[0], cfgs[1]


def reason(cfg: Path, fake_nvml: FakeNvml) -> str:
    runs = status(cfg, fake_nvml.env()).get("runs", [])
    return str(runs[0].get("reason", "")) if runs else ""


def stop(*procs: subprocess.Popen[str]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_two_pipelines_never_overcommit_a_gpu(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    a, b = two_pipelines(fake_nvml, tmp_path)
    first = start_coopy(a, fake_nvml.env())
    second = None
    try:
        poll(lambda: started(a.parent), 30, "the first pipeline's run to start")
        second = start_coopy(b, fake_nvml.env())
        said = poll(lambda: "another CooPy pipeline" in reason(b, fake_nvml) and reason(b, fake_nvml), 30, "b waits")
        assert said == "waiting for a GPU with 20 GB free: gpu0 used by 1 run(s) of another CooPy pipeline (20 GB)"
        assert started(b.parent) == []
        (a.parent / "release").touch()
        assert first.wait(timeout=60) == 0
        (b.parent / "release").touch()
        assert second.wait(timeout=60) == 0
    finally:
        stop(first, *([second] if second else []))
    assert [r.gpus for r in started(b.parent)] == ["0"]
    assert list(fake_nvml.leases.iterdir()) == []  # every claim removed at its run's end
    assert stat.S_IMODE(fake_nvml.leases.stat().st_mode) == 0o1777


def test_a_killed_engines_claims_are_reclaimed(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    a, b = two_pipelines(fake_nvml, tmp_path)
    first = start_coopy(a, fake_nvml.env())
    second = None
    try:
        poll(lambda: started(a.parent), 30, "the first pipeline's run to start")
        claims = list(fake_nvml.leases.iterdir())
        assert len(claims) == 1 and f".{first.pid}." in claims[0].name
        os.kill(first.pid, signal.SIGKILL)  # its run goes on; its engine, whose claim it was, is gone
        first.wait()
        second = start_coopy(b, fake_nvml.env())
        poll(lambda: started(b.parent), 30, "the second pipeline's run to start")
        assert not claims[0].exists()
        (b.parent / "release").touch()
        assert second.wait(timeout=60) == 0
    finally:
        (a.parent / "release").touch()  # the first run, left by its engine, ends
        stop(first, *([second] if second else []))


def test_a_lease_that_proves_nothing_is_refused(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    a, _ = two_pipelines(fake_nvml, tmp_path)
    fake_nvml.leases.mkdir(mode=0o700)
    os.chmod(fake_nvml.leases, 0o1777)
    # a claim of the whole GPU by a live process (this test), valid in every field, but reached by a symlink
    uid, pid, start = os.getuid(), os.getpid(), start_time(os.getpid())
    evil = tmp_path / "evil.json"
    evil.write_text(json.dumps({"gpu": "GPU-fake-0000", "mem_mb": None, "uid": uid, "pid": pid, "start": start}))
    link = fake_nvml.leases / f"GPU-fake-0000.{uid}.{pid}.{start}.x.lease"
    link.symlink_to(evil)
    (fake_nvml.leases / f"GPU-fake-0000.{uid}.{pid}.{start}.y.lease").write_text("{not json")
    (a.parent / "release").touch()
    proc = start_coopy(a, fake_nvml.env())
    try:
        assert proc.wait(timeout=30) == 0
        out = proc.stdout.read() if proc.stdout else ""
    finally:
        stop(proc)
    assert [r.gpus for r in started(a.parent)] == ["0"]  # neither counted as a claim
    refused = [line for line in out.splitlines() if "refused" in line]
    assert len(refused) == 2, out
    assert link.is_symlink() and evil.exists()  # never followed, never removed
