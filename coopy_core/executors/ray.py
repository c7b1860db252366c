"""Ray jobs: each attempt is one job of Ray's Jobs API, watched with one `list_jobs` per poll for all of them.

The job's `submission_id` is CooPy's choice: `coopy-<hash of the run id>-<token>`, the token drawn once per
attempt and written to a record file in the state dir (`status/<stage>/<run>.<attempt>.ray.json`) *before*
the job is submitted. Ray refuses a second job with the same submission_id, so an attempt is submitted at
most once: a submit that failed on the way (the head did not answer) is simply tried again, and "already
exists" means it got there. A restarted engine finds the job by that id (from the store's handle, or from
the record after a crash between submit and saving the handle); the token keeps a job of an earlier life
of the same state dir (deleted and made again) from being taken for this one.

The entrypoint is the run's argv with every item `shlex.quote`d (Ray runs entrypoints with a shell),
after `cd <the run's cwd>` unless `runtime_env.working_dir` is given (then Ray's copy of it is the cwd),
and after `export` of the run's env (COOPY_*, the stage's `env`, pool variables), also quoted: Ray would
expand `$X` in `runtime_env.env_vars`, which are passed on as the stage's `ray.runtime_env` gives them.

Polling: every `poll_interval`, one `list_jobs` per cluster address for all watched jobs (never one call per
job; nothing while no job is watched). News becomes the run's reason: `PENDING (Job has not started yet.)`,
`RUNNING on 127.0.0.3`. An end: the rest of the job's log is fetched (`get_job_logs`) so the log file is
complete before the run's Detector reads it, then the exit code (Ray's `driver_exit_code`) is reported; a
job Ray ended without one (stopped, or failed before it ran) reports Ray's message instead.

Logs: while a job runs its output is followed (`tail_job_logs`) into CooPy's per-attempt log file, so the
TUI's log tail works; after a restart the follow starts again and skips what the file already has.

Placement: `num_cpus`, `num_gpus` and `resources` are the job's entrypoint resources, so Ray places the
job on a node that has them. A request that no alive node of the cluster has at all is failed by CooPy
after INFEASIBLE_AFTER seconds (Ray itself would leave it PENDING until RAY_JOB_START_TIMEOUT_SECONDS,
15 minutes by default), unless the stage says `wait_for_nodes = true` (a cluster that adds nodes on demand).

The head going away: Ray ends every running job with its head. While the head does not answer, the runs
say so; once it has not answered for `lost_after` seconds (or answers again without the job: a new head),
the jobs are lost: the attempt fails with that reason and the stage's retries apply. A retry started while
the head is still away waits for it (it is submitted once the head answers) instead of failing at once.

Every call to Ray runs in a daemon thread bounded by a timeout (Ray's SDK sets none), so a hung head never
blocks the engine for long; the protocol's synchronous methods (start, cancel, adopt, find_started) make
one such call each.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import shlex
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from coopy_core.executors.base import Adopted, Handle, LaunchSpec, OnEnd, OnInfo, StartError
from coopy_core.executors.local import RUN_ID_VAR
from coopy_core.executors.polling import Poller

if TYPE_CHECKING:
    from coopy_core.config import Config, RayOptions

log = logging.getLogger("coopy.ray")

ADDRESS_VAR = "RAY_ADDRESS"
CALL_TIMEOUT = 30.0  # seconds any one call to Ray may take
HEAD_LOST_AFTER = 30.0  # seconds the head may not answer before its running jobs count as lost
INFEASIBLE_AFTER = 10.0  # seconds a job may be pending for resources no node has (a node may be joining)
NODES_FRESH = 10.0  # seconds a list of the cluster's nodes is trusted
TAIL_RETRY = 2.0  # seconds before following a job's log again after the stream broke
UNREACHABLE_WORDS = (  # what a failed connection says, in a few words (requests' own messages run long)
    ("connection refused", "connection refused"),
    ("timed out", "timed out"),
    ("name or service not known", "unknown host"),
    ("no route to host", "no route to host"),
    ("failed to connect", "cannot connect"),
)
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})
NO_ADDRESS = (
    "no Ray cluster: set ray.address on the stage or RAY_ADDRESS (to try one on this machine: "
    "`ray start --head`, then `export RAY_ADDRESS=http://127.0.0.1:8265`)"
)

T = TypeVar("T")


class Unreachable(Exception):
    """The head did not answer (connection refused, timeout, a server error)."""


class NotFound(Exception):
    """The cluster answered: it has no job with this id."""


class Rejected(Exception):
    """The cluster answered: it will not take this job (the message says why)."""


class AlreadyExists(Exception):
    """The cluster already has a job with this submission id."""


# ------------------------------------------------------------------ pure helpers
def submission_id(run_id: str, token: str) -> str:
    """`coopy-<12 hex of the run id>-<token>`: only [a-z0-9-], safe in Ray's URLs and log file names."""
    return f"coopy-{hashlib.sha1(run_id.encode()).hexdigest()[:12]}-{token}"


