"""A real one-node Slurm cluster for the Slurm tests, started by `.ci/slurm.sh` when it is not running.

The tests skip (saying why) only when the Slurm/munge binaries are missing, or
when the cluster is not running and cannot be started without root; a cluster
that should start but does not is an error, not a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.slurm import REPO, SLURM_SCRIPT, cancel_jobs_mentioning

BINARIES = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sacct", "sinfo")
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[str]:
    """SLURM_CONF of the running test cluster (exported for this process and its children)."""
    missing = [b for b in BINARIES if shutil.which(b, path=SEARCH_PATH) is None]
    if missing:
        pytest.skip(f"Slurm is not installed (missing {', '.join(missing)}); run .ci/install-slurm.sh as root")
    conf = subprocess.run([str(SLURM_SCRIPT), "env"], capture_output=True, text=True, check=True)
    slurm_conf = conf.stdout.strip().removeprefix("export SLURM_CONF=")
    started = False
    if subprocess.run([str(SLURM_SCRIPT), "status"], capture_output=True, timeout=60).returncode != 0:
        if os.geteuid() != 0:
            pytest.skip("the one-node test cluster is not running and starting it needs root (.ci/slurm.sh start)")
        result = subprocess.run([str(SLURM_SCRIPT), "start"], capture_output=True, text=True, timeout=180, cwd=REPO)
        if result.returncode != 0:
            pytest.fail(f".ci/slurm.sh start failed:\n{result.stdout}{result.stderr}", pytrace=False)
        started = True
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = slurm_conf
    try:
        yield slurm_conf
    finally:
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old
        if started:
            subprocess.run([str(SLURM_SCRIPT), "stop"], capture_output=True, timeout=120, check=False)


@pytest.fixture
def slurm(slurm_cluster: str, tmp_path: Path) -> Iterator[str]:
    """The cluster, and no job of this test left behind (its jobs carry `tmp_path` in their comment)."""
    yield slurm_cluster
    cancel_jobs_mentioning(str(tmp_path))
