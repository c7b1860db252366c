"""A stage's `slurm = { ... }` and `ray = { ... }` tables: the options of the cluster executors, checked
before anything is submitted."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, StrictFloat, StrictInt, StrictStr, field_validator

from coopy_core.config.fields import Strict

# sbatch options CooPy sets itself (overriding them would lose the log, the job's identity
# after a crash or the argv), and --array (one run is one job; see executors/slurm.py).
RESERVED_SBATCH_OPTIONS = (
    "--parsable",
    "--job-name",
    "-J",
    "--output",
    "-o",
    "--error",
    "-e",
    "--chdir",
    "-D",
    "--export",
    "--comment",
    "--wrap",
    "--open-mode",
    "--array",
    "-a",
)
SLURM_TIME_PATTERN = r"^(\d+-\d+(:\d+){0,2}|\d+(:\d+){0,2}|UNLIMITED|INFINITE)$"
SLURM_MEM_PATTERN = r"^\d+[KMGTkmgt]?$"


def _sbatch_option(arg: str) -> str:
    """One `extra_args` item: an option (not a script path), and not one CooPy sets itself."""
    if not arg.startswith("-"):
        raise ValueError("should be an sbatch option, one item per option, like '--constraint=gpu'")
    flag = arg.split("=", 1)[0] if arg.startswith("--") else arg[:2]
    if flag in ("--array", "-a"):
        raise ValueError(f"{flag} is not supported: each run is one Slurm job")
    if flag in RESERVED_SBATCH_OPTIONS:
        raise ValueError(f"{flag} is set by CooPy itself")
    return arg


SbatchOption = Annotated[StrictStr, AfterValidator(_sbatch_option)]


class SlurmOptions(Strict):
    """A stage's `slurm = { ... }` table: sbatch options for its jobs (all optional)."""

    partition: StrictStr | None = Field(default=None, min_length=1)
    time: StrictStr | StrictInt | None = None  # "HH:MM:SS", "D-HH", minutes, ...
    cpus_per_task: StrictInt | None = Field(default=None, ge=1)
    mem: StrictStr | StrictInt | None = None  # "4G", or megabytes
    gres: StrictStr | None = Field(default=None, min_length=1)
    account: StrictStr | None = Field(default=None, min_length=1)
    qos: StrictStr | None = Field(default=None, min_length=1)
    extra_args: list[SbatchOption] = Field(default_factory=list)

    @field_validator("time")
    @classmethod
    def _slurm_time(cls, value: str | int | None) -> str | int | None:
        if isinstance(value, int):
            if value < 1:
                raise ValueError("should be at least 1 (minutes)")
        elif value is not None and not re.match(SLURM_TIME_PATTERN, value):
            raise ValueError("should be a Slurm time limit: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS")
        return value

    @field_validator("mem")
    @classmethod
    def _slurm_mem(cls, value: str | int | None) -> str | int | None:
        if isinstance(value, int):
            if value < 1:
                raise ValueError("should be at least 1 (megabytes)")
        elif value is not None and not re.match(SLURM_MEM_PATTERN, value):
            raise ValueError("should be a Slurm memory size: megabytes, or a number with K, M, G or T")
        return value


RayAmount = Annotated[StrictInt | StrictFloat, Field(ge=0, le=1_000_000)]


class RayRuntimeEnv(Strict):
    """The part of Ray's runtime_env CooPy passes on: nothing that downloads (no pip, conda, URIs)."""

    env_vars: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    working_dir: StrictStr | None = Field(default=None, min_length=1)  # a local folder, relative to the config

    @field_validator("working_dir")
    @classmethod
    def _local_path(cls, value: str | None) -> str | None:
        if value is not None and "://" in value:
            raise ValueError("should be a local folder (a URI would be downloaded by every node)")
        return value


class RayOptions(Strict):
    """A stage's `ray = { ... }` table: where and with what its Ray jobs run (all optional)."""

    address: StrictStr | None = Field(default=None, min_length=1)  # default: $RAY_ADDRESS
    num_cpus: RayAmount | None = None  # the job's entrypoint resources: Ray places the job by them
    num_gpus: RayAmount | None = None
    resources: dict[StrictStr, RayAmount] = Field(default_factory=dict)  # custom resources, e.g. {special = 1}
    runtime_env: RayRuntimeEnv | None = None
    metadata: dict[StrictStr, StrictStr] = Field(default_factory=dict)  # shown by Ray next to CooPy's own keys
    wait_for_nodes: bool = False  # true on a cluster that adds nodes on demand: see executors/ray.py