def record_path(status: Path) -> Path:
    """Where an attempt's submission is recorded before it is made (next to its status file)."""
    return status.with_name(status.name.removesuffix(".status") + ".ray.json")


def resolve_address(options: RayOptions | None, environ: dict[str, str] | os._Environ[str] | None = None) -> str:
    """The stage's `ray.address`, else $RAY_ADDRESS; '' when neither is set."""
    env = os.environ if environ is None else environ
    if options is not None and options.address:
        return options.address
    return env.get(ADDRESS_VAR, "").strip()


def stop_path(status: Path) -> Path:
    """Written when an attempt is stopped: a job Ray starts after all (see `entrypoint`) then runs nothing."""
    return status.with_name(status.name.removesuffix(".status") + ".ray.stop")


def entrypoint(argv: list[str], cwd: Path | None, env: dict[str, str] | None = None, stop: Path | None = None) -> str:
    """The shell command Ray runs: the run's env exported and every argv item quoted; `cd` first unless Ray
    provides the working dir. The env goes here, not in runtime_env.env_vars: Ray expands `$X` in those.

    `stop`: Ray cannot stop a job it has not placed yet (stop_job is queued, and the job still starts once a
    node has room), so a job stopped while PENDING looks for this file first and then runs nothing."""
    parts = []
    if stop is not None:
        quoted = shlex.quote(str(stop))
        parts.append(f"if [ -e {quoted} ]; then echo 'coopy: stopped before Ray started it' >&2; exit 125; fi;")
    exports = [f"{k}={shlex.quote(v)}" for k, v in (env or {}).items() if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k)]
    if exports:
        parts.append("export " + " ".join(exports) + ";")
    if cwd is not None:
        parts.append(f"cd {shlex.quote(str(cwd))} &&")
    parts.append(" ".join(shlex.quote(arg) for arg in argv))
    return " ".join(parts)


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


def exit_code(job: Any) -> int | None:
    """The job's exit code (None: Ray ended it without one, or it is not over)."""
    status = _status(job)
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


def _status(job: Any) -> str:
    status = getattr(job, "status", "")
    return str(getattr(status, "value", status))


# ------------------------------------------------------------------ calls to Ray, bounded
def _classify(exc: BaseException) -> Exception:
    text = str(exc)
    if isinstance(exc, Unreachable | NotFound | Rejected | AlreadyExists):
        return exc
    if isinstance(exc, OSError | TimeoutError):  # requests' ConnectionError and Timeout are OSErrors
        for needle, shown in UNREACHABLE_WORDS:
            if needle in text.lower():
                return Unreachable(shown)
        return Unreachable(f"{type(exc).__name__}: {first_sentence(text)[:200]}")
    if "already exists" in text:
        return AlreadyExists(ray_error(exc))
    if "status code 404" in text or "does not exist" in text:
        return NotFound(ray_error(exc))
    if re.search(r"status code 50[234]", text):
        return Unreachable(ray_error(exc))
    return Rejected(ray_error(exc))


def call_bounded(fn: Callable[[], T], timeout: float) -> T:
    """Run `fn` in a daemon thread and wait at most `timeout` s (a hung head leaves only that thread)."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=work, name="coopy-ray-call", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise Unreachable(f"no answer within {timeout:g}s")
    if "error" in box:
        raise _classify(box["error"]) from None
    return box["value"]


async def call_async(fn: Callable[[], T], timeout: float) -> T:
    """`call_bounded` without blocking the event loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(value: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def work() -> None:
        try:
            value = fn()
        except BaseException as exc:  # noqa: BLE001
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(deliver, None, _classify(exc))
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, value, None)

    threading.Thread(target=work, name="coopy-ray-call", daemon=True).start()
    try:
        return await asyncio.wait_for(future, timeout)
    except TimeoutError:
        raise Unreachable(f"no answer within {timeout:g}s") from None


