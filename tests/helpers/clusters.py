"""The cluster executors as the shared cluster tests see them (tests/clusters): for Slurm and for Ray, the same
questions (what a job's state is, was it submitted once, what the screen says while it runs) answered from that
cluster's own ground truth (squeue / scontrol and the sbatch calls; Ray's Jobs API).

Also the Ray test cluster's life: started by `.ci/ray.sh` when a test needs it and it is not running, stopped again
once the tests that need it are over (its ~0.8 GB and its heartbeats are not left to the tests after them on a
2-core machine); a cluster this process did not start is left running.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from coopy_core import RunView
from tests.helpers import ray as ray_helpers
from tests.helpers import slurm as slurm_helpers


class RayTestCluster:
    """The two-node Ray test cluster, for as long as tests need it."""

    def __init__(self) -> None:
        self.address: str | None = None
        self.started = False
        self._old_address: str | None = None

    def ensure(self) -> str:
        """RAY_ADDRESS of the running cluster (exported for this process and its children); started if need be."""
        if self.address is None:
            if ray_helpers.ray_sh("status", timeout=60).returncode != 0:
                result = ray_helpers.ray_sh("start")
                if result.returncode != 0:
                    pytest.fail(f".ci/ray.sh start failed:\n{result.stdout}{result.stderr}", pytrace=False)
                self.started = True
            self.address = ray_helpers.address()
            self._old_address = os.environ.get("RAY_ADDRESS")
            os.environ["RAY_ADDRESS"] = self.address
        return self.address

    def release(self) -> None:
        """No test needs it now: RAY_ADDRESS as it was, and the cluster stopped if this process started it."""
        if self.address is None:
            return
        if self._old_address is None:
            os.environ.pop("RAY_ADDRESS", None)
        else:
            os.environ["RAY_ADDRESS"] = self._old_address
        if self.started:
            ray_helpers.ray_sh("stop", timeout=120)
        self.address = None
        self.started = False


def needs_ray(item: pytest.Item) -> bool:
    """Whether a test uses the Ray cluster: through the `ray_cluster` fixture, or as the `ray` case of
    tests/clusters (whose `cluster` fixture asks for the cluster its `cluster_name` parameter names)."""
    if "ray_cluster" in getattr(item, "fixturenames", ()):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("cluster_name") == "ray"


class SlurmUnderTest:
    """The one-node Slurm test cluster (its jobs run on this machine)."""

    name = "slurm"
    fixture = "slurm"
    deadline = slurm_helpers.SLURM_DEADLINE
    interval = slurm_helpers.SLURM_INTERVAL
    succeeded, failed, cancelled = "COMPLETED", "FAILED", "CANCELLED"
    # --exclusive: one job at a time on the one node, so the second shows PENDING with a reason
    options = 'slurm = { partition = "debug", time = "5", cpus_per_task = 1, extra_args = ["--exclusive"] }'
    running_reason = "RUNNING"  # what the screen says of a running job
    pending_has_reason = True  # the second job (one node, --exclusive) shows "PENDING (<Slurm's reason>)"

    def env(self, tmp_path: Path) -> dict[str, str]:
        """The environment of a `coopy run` whose submissions are counted (an sbatch earlier on PATH)."""
        bin_dir = tmp_path / "bin"
        slurm_helpers.counting_wrapper(bin_dir, "sbatch")
        return dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def assert_submitted_once(self, tmp_path: Path, job_id: str) -> None:
        assert slurm_helpers.calls(tmp_path / "bin" / "sbatch.calls") == 1, "submitted exactly once"

    @staticmethod
    def recorded(handle: dict[str, Any]) -> bool:
        """The stored handle says the job reached the cluster."""
        return bool(handle.get("job_id"))

    def job_state(self, job_id: str) -> str:
        return slurm_helpers.job_state(job_id)

    def stopped(self, job_id: str) -> bool:
        """A cancelled job is out of Slurm's active jobs (it may show COMPLETING a moment first)."""
        return slurm_helpers.active_jobs(job_id) == ""

    def running(self, job_id: str) -> bool:
        return "RUNNING" in slurm_helpers.active_jobs(job_id)

    def ended_jobs(self, tmp_path: Path) -> list[tuple[str, int | None]] | None:
        """(state, exit code) of this test's jobs, oldest first; None: not asked of Slurm here."""
        return None

    def jobs(self, tmp_path: Path) -> dict[str, str]:
        """Job id -> state of every job of this test Slurm still shows (its comment is the run id)."""
        rows = (line.split("|", 2) for line in slurm_helpers.squeue("--states=all", "--format=%i|%T|%k").splitlines())
        return {row[0]: row[1] for row in rows if len(row) == 3 and str(tmp_path) in row[2]}

    @staticmethod
    def log_line(run: RunView) -> str:
        """What the chain's job printed first (the command echoes $SLURM_JOB_ID where there is one)."""
        return f"job of {run.task} {run.job_id}"

    def assert_options_applied(self, tmp_path: Path, reasons: list[str]) -> None:
        """`--exclusive` on the one node: the second job waited, and the screen said why."""
        assert any(r.startswith("PENDING (") for r in reasons), reasons


class RayUnderTest:
    """The two-node Ray test cluster (both nodes on this machine)."""

    name = "ray"
    fixture = "ray"
    deadline = ray_helpers.RAY_DEADLINE
    interval = ray_helpers.RAY_INTERVAL
    succeeded, failed, cancelled = "SUCCEEDED", "FAILED", "STOPPED"
    options = 'ray = { metadata = { team = "vision" } }'
    running_reason = f"RUNNING on {ray_helpers.HEAD_IP}"  # no resources asked: Ray runs it on the head
    pending_has_reason = False

    def env(self, tmp_path: Path) -> dict[str, str]:
        return dict(os.environ)

    def assert_submitted_once(self, tmp_path: Path, job_id: str) -> None:
        jobs = ray_helpers.jobs_mentioning(str(tmp_path))
        assert [j.submission_id for j in jobs] == [job_id], "submitted exactly once"

    @staticmethod
    def recorded(handle: dict[str, Any]) -> bool:
        return bool(handle.get("submitted"))

    def job_state(self, job_id: str) -> str:
        return str(ray_helpers.client().get_job_status(job_id).value)

    def stopped(self, job_id: str) -> bool:
        """Ray says STOPPED as soon as the engine saw the job end: nothing to wait for."""
        return True

    def running(self, job_id: str) -> bool:
        return self.job_state(job_id) == "RUNNING"

    def ended_jobs(self, tmp_path: Path) -> list[tuple[str, int | None]] | None:
        return [(j.status.value, j.driver_exit_code) for j in ray_helpers.jobs_mentioning(str(tmp_path))]

    def jobs(self, tmp_path: Path) -> dict[str, str]:
        return {j.submission_id: j.status.value for j in ray_helpers.jobs_mentioning(str(tmp_path))}

    @staticmethod
    def log_line(run: RunView) -> str:
        return f"job of {run.task}"

    def assert_options_applied(self, tmp_path: Path, reasons: list[str]) -> None:
        """The stage's `ray.metadata` is on every job, beside CooPy's own."""
        for job in ray_helpers.jobs_mentioning(str(tmp_path)):
            assert job.metadata["team"] == "vision" and job.metadata["coopy_stage"] == "train", job.metadata


ClusterUnderTest = SlurmUnderTest | RayUnderTest
CLUSTERS: dict[str, ClusterUnderTest] = {"slurm": SlurmUnderTest(), "ray": RayUnderTest()}
