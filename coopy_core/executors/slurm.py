"""Slurm jobs: sbatch to start, one batched squeue per poll for every job, scancel to stop.

A run becomes a batch script that runs the command's argv exactly (every item
shell-quoted, so nothing is re-split) and then records its exit status in the
run's status file, like the local wrapper. The handle keeps the job id, so an
engine restarted after a crash re-adopts the job by asking Slurm about it and
never submits it again. The job also carries a name derived from the run id
and the run id itself as its comment, so a job submitted just before a crash
(before its id was recorded) is found again by `find_started`.

State comes from one `squeue --jobs=ID,ID,...` call every `poll_interval` for all
of the pipeline's jobs (never one call per job); a job's exit code, once it
ended, from `scontrol show job`, falling back to `sacct` (or `sacct -c` where
accounting storage is off), then to the status file the script wrote.

The protocol's `start`, `adopt`, `find_started` and `cancel` are synchronous:
they run one short Slurm command each (bounded by a timeout). A transient
sbatch failure is retried with a short backoff inside `start`; polling runs as
asyncio subprocesses and never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from coopy_core.executors.base import Adopted, Handle, LaunchSpec, OnEnd, OnInfo, StartError
from coopy_core.executors.polling import Poller, report
from coopy_core.executors.wrapper import RUN_ID_VAR, STATUS_VAR, exports, read_status

if TYPE_CHECKING:
    from coopy_core.config import Config, SlurmOptions

log = logging.getLogger("coopy.slurm")

# States after which a job never runs again; anything else (PENDING, RUNNING, COMPLETING,
# CONFIGURING, SUSPENDED, REQUEUED, ...) is alive.
TERMINAL_STATES = frozenset(
    {
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "BOOT_FAIL",
        "DEADLINE",
        "REVOKED",
        "SPECIAL_EXIT",
    }
)
# Words in sbatch's stderr that mean "try again later", not "this job is wrong".
TRANSIENT_PATTERNS = (
    "socket timed out",
    "timed out",
    "unable to contact slurm controller",
    "connection refused",
    "connection reset",
    "temporarily unable",
    "temporarily unavailable",
    "controller is busy",
    "too many pending rpcs",
    "zero bytes were transmitted",
    "communication connection failure",
    "transport endpoint is not connected",
    "try again",
)
COMMAND_TIMEOUT = 60.0  # seconds any single Slurm command may take
SUBMIT_BACKOFF: tuple[float, ...] = (1.0, 2.0, 4.0)  # waits before the 2nd, 3rd, 4th sbatch
SUBMIT_GRACE = 60.0  # a job unknown to every Slurm command this soon after sbatch is not yet "lost"
MAX_NAME_TAIL = 120


@dataclass(frozen=True)
class JobState:
    """One line of squeue: a job's state and Slurm's reason for it."""

    job_id: str
    state: str
    reason: str = ""

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def describe(self) -> str:
        """'PENDING (Resources)', 'RUNNING', ... as a screen shows it."""
        reason = self.reason.strip()
        if reason and reason not in ("None", "(null)"):
            return f"{self.state} ({reason})"
        return self.state


@dataclass
class _Watch:
    handle: Handle
    on_end: OnEnd
    on_info: OnInfo | None
    info: str = ""


@dataclass
class _Result:
    returncode: int
    stdout: str = ""
    stderr: str = ""


@dataclass
class _Ended:
    code: int | None
    info: str = ""
    known: bool = True  # False: no Slurm command and no status file knows this job


def job_name(run_id: str) -> str:
    """Readable in squeue, unique per run: the run id's tail plus a hash of the whole run id.

    Commas are replaced because `squeue --name` takes a comma-separated list.
    """
    tail = run_id.rsplit(":", 1)[-1][:MAX_NAME_TAIL].replace(",", "_").replace(" ", "_")
    digest = hashlib.sha1(run_id.encode()).hexdigest()[:10]
    return f"coopy:{tail}:{digest}"


def batch_script(spec: LaunchSpec) -> str:
    """The batch script: the argv exactly as given (each item shell-quoted), then the exit status."""
    launch = spec.launch
    lines = [
        "#!/bin/sh",
        f"# CooPy run {spec.run_id}",
        "# Written by coopy: runs the command below, then records its exit status.",
    ]
    env = dict(launch.env)
    env[RUN_ID_VAR] = spec.run_id
    env[STATUS_VAR] = str(spec.status)
    lines += [f"export {item}" for item in exports(env)]
    lines += [
        f"cd {shlex.quote(str(launch.cwd))} || exit 1",
        " ".join(shlex.quote(arg) for arg in launch.argv),
        "c=$?",
        'printf "%s\\n" "$c" > "$COOPY_STATUS_FILE.tmp" && mv -f "$COOPY_STATUS_FILE.tmp" "$COOPY_STATUS_FILE"',
        "exit $c",
        "",
    ]
    return "\n".join(lines)


def option_args(options: SlurmOptions | None) -> list[str]:
    """The stage's `slurm = {...}` table as sbatch options."""
    if options is None:
        return []
    args: list[str] = []
    pairs = [
        ("--partition", options.partition),
        ("--time", options.time),
        ("--cpus-per-task", options.cpus_per_task),
        ("--mem", options.mem),
        ("--gres", options.gres),
        ("--account", options.account),
        ("--qos", options.qos),
    ]
    for flag, value in pairs:
        if value is not None:
            args.append(f"{flag}={value}")
    args.extend(options.extra_args)
    return args


