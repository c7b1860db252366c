"""After a restart: what became of a Ray job while no engine watched it, and the job of a start the engine did
not live to record (found by the record written before the submit)."""

from __future__ import annotations

import json
from pathlib import Path

from coopy_core.executors.base import Adopted, Handle
from coopy_core.executors.ray_client import Clusters, NotFound, Rejected, Unreachable
from coopy_core.executors.ray_job import TERMINAL, exit_code, job_status, record_path
from coopy_core.executors.ray_logs import JobLogs


def adopt(clusters: Clusters, logs: JobLogs, handle: Handle) -> Adopted:
    """Alive (or unknown yet) -> watched; ended with an exit code -> its log completed and the code given.

    A job Ray ended without a code, or one the cluster does not know, is watched too: the first poll
    reports it with Ray's message (or as lost), which says more than an adoption could.
    """
    if not handle.get("submitted"):
        return Adopted(alive=True)  # the watch submits it (or finds it submitted)
    try:
        job = clusters.call(str(handle["address"]), "get_job_info", str(handle["job_id"]))
    except (Unreachable, NotFound, Rejected):
        return Adopted(alive=True)
    code = exit_code(job)
    if job_status(job) not in TERMINAL or code is None:
        return Adopted(alive=True)
    logs.complete(handle)
    return Adopted(alive=False, exit_code=code)


def find_started(clusters: Clusters, run_id: str, status: Path) -> Handle | None:
    """Crashed between submit and saving the handle: the record says which job it would be."""
    try:
        handle: Handle = json.loads(record_path(status).read_text())
    except (OSError, ValueError):
        return None  # no record: never submitted
    if handle.get("run_id") != run_id:
        return None
    try:
        clusters.call(str(handle["address"]), "get_job_info", str(handle["job_id"]))
    except NotFound:
        return None  # the submit never got there: start it afresh
    except (Unreachable, Rejected):
        handle["submitted"] = False  # submitted once the head answers, unless it is there already
        return handle
    handle["submitted"] = True
    return handle
