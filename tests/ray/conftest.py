"""A real two-node Ray cluster for the Ray tests, started by `.ci/ray.sh` when it is not running.

Locally the tests skip (saying why) only when Ray is not installed; in CI (CI=true) that is a failure, as is
a cluster that should start but does not.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.ray import address, ray_sh, stop_jobs_mentioning


@pytest.fixture(scope="session")
def ray_installed() -> None:
    """Skip when Ray is not installed, except in CI (CI=true), where that is a failure."""
    if importlib.util.find_spec("ray") is None:
        message = "Ray is not installed: pip install -e '.[ray]'"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI must run the Ray tests)", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="package")
def ray_cluster(ray_installed: None) -> Iterator[str]:
    """RAY_ADDRESS of the running test cluster (exported for this process and its children). Package-scoped:
    a cluster this fixture started is stopped once the last Ray test is done, not at the end of the whole
    suite (its ~0.8 GB and its heartbeats are not left to the TUI and reliability tests on a 2-core machine)."""
    started = False
    if ray_sh("status", timeout=60).returncode != 0:
        result = ray_sh("start")
        if result.returncode != 0:
            pytest.fail(f".ci/ray.sh start failed:\n{result.stdout}{result.stderr}", pytrace=False)
        started = True
    ray_address = address()
    old = os.environ.get("RAY_ADDRESS")
    os.environ["RAY_ADDRESS"] = ray_address
    try:
        yield ray_address
    finally:
        if old is None:
            os.environ.pop("RAY_ADDRESS", None)
        else:
            os.environ["RAY_ADDRESS"] = old
        if started:
            ray_sh("stop", timeout=120)


@pytest.fixture
def ray(ray_cluster: str, tmp_path: Path) -> Iterator[str]:
    """The cluster, and no job of this test left running (its jobs carry `tmp_path` in their run id)."""
    yield ray_cluster
    stop_jobs_mentioning(str(tmp_path))