_ENV_LOCK = threading.Lock()
OVERRIDING_VARS = ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS")


@contextlib.contextmanager
def _address_from_us(address: str) -> Iterator[None]:
    """Ray's clients let $RAY_ADDRESS / $RAY_API_SERVER_ADDRESS override the address they are given;
    a stage's `ray.address` must win, so when one of them says otherwise they are hidden while a client
    is made (once per address; the usual case, the address taken from $RAY_ADDRESS, changes nothing)."""
    if all(os.environ.get(k) in (None, address) for k in OVERRIDING_VARS):
        yield
        return
    with _ENV_LOCK:
        saved = {k: os.environ.pop(k) for k in OVERRIDING_VARS if k in os.environ}
        try:
            yield
        finally:
            os.environ.update(saved)


def make_clients(address: str) -> tuple[Any, Any]:
    """(JobSubmissionClient, StateApiClient) for `address`; raises if the head does not answer."""
    from ray.job_submission import JobSubmissionClient
    from ray.util.state import StateApiClient

    # the SDK logs every closed log stream at INFO on stderr: that would break `coopy run`'s live lines
    logging.getLogger("ray.dashboard.modules.job.sdk").setLevel(logging.WARNING)
    with _address_from_us(address):
        jobs = JobSubmissionClient(address)
        state = StateApiClient(address=jobs.get_address())
    return jobs, state


# ------------------------------------------------------------------ state
@dataclass
class _Watch:
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


@dataclass
class _Cluster:
    address: str
    jobs_client: Any = None
    state_client: Any = None
    unreachable_since: float | None = None
    error: str = ""
    nodes: dict[str, tuple[str, dict[str, float]]] = field(default_factory=dict)  # alive: id -> (name, total)
    nodes_at: float = 0.0


