"""Fixtures every test folder may use: real engines (`start_engine`), and the real Slurm and Ray test clusters
(`slurm`, `ray`), each started only when a test needs it. Plain helpers live in tests/helpers/."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from pathlib import Path

import pytest

from coopy_core import Engine, load_config
from coopy_core.engine import Subscriber
from coopy_core.executors.base import Executor
from tests.helpers.clusters import RayTestCluster, needs_ray
from tests.helpers.engine import EngineFactory
from tests.helpers.ray import stop_jobs_mentioning
from tests.helpers.slurm import REPO, SLURM_SCRIPT, cancel_jobs_mentioning


# ------------------------------------------------------------------ engines
@pytest.fixture
async def start_engine() -> AsyncIterator[EngineFactory]:
    """`engine = await start_engine(config_path[, subscriber][, executors={"ray": ...}])`: a started engine on
    that config (`subscriber` subscribed before the start: it sees every event, the first starts too; `executors`
    replace the ones the config names); every engine is shut down with its runs stopped."""
    engines: list[Engine] = []

    async def start(
        path: Path, subscriber: Subscriber | None = None, *, executors: Mapping[str, Executor] | None = None
    ) -> Engine:
        engine = Engine(load_config(path), executors=executors)
        if subscriber is not None:
            engine.subscribe(subscriber)
        await engine.start()
        engines.append(engine)
        return engine

    yield start
    for engine in reversed(engines):
        await engine.shutdown(stop_running=True)


# ------------------------------------------------------------------ the Slurm test cluster
SLURM_BINARIES = (
    "munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sacct", "sinfo"
)  # fmt: skip
SLURM_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[str]:
    """SLURM_CONF of the running one-node test cluster (exported for this process and its children), started by
    `.ci/slurm.sh` when it is not running. Skips (saying why) only when the Slurm/munge binaries are missing, or
    when the cluster is not running and cannot be started without root; one that should start but does not is an
    error."""
    missing = [b for b in SLURM_BINARIES if shutil.which(b, path=SLURM_SEARCH_PATH) is None]
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


# ------------------------------------------------------------------ the Ray test cluster
RAY_CLUSTER = RayTestCluster()


@pytest.fixture(scope="session")
def ray_installed() -> None:
    """Skip when Ray is not installed, except in CI (CI=true), where that is a failure."""
    if importlib.util.find_spec("ray") is None:
        message = "Ray is not installed: pip install -e '.[ray]'"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI must run the Ray tests)", pytrace=False)
        pytest.skip(message)


@pytest.fixture
def ray_cluster(ray_installed: None) -> str:
    """RAY_ADDRESS of the running two-node test cluster (exported for this process and its children); started by
    `.ci/ray.sh` when it is not running, stopped after the last of a row of tests that need it."""
    return RAY_CLUSTER.ensure()


@pytest.fixture
def ray(ray_cluster: str, tmp_path: Path) -> Iterator[str]:
    """The cluster, and no job of this test left running (its jobs carry `tmp_path` in their run id)."""
    yield ray_cluster
    stop_jobs_mentioning(str(tmp_path))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    """After a test's own teardown: the Ray cluster is stopped when the next test does not need it."""
    try:
        return (yield)
    finally:
        if nextitem is None or not needs_ray(nextitem):
            RAY_CLUSTER.release()


def pytest_sessionfinish() -> None:
    RAY_CLUSTER.release()  # a session cut short (-x, Ctrl-C)