def parse_squeue(text: str) -> dict[str, JobState]:
    """Lines of `%i|%T|%r` into job id -> state."""
    jobs: dict[str, JobState] = {}
    for line in text.splitlines():
        parts = line.strip().split("|", 2)
        if len(parts) >= 2 and parts[0]:
            jobs[parts[0]] = JobState(parts[0], parts[1].strip(), parts[2] if len(parts) > 2 else "")
    return jobs


def exit_code_of(state: str, exit_code: str) -> int | None:
    """Slurm's `ExitCode=code:signal` of a job in `state` as one exit code (None: none to give).

    A job that Slurm ended (timeout, out of memory, cancelled, node failure) has no code of
    its own: None, and the state says why.
    """
    code_text, _, signal_text = exit_code.partition(":")
    try:
        code, sig = int(code_text), int(signal_text or 0)
    except ValueError:
        return None
    base = state.split()[0] if state else ""
    if base == "COMPLETED":
        return code
    if base == "FAILED":
        if sig:
            return 128 + sig
        return code or None
    return None


def parse_scontrol(text: str) -> tuple[str, str] | None:
    """(JobState, ExitCode) from `scontrol show job -o`."""
    state = re.search(r"(?:^|\s)JobState=(\S+)", text)
    code = re.search(r"(?:^|\s)ExitCode=(\d+:\d+)", text)
    if state is None or code is None:
        return None
    reason = re.search(r"(?:^|\s)Reason=(\S+)", text)
    described = JobState("", state.group(1), reason.group(1) if reason else "").describe()
    return described, code.group(1)


def last_job(text: str, job_id: str = "", name: str = "") -> tuple[str, str, str] | None:
    """The last row of `sacct --parsable2 --format=JobID,JobName,State,ExitCode` for exactly
    this job id or job name (not its steps): (job id, State, ExitCode)."""
    found = None
    for line in text.splitlines():
        row = line.strip().split("|")
        if len(row) < 4 or not row[0] or "." in row[0]:
            continue
        if (job_id and row[0] == job_id) or (name and row[1] == name):
            found = (row[0], row[2], row[3])
    return found


def slurm_message(stderr: str, stdout: str = "") -> str:
    """Slurm's own words, one line: 'sbatch: error: X' lines joined."""
    lines = []
    for raw in (stderr or stdout).splitlines():
        line = raw.strip()
        for prefix in ("sbatch: error: ", "sbatch: fatal: ", "squeue: error: ", "error: "):
            line = line.removeprefix(prefix)
        if line:
            lines.append(line)
    return "; ".join(lines) or "no message"


def is_transient(message: str) -> bool:
    lower = message.lower()
    return any(p in lower for p in TRANSIENT_PATTERNS)


