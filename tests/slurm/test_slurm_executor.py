"""SlurmExecutor against the real cluster: batched polling, sbatch retries, finding an unrecorded job."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coopy_core.executors.base import LaunchSpec, StartError
from coopy_core.executors.slurm import SlurmExecutor, _Result, job_name
from coopy_core.scripter import Launch
from tests.helpers.engine import wait_until
from tests.helpers.slurm import SLURM_DEADLINE, SLURM_INTERVAL, calls, counting_wrapper, job_state, squeue

pytestmark = pytest.mark.usefixtures("slurm")


def spec(tmp_path: Path, name: str, argv: list[str]) -> LaunchSpec:
    return LaunchSpec(
        run_id=f"{tmp_path}:stage/{name}/1",
        launch=Launch(argv=argv, cwd=tmp_path),
        log=tmp_path / "logs" / f"{name}.log",
        status=tmp_path / "status" / f"{name}.1.status",
        stage="stage",
    )


async def test_one_squeue_per_poll_for_all_jobs(tmp_path: Path) -> None:
    executor = SlurmExecutor(poll_interval=0.3)
    squeue_calls: list[tuple[list[str], set[str]]] = []
    real = executor._arun

    async def spy(argv: list[str]) -> _Result:
        if argv[0] == "squeue":
            squeue_calls.append((argv, set(executor._jobs)))
        return await real(argv)

    executor._arun = spy  # type: ignore[method-assign]
    ends: dict[str, int | None] = {}
    infos: dict[str, list[str]] = {}
    handles = {}
    for name, code in (("a", 0), ("b", 5), ("c", 0)):
        handle = executor.start(spec(tmp_path, name, ["sh", "-c", f"sleep 1; exit {code}"]))
        handles[name] = handle
        infos[name] = []
        executor.watch(handle, lambda c, n=name: ends.__setitem__(n, c), infos[name].append)
    try:
        await wait_until(
            lambda: len(ends) == 3, "all three jobs to end", timeout=SLURM_DEADLINE, interval=SLURM_INTERVAL
        )
    finally:
        executor.close()
    assert ends == {"a": 0, "b": 5, "c": 0}
    assert squeue_calls and len(squeue_calls) == executor.polls
    for argv, watching in squeue_calls:  # one call names every job still watched
        (jobs_arg,) = [a for a in argv if a.startswith("--jobs=")]
        assert set(jobs_arg.removeprefix("--jobs=").split(",")) == watching
    assert all("RUNNING" in seen or any(s.startswith("PENDING") for s in seen) for seen in infos.values()), infos


async def test_transient_sbatch_failure_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    timed_out = "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation"
    sbatch_calls = counting_wrapper(bin_dir, "sbatch", fail_first_with=timed_out)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    executor = SlurmExecutor(poll_interval=0.3, submit_backoff=(0.2, 0.4))
    run = spec(tmp_path, "t", ["true"])
    handle = executor.start(run)
    assert calls(sbatch_calls) == 2
    assert handle["job_id"]
    # exactly one job of that name: the failed call did not submit, the retry did once
    assert squeue("--states=all", f"--name={job_name(run.run_id)}", "--format=%i").split() == [handle["job_id"]]
    await wait_until(
        lambda: job_state(str(handle["job_id"])) == "COMPLETED",
        "the job to complete",
        timeout=SLURM_DEADLINE,
        interval=SLURM_INTERVAL,
    )


def test_rejected_sbatch_is_not_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    sbatch_calls = counting_wrapper(bin_dir, "sbatch")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SBATCH_PARTITION", "no-such-partition")  # sbatch's own input variable
    executor = SlurmExecutor(poll_interval=0.3, submit_backoff=(0.2, 0.4))
    with pytest.raises(StartError, match="(?i)rejected the job: .*invalid partition"):
        executor.start(spec(tmp_path, "t", ["true"]))
    assert calls(sbatch_calls) == 1


async def test_find_started_finds_an_unrecorded_job(tmp_path: Path) -> None:
    """The engine crashed between sbatch and storing the handle: the job is found by its name and comment."""
    run = spec(tmp_path, "t", ["sh", "-c", "sleep 30"])
    handle = SlurmExecutor(poll_interval=0.3).start(run)
    fresh = SlurmExecutor(poll_interval=0.3)
    found = fresh.find_started(run.run_id, run.status)
    assert found is not None and found["job_id"] == handle["job_id"]
    assert fresh.adopt(found).alive
    assert fresh.find_started(f"{tmp_path}:stage/other/1", tmp_path / "status" / "other.1.status") is None
    fresh.cancel(found)
    ends: list[int | None] = []
    fresh.watch(found, ends.append)
    try:
        await wait_until(
            lambda: bool(ends), "the cancelled job to end", timeout=SLURM_DEADLINE, interval=SLURM_INTERVAL
        )
    finally:
        fresh.close()
    assert ends == [None]
    assert job_state(str(handle["job_id"])) == "CANCELLED"


async def test_exit_code_from_sacct_when_scontrol_forgot_the_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MinJobAge scontrol no longer knows a job: the code comes from `sacct -c` (accounting is off here)."""
    run = spec(tmp_path, "t", ["sh", "-c", "exit 6"])
    executor = SlurmExecutor(poll_interval=0.3)
    handle = executor.start(run)
    await wait_until(
        lambda: job_state(str(handle["job_id"])) == "FAILED",
        "the job to fail",
        timeout=SLURM_DEADLINE,
        interval=SLURM_INTERVAL,
    )
    run.status.unlink()  # and no status file to fall back on either
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "scontrol"
    fake.write_text("#!/bin/sh\necho 'slurm_load_jobs error: Invalid job id specified' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    adopted = SlurmExecutor(poll_interval=0.3).adopt(handle)
    assert not adopted.alive and adopted.exit_code == 6