class RayExecutor:
    """Runs each attempt as a Ray job; watches all of them with one `list_jobs` per cluster per poll."""

    name = "ray"

    def __init__(
        self,
        config: Config | None = None,
        poll_interval: float | None = None,
        lost_after: float = HEAD_LOST_AFTER,
        infeasible_after: float = INFEASIBLE_AFTER,
        call_timeout: float = CALL_TIMEOUT,
        clients: Callable[[str], tuple[Any, Any]] = make_clients,
    ) -> None:
        self.config = config
        interval = poll_interval if poll_interval is not None else (config.pipeline.poll_interval if config else 2.0)
        self.poll_interval = float(interval)
        self.lost_after = lost_after
        self.infeasible_after = infeasible_after
        self.call_timeout = call_timeout
        self._make_clients = clients
        self._clusters: dict[str, _Cluster] = {}
        self._jobs: dict[str, _Watch] = {}
        self._closed = False
        # one list_jobs per cluster for all watched jobs every poll interval, until none is left
        self._poller = Poller(log, "ray", self.poll_interval, self.poll_once, self._watching)
        self.calls: Counter[str] = Counter()  # calls to Ray by name (tests and the benchmark read it)

    @property
    def polls(self) -> int:
        """`list_jobs` calls made so far: one per cluster per poll, whatever the number of jobs."""
        return self.calls["list_jobs"]

    # -- clients -----------------------------------------------------------------------
    def _cluster(self, address: str) -> _Cluster:
        if address not in self._clusters:
            self._clusters[address] = _Cluster(address)
        return self._clusters[address]

    def _connect(self, cluster: _Cluster) -> None:
        if cluster.jobs_client is None:
            self.calls["connect"] += 1
            cluster.jobs_client, cluster.state_client = call_bounded(
                lambda: self._make_clients(cluster.address), self.call_timeout
            )

    def _call(self, address: str, name: str, *args: Any, **kwargs: Any) -> Any:
        cluster = self._cluster(address)
        self._connect(cluster)
        self.calls[name] += 1
        method = getattr(cluster.jobs_client, name)
        return call_bounded(lambda: method(*args, **kwargs), self.call_timeout)

    async def _acall(self, address: str, name: str, *args: Any, **kwargs: Any) -> Any:
        cluster = self._cluster(address)
        if cluster.jobs_client is None:
            self.calls["connect"] += 1
            cluster.jobs_client, cluster.state_client = await call_async(
                lambda: self._make_clients(cluster.address), self.call_timeout
            )
        self.calls[name] += 1
        method = getattr(cluster.jobs_client, name)
        return await call_async(lambda: method(*args, **kwargs), self.call_timeout)

    # -- start -------------------------------------------------------------------------
    def _options(self, stage: str) -> RayOptions | None:
        if self.config is None or not stage:
            return None
        try:
            return self.config.stage(stage).ray
        except KeyError:
            return None

    def request(self, spec: LaunchSpec, job_id: str) -> dict[str, Any]:
        """The submit_job arguments for this attempt (kept in the handle: a later submit sends the same)."""
        options = self._options(spec.stage)
        env_options = options.runtime_env if options else None
        runtime_env: dict[str, Any] = {}
        if env_options is not None and env_options.env_vars:
            runtime_env["env_vars"] = dict(env_options.env_vars)  # Ray's own: `${X}` expanded on the node
        env = dict(spec.launch.env)
        env[RUN_ID_VAR] = spec.run_id
        cwd: Path | None = spec.launch.cwd
        if env_options is not None and env_options.working_dir is not None:
            base = self.config.base_dir if self.config else Path.cwd()
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

    def start(self, spec: LaunchSpec) -> Handle:
        options = self._options(spec.stage)
        address = resolve_address(options)
        if not address:
            raise StartError(NO_ADDRESS)
        job_id = submission_id(spec.run_id, secrets.token_hex(4))
        request = self.request(spec, job_id)
        try:
            with contextlib.suppress(FileNotFoundError):
                stop_path(spec.status).unlink()
            spec.log.parent.mkdir(parents=True, exist_ok=True)
            with open(spec.log, "ab") as f:  # there at once, like a local run's: the TUI can follow it
                offset = f.tell()
            record = record_path(spec.status)
            record.parent.mkdir(parents=True, exist_ok=True)
            handle: Handle = {
                "job_id": job_id,
                "address": address,
                "run_id": spec.run_id,
                "log": str(spec.log),
                "log_offset": offset,
                "stop_file": str(stop_path(spec.status)),
                "wants": request_resources(options),
                "wait_for_nodes": bool(options and options.wait_for_nodes),
                "request": request,
                "submitted": False,
                "submitted_at": time.time(),
            }
            tmp = record.with_name(record.name + ".tmp")
            tmp.write_text(json.dumps(handle))
            os.replace(tmp, record)  # recorded before it is submitted: a crash after the submit finds it
        except OSError as exc:
            raise StartError(f"cannot write {exc.filename}: {exc.strerror}") from None
        try:
            self._submit(handle)
        except Unreachable as exc:
            # submitted once the head answers (the same id: never twice); the run says what it waits for
            handle["waiting"] = f"waiting for the Ray head at {address} ({exc})"
            log.warning("ray: %s not submitted yet: %s", job_id, exc)
        except Rejected as exc:
            raise StartError(f"Ray rejected the job: {exc}") from None
        self._poller.wake()  # show PENDING/RUNNING without waiting a whole interval
        return handle

    def _submit(self, handle: Handle) -> None:
        """Submit (or find submitted) the handle's job; raises Unreachable or Rejected."""
        with contextlib.suppress(AlreadyExists):  # an earlier try got there: this attempt's job (the id is ours)
            self._call(handle["address"], "submit_job", **handle["request"])
        handle["submitted"] = True
        handle["submitted_at"] = time.time()
        handle.pop("waiting", None)

    # -- watch -------------------------------------------------------------------------
    def watch(self, handle: Handle, on_end: OnEnd, on_info: OnInfo | None = None) -> None:
        self._closed = False
        watch = _Watch(handle, on_end, on_info)
        self._jobs[watch.job_id] = watch
        if handle.get("waiting"):
            self._report(watch, handle["waiting"])
        if handle.get("submitted"):
            self._follow(watch)
        self._poller.ensure(wake=True)

    def _watching(self) -> bool:
        return bool(self._jobs) and not self._closed

    async def poll_once(self) -> None:
        """Ask each cluster once about all of its watched jobs; report news and ends."""
        by_address: dict[str, list[_Watch]] = {}
        for watch in list(self._jobs.values()):
            by_address.setdefault(str(watch.handle["address"]), []).append(watch)
        for address, watches in by_address.items():
            await self._poll_cluster(self._cluster(address), watches)

    async def _poll_cluster(self, cluster: _Cluster, watches: list[_Watch]) -> None:
        try:
            jobs = await self._acall(cluster.address, "list_jobs")
        except (Unreachable, Rejected, NotFound) as exc:
            self._unreachable(cluster, watches, str(exc))
            return
        cluster.unreachable_since = None
        known = {str(getattr(job, "submission_id", "") or ""): job for job in jobs}
        for watch in watches:
            if self._jobs.get(watch.job_id) is not watch:
                continue  # ended or closed meanwhile
            if not watch.handle.get("submitted"):
                await self._submit_late(cluster, watch)
                continue
            job = known.get(watch.job_id)
            if job is None:
                job = await self._confirm_unknown(cluster, watch)
                if job is None:
                    continue
            if _status(job) in TERMINAL:
                await self._finish(cluster, watch, job)
            else:
                await self._running(cluster, watch, job)

    def _unreachable(self, cluster: _Cluster, watches: list[_Watch], error: str) -> None:
        now = time.monotonic()
        if cluster.unreachable_since is None:
            cluster.unreachable_since = now
            cluster.error = f"{error}, since {time.strftime('%H:%M:%S')}"  # fixed: no news per poll
            log.warning("ray: the head at %s does not answer: %s", cluster.address, error)
        cluster.jobs_client = None  # made again once it answers (a new head may have other ports)
        away = now - cluster.unreachable_since
        for watch in watches:
            if self._jobs.get(watch.job_id) is not watch:
                continue
            if not watch.handle.get("submitted"):
                if watch.stopping:
                    self._end(watch, None)
                else:
                    self._report(watch, f"waiting for the Ray head at {cluster.address} ({cluster.error})")
            elif away >= self.lost_after:
                self._report(
                    watch,
                    f"lost: the Ray head at {cluster.address} has not answered for {away:.0f}s "
                    f"({error}); Ray ends running jobs with its head",
                )
                self._end(watch, None)
            else:
                self._report(watch, f"Ray head at {cluster.address} not answering ({cluster.error})")

    async def _submit_late(self, cluster: _Cluster, watch: _Watch) -> None:
        if watch.stopping:
            self._end(watch, None)
            return
        try:
            with contextlib.suppress(AlreadyExists):
                await self._acall(cluster.address, "submit_job", **watch.handle["request"])
        except Unreachable as exc:
            self._report(watch, f"waiting for the Ray head at {cluster.address} ({exc})")
            return
        except (Rejected, NotFound) as exc:
            self._report(watch, f"Ray rejected the job: {exc}")
            self._end(watch, None)
            return
        watch.handle["submitted"] = True
        watch.handle["submitted_at"] = time.time()
        watch.handle.pop("waiting", None)
        self._report(watch, "PENDING (submitted)")
        self._follow(watch)

    async def _confirm_unknown(self, cluster: _Cluster, watch: _Watch) -> Any | None:
        """A submitted job missing from list_jobs: ask for it once; unknown to the cluster means lost."""
        try:
            return await self._acall(cluster.address, "get_job_info", watch.job_id)
        except Unreachable:
            return None  # the next poll looks again
        except (NotFound, Rejected):
            pass
        self._report(
            watch,
            f"lost: the Ray cluster at {cluster.address} does not know job {watch.job_id} "
            "(its head was restarted? Ray ends running jobs with its head)",
        )
        self._end(watch, None)
        return None

    async def _running(self, cluster: _Cluster, watch: _Watch, job: Any) -> None:
        status = _status(job)
        if status == "RUNNING":
            node = await self._node_name(cluster, getattr(job, "driver_node_id", None))
            self._report(watch, f"RUNNING on {node}" if node else "RUNNING")
            return
        wants: dict[str, float] = watch.handle.get("wants") or {}
        detail = first_sentence(getattr(job, "message", "")) or "waiting"
        if wants and not watch.stopping:
            started = (getattr(job, "start_time", None) or 0) / 1000 or float(watch.handle.get("submitted_at") or 0)
            if time.time() - started >= self.infeasible_after:
                await self._refresh_nodes(cluster)
                if cluster.nodes and not any(fits(wants, total) for _, total in cluster.nodes.values()):
                    placed = f"no node of the Ray cluster has {show_resources(wants)}"
                    if watch.handle.get("wait_for_nodes"):
                        self._report(watch, f"{status} ({placed} yet)")
                        return
                    self._report(watch, f"cannot be placed: {placed} (Ray: {detail})")
                    self._stop(watch)
                    self._end(watch, None)
                    return
        self._report(watch, f"{status} ({detail})")

    async def _finish(self, cluster: _Cluster, watch: _Watch, job: Any) -> None:
        await self._drain_log(cluster, watch)
        if self._jobs.get(watch.job_id) is not watch:
            return
        code = exit_code(job)
        if code is None:
            self._report(watch, f"{_status(job)}: {first_sentence(getattr(job, 'message', '')) or 'no message'}")
        self._end(watch, code)

    def _end(self, watch: _Watch, code: int | None) -> None:
        if self._jobs.get(watch.job_id) is not watch:
            return
        del self._jobs[watch.job_id]
        if watch.tail is not None:
            watch.tail.cancel()
        watch.on_end(code)

    def _report(self, watch: _Watch, info: str) -> None:
        if info != watch.info:
            watch.info = info
            if watch.on_info is not None:
                try:
                    watch.on_info(info)
                except Exception:  # noqa: BLE001
                    log.exception("on_info callback failed")

    # -- nodes -------------------------------------------------------------------------
    async def _refresh_nodes(self, cluster: _Cluster, max_age: float = NODES_FRESH) -> None:
        if time.monotonic() - cluster.nodes_at < max_age:
            return
        cluster.nodes_at = time.monotonic()
        if cluster.state_client is None:
            return
        from ray.util.state.common import ListApiOptions, StateResource

        state = cluster.state_client
        self.calls["list_nodes"] += 1
        try:
            nodes = await call_async(
                lambda: state.list(
                    StateResource.NODES,
                    options=ListApiOptions(timeout=int(self.call_timeout)),
                    raise_on_missing_output=False,
                ),
                self.call_timeout,
            )
        except (Unreachable, Rejected, NotFound) as exc:
            log.warning("ray: cannot list the nodes of %s: %s", cluster.address, exc)
            return
        alive = {}
        for node in nodes:
            if getattr(node, "state", "") != "ALIVE":
                continue
            name = getattr(node, "node_name", "") or getattr(node, "node_ip", "") or str(node.node_id)[:8]
            alive[str(node.node_id)] = (str(name), dict(getattr(node, "resources_total", {}) or {}))
        cluster.nodes = alive

    async def _node_name(self, cluster: _Cluster, node_id: str | None) -> str:
        if not node_id:
            return ""
        if node_id not in cluster.nodes:  # a node not seen yet: ask, at most once per poll interval
            await self._refresh_nodes(cluster, max_age=self.poll_interval)
        found = cluster.nodes.get(node_id)
        return found[0] if found else f"node {node_id[:8]}"

    # -- logs --------------------------------------------------------------------------
    def _follow(self, watch: _Watch) -> None:
        """Follow the job's output into the log file (what the file has already is skipped)."""
        log_file = Path(watch.handle["log"])
        try:
            size = log_file.stat().st_size
        except OSError:
            size = 0
        watch.written = max(0, size - int(watch.handle.get("log_offset") or 0))
        if watch.tail is None or watch.tail.done():
            watch.tail = asyncio.ensure_future(self._tail(watch))

    async def _tail(self, watch: _Watch) -> None:
        address = str(watch.handle["address"])
        while self._jobs.get(watch.job_id) is watch and not self._closed:
            cluster = self._cluster(address)
            client = cluster.jobs_client
            if client is None:
                await asyncio.sleep(TAIL_RETRY)
                continue
            seen = 0  # bytes of this stream so far; the first `written` of them are in the file already
            try:
                self.calls["tail_job_logs"] += 1
                async for chunk in client.tail_job_logs(watch.job_id):
                    data = chunk.encode()
                    start = max(0, watch.written - seen)
                    seen += len(data)
                    if start < len(data):
                        self._append(watch, data[start:])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the stream broke: follow again from where the file is
                log.info("ray: log stream of %s broke: %s", watch.job_id, exc)
            await asyncio.sleep(TAIL_RETRY)

    def _append(self, watch: _Watch, data: bytes) -> None:
        try:
            with open(watch.handle["log"], "ab") as f:
                f.write(data)
        except OSError as exc:
            log.warning("ray: cannot write %s: %s", watch.handle["log"], exc.strerror)
            return
        watch.written += len(data)

    async def _drain_log(self, cluster: _Cluster, watch: _Watch) -> None:
        """The job ended: write what the follow has not written yet (one get_job_logs)."""
        if watch.tail is not None:
            watch.tail.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watch.tail
            watch.tail = None
        self._follow_offset(watch)  # the file is the truth: what the follow wrote before it stopped
        try:
            text = await self._acall(cluster.address, "get_job_logs", watch.job_id)
        except (Unreachable, Rejected, NotFound) as exc:
            log.warning("ray: cannot fetch the log of %s: %s", watch.job_id, exc)
            return
        data = str(text or "").encode()
        if len(data) > watch.written:
            self._append(watch, data[watch.written :])

    def _follow_offset(self, watch: _Watch) -> None:
        try:
            size = Path(watch.handle["log"]).stat().st_size
        except OSError:
            size = 0
        watch.written = max(0, size - int(watch.handle.get("log_offset") or 0))

    # -- cancel ------------------------------------------------------------------------
    def cancel(self, handle: Handle, grace: float = 3.0) -> None:
        """stop_job: Ray sends SIGTERM to the job's process group, then SIGKILL; the poll confirms it."""
        watch = self._jobs.get(str(handle.get("job_id")))
        if watch is not None:
            watch.stopping = True
        if handle.get("submitted"):
            self._stop_handle(handle)
        # never submitted: nothing runs; the poll (woken now) ends it, and it is never submitted
        self._poller.hurry(grace)

    def _stop(self, watch: _Watch) -> None:
        watch.stopping = True
        self._stop_handle(watch.handle)

    def _stop_handle(self, handle: Handle) -> None:
        if handle.get("stop_file"):
            try:
                Path(handle["stop_file"]).touch()
            except OSError as exc:
                log.warning("ray: cannot write %s: %s", handle["stop_file"], exc.strerror)
        try:
            self._call(str(handle["address"]), "stop_job", str(handle["job_id"]))
        except (Unreachable, Rejected, NotFound) as exc:
            log.warning("ray: stop_job %s failed: %s", handle.get("job_id"), exc)

    # -- adopt -------------------------------------------------------------------------
    def adopt(self, handle: Handle) -> Adopted:
        """Alive (or unknown yet) -> watched; ended with an exit code -> its log completed and the code given.

        A job Ray ended without a code, or one the cluster does not know, is watched too: the first poll
        reports it with Ray's message (or as lost), which says more than an adoption could.
        """
        if not handle.get("submitted"):
            return Adopted(alive=True)  # the watch submits it (or finds it submitted)
        try:
            job = self._call(str(handle["address"]), "get_job_info", str(handle["job_id"]))
        except (Unreachable, NotFound, Rejected):
            return Adopted(alive=True)
        code = exit_code(job)
        if _status(job) not in TERMINAL or code is None:
            return Adopted(alive=True)
        watch = _Watch(handle, lambda _code: None, None)
        self._follow_offset(watch)
        try:
            text = self._call(str(handle["address"]), "get_job_logs", str(handle["job_id"]))
        except (Unreachable, NotFound, Rejected):
            text = ""
        data = str(text or "").encode()
        if len(data) > watch.written:
            self._append(watch, data[watch.written :])
        return Adopted(alive=False, exit_code=code)

    def find_started(self, run_id: str, status: Path) -> Handle | None:
        """Crashed between submit and saving the handle: the record says which job it would be."""
        try:
            handle: Handle = json.loads(record_path(status).read_text())
        except (OSError, ValueError):
            return None  # no record: never submitted
        if handle.get("run_id") != run_id:
            return None
        try:
            self._call(str(handle["address"]), "get_job_info", str(handle["job_id"]))
        except NotFound:
            return None  # the submit never got there: start it afresh
        except (Unreachable, Rejected):
            handle["submitted"] = False  # submitted once the head answers, unless it is there already
            return handle
        handle["submitted"] = True
        return handle

    def stop_leftovers(
        self, handle: Handle, run_prefix: str, grace: float, on_clear: Callable[[], None], on_info: OnInfo | None = None
    ) -> None:
        """Nothing to do here: the job has ended, and Ray ends a job's driver and the tasks it started with it
        (a process the entrypoint detached on a node is that node's to clean up)."""
        asyncio.get_running_loop().call_soon(on_clear)

    def close(self) -> None:
        """Stop watching; the jobs keep running in Ray (the next engine re-adopts them)."""
        self._closed = True
        for watch in self._jobs.values():
            if watch.tail is not None:
                watch.tail.cancel()
        self._jobs.clear()
        self._poller.stop()
