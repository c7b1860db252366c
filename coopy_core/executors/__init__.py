"""Executors: where a run's command runs. All implement `base.Executor`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from coopy_core.config import Config
    from coopy_core.executors.base import Executor


def make_executor(name: str, config: Config) -> Executor:
    if name == "local":
        from coopy_core.executors.local import LocalExecutor

        return LocalExecutor()
    if name == "slurm":
        from coopy_core.executors.slurm import SlurmExecutor

        return SlurmExecutor(config)
    raise ValueError(f"unknown executor {name!r}")
