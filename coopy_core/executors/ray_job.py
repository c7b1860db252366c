"""One attempt as a Ray job, and what Ray's answers about it mean; pure, no call to Ray.

The job's id, the files kept beside its status file, the entrypoint and the `submit_job` arguments; from a job
Ray lists: its status, its exit code, and its message cut to one line.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coopy_core.executors.base import Handle, LaunchSpec, OnEnd, OnInfo
from coopy_core.executors.wrapper import RUN_ID_VAR, exports

if TYPE_CHECKING:
    from coopy_core.config import RayOptions

ADDRESS_VAR = "RAY_ADDRESS"
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})
NO_ADDRESS = (
    "no Ray cluster: set ray.address on the stage or RAY_ADDRESS (to try one on this machine: "
    "`ray start --head`, then `export RAY_ADDRESS=http://127.0.0.1:8265`)"
)


@dataclass
class Watch:
    """One job the executor watches: its handle, whom to tell, and how far its log is copied."""

    handle: Handle
    on_end: OnEnd
    on_info: OnInfo | None
    info: str = ""
    written: int = 0  # bytes of the job's output already in the log file
    tail: asyncio.Task[None] | None = None
    stopping: bool = False  # cancel asked; an unsubmitted job then ends at once

    @property
    def job_id(self) -> str:
        return str(self.handle["job_id"])


# ------------------------------------------------------------------ the job
def submission_id(run_id: str, token: str) -> str:
    """`coopy-<12 hex of the run id>-<token>`: only [a-z0-9-], safe in Ray's URLs and log file names."""
    return f"coopy-{hashlib.sha1(run_id.encode()).hexdigest()[:12]}-{token}"


def record_path(status: Path) -> Path:
    """Where an attempt's submission is recorded before it is made (next to its status file)."""
    return status.with_name(status.name.removesuffix(".status") + ".ray.json")


def stop_path(status: Path) -> Path:
    """Written when an attempt is stopped: a job Ray starts after all (see `entrypoint`) then runs nothing."""
    return status.with_name(status.name.removesuffix(".status") + ".ray.stop")


def resolve_address(options: RayOptions | None, environ: dict[str, str] | os._Environ[str] | None = None) -> str:
    """The stage's `ray.address`, else $RAY_ADDRESS; '' when neither is set."""
    env = os.environ if environ is None else environ
    if options is not None and options.address:
        return options.address
    return env.get(ADDRESS_VAR, "").strip()


def entrypoint(argv: list[str], cwd: Path | None, env: dict[str, str] | None = None, stop: Path | None = None) -> str:
    """The shell command Ray runs: the run's env exported and every argv item quoted; `cd` first unless Ray
    provides the working dir. The env goes here, not in runtime_env.env_vars: Ray expands `$X` in those.

    `stop`: Ray cannot stop a job it has not placed yet (stop_job is queued, and the job still starts once a
    node has room), so a job stopped while PENDING looks for this file first and then runs nothing."""
    parts = []
    if stop is not None:
        quoted = shlex.quote(str(stop))
        parts.append(f"if [ -e {quoted} ]; then echo 'coopy: stopped before Ray started it' >&2; exit 125; fi;")
    exported = exports(env or {})
    if exported:
        parts.append("export " + " ".join(exported) + ";")
    if cwd is not None:
        parts.append(f"cd {shlex.quote(str(cwd))} &&")
    parts.append(" ".join(shlex.quote(arg) for arg in argv))
    return " ".join(parts)


def job_request(spec: LaunchSpec, options: RayOptions | None, base_dir: Path | None, job_id: str) -> dict[str, Any]:
    """The submit_job arguments for this attempt (kept in the handle: a later submit sends the same).
    `base_dir`: what the stage's `runtime_env.working_dir` is relative to (None: the current directory)."""
    env_options = options.runtime_env if options else None
    runtime_env: dict[str, Any] = {}
    if env_options is not None and env_options.env_vars:
        runtime_env["env_vars"] = dict(env_options.env_vars)  # Ray's own: `${X}` expanded on the node
    env = dict(spec.launch.env)
    env[RUN_ID_VAR] = spec.run_id
    cwd: Path | None = spec.launch.cwd
    if env_options is not None and env_options.working_dir is not None:
        base = base_dir if base_dir is not None else Path.cwd()
        runtime_env["working_dir"] = str((base / env_options.working_dir).resolve())
        cwd = None
    metadata = dict(options.metadata) if options else {}
    metadata.update(coopy_run_id=spec.run_id[-1000:], coopy_stage=spec.stage)
    request: dict[str, Any] = {
        "entrypoint": entrypoint(spec.launch.argv, cwd, env, stop_path(spec.status)),
        "submission_id": job_id,
        "runtime_env": runtime_env,
        "metadata": metadata,
    }
    if options is not None:
        if options.num_cpus:
            request["entrypoint_num_cpus"] = options.num_cpus
        if options.num_gpus:
            request["entrypoint_num_gpus"] = options.num_gpus
        if options.resources:
            request["entrypoint_resources"] = {k: float(v) for k, v in options.resources.items()}
    return request


# ------------------------------------------------------------------ placement
def request_resources(options: RayOptions | None) -> dict[str, float]:
    """The entrypoint resources asked for, as Ray counts them: {'CPU': 1, 'GPU': 1, 'special': 2}."""
    if options is None:
        return {}
    wanted: dict[str, float] = {}
    if options.num_cpus:
        wanted["CPU"] = float(options.num_cpus)
    if options.num_gpus:
        wanted["GPU"] = float(options.num_gpus)
    for name, amount in options.resources.items():
        if amount:
            wanted[name] = float(amount)
    return wanted


def fits(wanted: dict[str, float], total: dict[str, float]) -> bool:
    return all(total.get(name, 0.0) >= amount for name, amount in wanted.items())


def show_resources(wanted: dict[str, float]) -> str:
    return ", ".join(f"{name} {amount:g}" for name, amount in sorted(wanted.items()))


# ------------------------------------------------------------------ what Ray says
def first_sentence(message: str | None) -> str:
    """Ray's messages run over lines (a failed job's carries its last logs): the first line, cut short."""
    line = (message or "").strip().splitlines()[0].strip() if (message or "").strip() else ""
    line = line.split(", last available logs")[0]
    return line if len(line) <= 300 else line[:297] + "..."


def ray_error(exc: BaseException) -> str:
    """The meaningful line of an SDK error: Ray wraps the server's traceback into the message."""
    text = str(exc).strip()
    found = re.findall(r"^\s*(?:[\w.]+(?:Error|Exception)): (.+)$", text, flags=re.MULTILINE)
    if found:
        return found[-1].strip().rstrip(".") + "."
    return first_sentence(text) or type(exc).__name__


def job_status(job: Any) -> str:
    """PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED (Ray's JobStatus as text)."""
    status = getattr(job, "status", "")
    return str(getattr(status, "value", status))


def exit_code(job: Any) -> int | None:
    """The job's exit code (None: Ray ended it without one, or it is not over)."""
    status = job_status(job)
    code = getattr(job, "driver_exit_code", None)
    if isinstance(code, int):
        return code if code >= 0 else 128 - code  # killed by signal N: -N, as a shell says 128+N
    if status == "SUCCEEDED":
        return 0
    if status == "FAILED":  # Ray before driver_exit_code: the number is in the message
        found = re.search(r"failed with exit code (-?\d+)", getattr(job, "message", "") or "")
        if found:
            return int(found.group(1))
    return None
