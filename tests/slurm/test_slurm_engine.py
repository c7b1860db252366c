"""The engine with a stage on the real one-node Slurm cluster: a partition Slurm does not have fails the run with
Slurm's own words, and nothing is submitted (what every cluster executor does: tests/clusters)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from coopy_core import RunState
from tests.helpers.engine import EngineFactory, run_of, write_config
from tests.helpers.slurm import squeue

pytestmark = pytest.mark.usefixtures("slurm")


async def test_bad_partition_fails_with_slurms_message(tmp_path: Path, start_engine: EngineFactory) -> None:
    path = write_config(
        tmp_path,
        """
        [pipeline]
        poll_interval = 0.3
        state_dir = "state"

        [tasks.named]
        t = { x = 1 }

        [[stages]]
        name = "train"
        executor = "slurm"
        slurm = { partition = "no-such-partition" }
        command = ["true"]
        """,
    )
    engine = await start_engine(path)
    assert not await asyncio.wait_for(engine.run_until_finished(), 60)
    run = run_of(engine, "t", "train")
    assert run is not None and run.state == RunState.FAILED and run.attempt == 1 and run.job_id is None
    assert run.reason.startswith("sbatch rejected the job: ")
    assert "invalid partition" in run.reason.lower(), run.reason
    assert squeue("--states=all", "--format=%k").count(str(tmp_path)) == 0  # nothing was submitted