class SlurmExecutor:
    """Runs each attempt as a Slurm batch job; watches all of them with one squeue per poll."""

    name = "slurm"

    def __init__(
        self,
        config: Config | None = None,
        poll_interval: float | None = None,
        submit_backoff: Sequence[float] = SUBMIT_BACKOFF,
        command_timeout: float = COMMAND_TIMEOUT,
    ) -> None:
        self.config = config
        interval = poll_interval if poll_interval is not None else (config.pipeline.poll_interval if config else 2.0)
        self.poll_interval = float(interval)
        self.submit_backoff = tuple(submit_backoff)
        self.command_timeout = command_timeout
        self._jobs: dict[str, _Watch] = {}
        self._sacct_compat: bool | None = None  # None: not yet known whether to use `sacct -c`
        self._closed = False
        # one squeue for all watched jobs every poll interval, until none is left
        self._poller = Poller(log, "slurm", self.poll_interval, self.poll_once, self._watching)
        self.polls = 0  # batched squeue calls made by the poll loop (for tests and diagnostics)

    # -- commands ----------------------------------------------------------------------
    def _run(self, argv: list[str], env: dict[str, str] | None = None) -> _Result:
        """Run a Slurm command synchronously; a missing binary or a timeout is a result, not an exception."""
        try:
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                env=env,
                timeout=self.command_timeout,
                check=False,
            )
        except FileNotFoundError:
            return _Result(127, "", f"{argv[0]}: command not found (is this a Slurm login node?)")
        except subprocess.TimeoutExpired:
            return _Result(-1, "", f"{argv[0]}: timed out after {self.command_timeout:g}s")
        except OSError as exc:
            return _Result(126, "", f"{argv[0]}: {exc.strerror}")
        return _Result(proc.returncode, proc.stdout, proc.stderr)

    async def _arun(self, argv: list[str]) -> _Result:
        """Like `_run`, without blocking the event loop."""
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except FileNotFoundError:
            return _Result(127, "", f"{argv[0]}: command not found (is this a Slurm login node?)")
        except OSError as exc:
            return _Result(126, "", f"{argv[0]}: {exc.strerror}")
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.command_timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            return _Result(-1, "", f"{argv[0]}: timed out after {self.command_timeout:g}s")
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            raise
        return _Result(proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))

    # -- start -------------------------------------------------------------------------
    def _options(self, spec: LaunchSpec) -> SlurmOptions | None:
        if self.config is None or not spec.stage:
            return None
        try:
            return self.config.stage(spec.stage).slurm
        except KeyError:
            return None

    def sbatch_argv(self, spec: LaunchSpec, script: Path) -> list[str]:
        return [
            "sbatch",
            "--parsable",
            f"--job-name={job_name(spec.run_id)}",
            f"--comment={spec.run_id}",
            f"--output={spec.log}",
            "--open-mode=append",
            f"--chdir={spec.launch.cwd}",
            "--export=ALL",
            *option_args(self._options(spec)),
            str(script),
        ]

    def start(self, spec: LaunchSpec) -> Handle:
        launch = spec.launch
        with contextlib.suppress(FileNotFoundError):
            spec.status.unlink()
        script = spec.status.with_name(spec.status.name.removesuffix(".status") + ".sbatch")
        try:
            spec.status.parent.mkdir(parents=True, exist_ok=True)
            spec.log.parent.mkdir(parents=True, exist_ok=True)
            script.write_text(batch_script(spec))
        except OSError as exc:
            raise StartError(f"cannot write the batch script {script}: {exc.strerror}") from None
        if not launch.cwd.is_dir():
            raise StartError(f"working directory {launch.cwd} does not exist")
        env = dict(os.environ)
        env.update(launch.env)
        env[RUN_ID_VAR] = spec.run_id
        env[STATUS_VAR] = str(spec.status)
        argv = self.sbatch_argv(spec, script)
        message = ""
        for attempt, delay in enumerate((0.0, *self.submit_backoff)):
            if delay:
                time.sleep(delay)
            if attempt:
                # the failed sbatch may have reached the controller after all: never submit twice
                try:
                    found = self._lookup(spec.run_id)
                except _Unreachable:
                    continue
                if found is not None:
                    return self._handle(found, spec)
            result = self._run(argv, env)
            if result.returncode == 0:
                job_id = result.stdout.strip().split(";")[0].strip()
                if job_id:
                    return self._handle(job_id, spec)
                message = f"sbatch printed no job id: {result.stdout.strip()!r}"
                continue
            message = slurm_message(result.stderr, result.stdout)
            if result.returncode in (126, 127):
                raise StartError(f"cannot run sbatch: {message}")
            if not (result.returncode < 0 or is_transient(message)):
                raise StartError(f"sbatch rejected the job: {message}")
            log.warning("sbatch failed (%s); retrying", message)
        raise StartError(f"sbatch failed {len(self.submit_backoff) + 1} times: {message}")

    def _handle(self, job_id: str, spec: LaunchSpec) -> Handle:
        self._poller.wake()  # show PENDING/RUNNING without waiting a whole interval
        return {
            "job_id": job_id,
            "job_name": job_name(spec.run_id),
            "run_id": spec.run_id,
            "status": str(spec.status),
            "submitted": time.time(),
        }

    def _lookup(self, run_id: str) -> str | None:
        """The job id of `run_id`'s job if Slurm knows it (by its name, confirmed by its comment)."""
        name = job_name(run_id)
        result = self._run(["squeue", "--noheader", "--states=all", f"--name={name}", "--format=%i|%k"])
        if result.returncode != 0:
            raise _Unreachable(slurm_message(result.stderr, result.stdout))
        candidates = []
        for line in result.stdout.splitlines():
            job_id, _, comment = line.strip().partition("|")
            if job_id:
                if comment == run_id:
                    return job_id
                candidates.append(job_id)
        if candidates:
            return candidates[-1]  # the hash in the name is already specific to this run
        found = self._sacct(name=name)
        return found[0] if found else None

    # -- watch -------------------------------------------------------------------------
    def watch(self, handle: Handle, on_end: OnEnd, on_info: OnInfo | None = None) -> None:
        loop = asyncio.get_running_loop()
        job_id = handle.get("job_id")
        if not job_id:
            # found only by its status file (the job is long gone from Slurm)
            code = read_status(Path(handle["status"]))
            loop.call_soon(on_end, code)
            return
        self._closed = False
        self._jobs[str(job_id)] = _Watch(handle, on_end, on_info)
        self._poller.ensure()

    def _watching(self) -> bool:
        return bool(self._jobs) and not self._closed

    async def poll_once(self) -> None:
        """Ask Slurm once about every watched job; report changes and ends."""
        ids = list(self._jobs)
        if not ids:
            return
        self.polls += 1
        result = await self._arun(
            ["squeue", "--noheader", "--states=all", f"--jobs={','.join(ids)}", "--format=%i|%T|%r"]
        )
        if result.returncode != 0:
            message = slurm_message(result.stderr, result.stdout)
            if "invalid job id" not in message.lower():
                for job_id in ids:
                    self._report(job_id, f"squeue failed: {message}")
                return
            states: dict[str, JobState] = {}  # none of them is known any more
        else:
            states = parse_squeue(result.stdout)
        for job_id in ids:
            watch = self._jobs.get(job_id)
            if watch is None:
                continue
            state = states.get(job_id)
            if state is not None and not state.terminal:
                self._report(job_id, state.describe())
                continue
            ended = await asyncio.to_thread(self._ended, job_id, watch.handle, state)
            if not ended.known and time.time() - float(watch.handle.get("submitted") or 0) < SUBMIT_GRACE:
                continue  # just submitted; Slurm will show it
            if self._jobs.get(job_id) is not watch:
                continue  # closed or cancelled meanwhile
            del self._jobs[job_id]
            if ended.info and ended.code is None:
                self._report_to(watch, ended.info)
            watch.on_end(ended.code)

    def _report(self, job_id: str, info: str) -> None:
        watch = self._jobs.get(job_id)
        if watch is not None:
            self._report_to(watch, info)

    @staticmethod
    def _report_to(watch: _Watch, info: str) -> None:
        report(watch, info, log)

    def _ended(self, job_id: str, handle: Handle, state: JobState | None) -> _Ended:
        """How an ended job ended: scontrol, then sacct, then the status file the script wrote."""
        result = self._run(["scontrol", "show", "job", "-o", job_id])
        parsed = parse_scontrol(result.stdout) if result.returncode == 0 else None
        if parsed is None:
            found = self._sacct(job_id=job_id)
            parsed = (found[1], found[2]) if found else None
        if parsed is not None:
            described, exit_code = parsed
            code = exit_code_of(described, exit_code)
            if code is None and described.split()[0] in ("COMPLETED", "FAILED"):
                code = read_status(Path(handle["status"]))
            return _Ended(code, described)
        code = read_status(Path(handle["status"]))
        if code is not None:
            return _Ended(code)
        info = state.describe() if state else "job no longer known to Slurm"
        return _Ended(None, info, known=state is not None)

    def _sacct(self, *, job_id: str = "", name: str = "") -> tuple[str, str, str] | None:
        """(job id, State, ExitCode) of the job with this id or name, from sacct; with `-c` (the job
        completion log) where accounting storage is off. `sacct -c` ignores some filters
        (--name), so every row is checked here."""
        selector = ["--jobs", job_id] if job_id else ["--name", name]
        fields = ["--noheader", "--parsable2", "--format=JobID,JobName,State,ExitCode"]
        if not self._sacct_compat:
            result = self._run(["sacct", "-X", *fields, *selector])
            if result.returncode == 0:
                return last_job(result.stdout, job_id, name)
            if "accounting storage is disabled" not in (result.stderr + result.stdout).lower():
                return None
            self._sacct_compat = True
        result = self._run(["sacct", "-c", *fields, *selector])
        return last_job(result.stdout, job_id, name) if result.returncode == 0 else None

    # -- cancel ------------------------------------------------------------------------
    def cancel(self, handle: Handle, grace: float = 3.0) -> None:
        """scancel: Slurm sends SIGTERM to the job's processes, then SIGKILL after its KillWait."""
        job_id = handle.get("job_id")
        if not job_id:
            return
        result = self._run(["scancel", str(job_id)])
        if result.returncode != 0:
            log.warning("scancel %s failed: %s", job_id, slurm_message(result.stderr, result.stdout))
        self._poller.hurry(grace)

    def stop_leftovers(
        self, handle: Handle, run_prefix: str, grace: float, on_clear: Callable[[], None], on_info: OnInfo | None = None
    ) -> None:
        """Nothing to do: the job has ended, and Slurm ends a job's processes with it (all of them with
        `ProctrackType=proctrack/cgroup`; with proctrack/pgid a process that left the job's group survives)."""
        asyncio.get_running_loop().call_soon(on_clear)

    # -- adopt -------------------------------------------------------------------------
    def adopt(self, handle: Handle) -> Adopted:
        job_id = handle.get("job_id")
        if not job_id:
            code = read_status(Path(handle["status"]))
            return Adopted(alive=False, exit_code=code, lost=code is None)
        result = self._run(["squeue", "--noheader", "--states=all", f"--jobs={job_id}", "--format=%i|%T|%r"])
        if result.returncode != 0 and "invalid job id" not in slurm_message(result.stderr).lower():
            # Slurm cannot be asked now: keep watching; the poll settles it once it answers
            return Adopted(alive=True)
        state = parse_squeue(result.stdout).get(str(job_id)) if result.returncode == 0 else None
        if state is not None and not state.terminal:
            return Adopted(alive=True)
        ended = self._ended(str(job_id), handle, state)
        if ended.code is None and not ended.known:
            return Adopted(alive=False, lost=True)
        return Adopted(alive=False, exit_code=ended.code)

    def find_started(self, run_id: str, status: Path) -> Handle | None:
        try:
            job_id = self._lookup(run_id)
        except _Unreachable:
            job_id = None
        if job_id is None:
            if read_status(status) is None:
                return None
            return {"job_id": None, "run_id": run_id, "status": str(status), "submitted": 0.0}
        return {
            "job_id": job_id,
            "job_name": job_name(run_id),
            "run_id": run_id,
            "status": str(status),
            "submitted": time.time(),
        }

    def close(self) -> None:
        """Stop watching; the jobs keep running in Slurm (the next engine re-adopts them)."""
        self._closed = True
        self._jobs.clear()
        self._poller.stop()


class _Unreachable(Exception):
    """Slurm could not be asked (controller down, timeout)."""
