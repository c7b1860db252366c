"""Ray-only helpers: the test cluster's script, and the Jobs API as ground truth (which jobs exist, where they ran).

A real cluster answers slower than a local process: these tests wait longer, and look less often.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RAY_SCRIPT = REPO / ".ci" / "ray.sh"
RAY_DEADLINE = 90.0  # seconds, for engine.wait_until / wait_state
RAY_INTERVAL = 0.1
HEAD_IP = "127.0.0.2"  # .ci/ray.sh: the head, and the second node (the one with the `special` resource)
WORKER_IP = "127.0.0.3"


def ray_env() -> dict[str, str]:
    """The environment .ci/ray.sh needs: this venv's `ray`."""
    return dict(os.environ, COOPY_RAY_BIN=str(Path(sys.executable).with_name("ray")))


def ray_sh(command: str, timeout: float = 240.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(RAY_SCRIPT), command], capture_output=True, text=True, timeout=timeout, env=ray_env(), cwd=REPO
    )


def address() -> str:
    return ray_sh("env").stdout.strip().removeprefix("export RAY_ADDRESS=")


def client() -> Any:
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(address())


def jobs_mentioning(text: str) -> list[Any]:
    """Every job the cluster has whose CooPy run id (in its metadata) contains `text`, oldest first."""
    jobs = [j for j in client().list_jobs() if text in (j.metadata or {}).get("coopy_run_id", "")]
    return sorted(jobs, key=lambda j: j.start_time or 0)


def stop_jobs_mentioning(text: str) -> None:
    """Clean-up: stop every job of this test still pending or running."""
    try:
        jobs = client().list_jobs()
    except Exception:  # noqa: BLE001 - a test that stopped the head: nothing to stop
        return
    for job in jobs:
        if text in (job.metadata or {}).get("coopy_run_id", "") and not job.status.is_terminal():
            client().stop_job(job.submission_id)


def node_ip(node_id: str | None) -> str:
    """The IP of the node with this id (Ray's own list of nodes)."""
    from ray.util.state import list_nodes

    for node in list_nodes(address=address()):
        if node.node_id == node_id:
            return str(node.node_ip)
    return ""
