"""Executors: where a run's command runs. All implement `base.Executor`; `Executors` picks one per stage.

- `base.py`: the protocol, the handle, StartError; `wrapper.py`: the contract every executor keeps (the run id in
  the environment, the exit status in a file); `polling.py`: the poll loop of the cluster executors.
- `local.py`: local processes (a detached wrapper, a pidfd); `helped.py`: the same started by the spawn helper
  (`spawn_helper.py`, a script of its own) that records exit statuses (`exits.py` reads them).
- `slurm.py`: Slurm jobs (sbatch, one squeue per poll).
- `ray.py`: Ray jobs, over `ray_job.py` (the job and what Ray says of it, pure), `ray_client.py` (bounded calls,
  the clusters), `ray_logs.py` (the job's output in its log file) and `ray_adopt.py` (after a restart).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from coopy_core.config import Config, StageConfig
    from coopy_core.executors.base import Executor
    from coopy_core.executors.local import LocalExecutor


def make_executor(name: str, config: Config) -> Executor:
    if name == "local":
        from coopy_core.executors.helped import make_local

        return make_local(config.state_dir, config.pipeline.local_start)
    if name == "slurm":
        from coopy_core.executors.slurm import SlurmExecutor

        return SlurmExecutor(config)
    if name == "ray":
        from coopy_core.executors.ray import RayExecutor

        return RayExecutor(config)
    raise ValueError(f"unknown executor {name!r}")


class Executors:
    """The executors of one engine, made when a stage first needs one (Slurm's or Ray's only if a stage uses it)."""

    def __init__(self, config: Config, given: Mapping[str, Executor] | None = None) -> None:
        self.config = config
        self._made: dict[str, Executor] = dict(given or {})

    def get(self, name: str) -> Executor:
        if name not in self._made:
            self._made[name] = make_executor(name, self.config)
        return self._made[name]

    def for_stage(self, stage: StageConfig) -> Executor:
        return self.get(stage.executor)

    @property
    def local(self) -> LocalExecutor:
        from coopy_core.executors.local import LocalExecutor

        executor = self.get("local")
        if isinstance(executor, LocalExecutor):
            return executor
        if "local-hooks" not in self._made:  # a stand-in replaced "local" (tests): hooks still run locally
            self._made["local-hooks"] = LocalExecutor()
        return self._made["local-hooks"]  # type: ignore[return-value]

    def close(self) -> None:
        for executor in self._made.values():
            executor.close()
