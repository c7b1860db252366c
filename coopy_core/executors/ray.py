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
TUI's log tail works; after a restart the follow starts again and skips what the file already has
(`ray_logs.py`).

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
one such call each (`ray_client.py`).

The parts: `ray_job.py` (the job's id, files, entrypoint and request; what Ray's answers mean, pure),
`ray_client.py` (bounded calls, one connection per cluster, its nodes), `ray_logs.py` (the log file),
`ray_adopt.py` (after a restart); this module starts, polls, stops and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coopy_core.executors import ray_adopt
from coopy_core.executors.base import Adopted, Handle, LaunchSpec, OnEnd, OnInfo, StartError
from coopy_core.executors.polling import Poller, report
from coopy_core.executors.ray_client import (
    CALL_TIMEOUT,
    AlreadyExists,
    Cluster,
    Clusters,
    NotFound,
    Rejected,
    Unreachable,
    make_clients,
)
from coopy_core.executors.ray_job import (
    NO_ADDRESS,
    TERMINAL,
    Watch,
    exit_code,
    first_sentence,
    fits,
    job_request,
    job_status,
    record_path,
    request_resources,
    resolve_address,
    show_resources,
    stop_path,
    submission_id,
)
from coopy_core.executors.ray_logs import JobLogs

if TYPE_CHECKING:
    from coopy_core.config import Config, RayOptions

log = logging.getLogger("coopy.ray")

HEAD_LOST_AFTER = 30.0  # seconds the head may not answer before its running jobs count as lost
INFEASIBLE_AFTER = 10.0  # seconds a job may be pending for resources no node has (a node may be joining)


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
        self._clusters = Clusters(clients, call_timeout)
        self._jobs: dict[str, Watch] = {}
        self._closed = False
        self._logs = JobLogs(self._clusters, self._watched)
        # one list_jobs per cluster for all watched jobs every poll interval, until none is left
        self._poller = Poller(log, "ray", self.poll_interval, self.poll_once, self._watching)
        self.calls: Counter[str] = self._clusters.calls  # calls to Ray by name (tests and the benchmark read it)

    @property
    def polls(self) -> int:
        """`list_jobs` calls made so far: one per cluster per poll, whatever the number of jobs."""
        return self.calls["list_jobs"]

    def _watched(self, watch: Watch) -> bool:
        """Whether `watch` is still watched: not ended, not closed."""
        return self._jobs.get(watch.job_id) is watch and not self._closed

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
        return job_request(spec, self._options(spec.stage), self.config.base_dir if self.config else None, job_id)

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
            self._clusters.call(handle["address"], "submit_job", **handle["request"])
        handle["submitted"] = True
        handle["submitted_at"] = time.time()
        handle.pop("waiting", None)

    # -- watch -------------------------------------------------------------------------
    def watch(self, handle: Handle, on_end: OnEnd, on_info: OnInfo | None = None) -> None:
        self._closed = False
        watch = Watch(handle, on_end, on_info)
        self._jobs[watch.job_id] = watch
        if handle.get("waiting"):
            self._report(watch, handle["waiting"])
        if handle.get("submitted"):
            self._logs.follow(watch)
        self._poller.ensure(wake=True)

    def _watching(self) -> bool:
        return bool(self._jobs) and not self._closed

    async def poll_once(self) -> None:
        """Ask each cluster once about all of its watched jobs; report news and ends."""
        by_address: dict[str, list[Watch]] = {}
        for watch in list(self._jobs.values()):
            by_address.setdefault(str(watch.handle["address"]), []).append(watch)
        for address, watches in by_address.items():
            await self._poll_cluster(self._clusters.get(address), watches)

    async def _poll_cluster(self, cluster: Cluster, watches: list[Watch]) -> None:
        try:
            jobs = await self._clusters.acall(cluster.address, "list_jobs")
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
            if job_status(job) in TERMINAL:
                await self._finish(cluster, watch, job)
            else:
                await self._running(cluster, watch, job)

    def _unreachable(self, cluster: Cluster, watches: list[Watch], error: str) -> None:
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

    async def _submit_late(self, cluster: Cluster, watch: Watch) -> None:
        if watch.stopping:
            self._end(watch, None)
            return
        try:
            with contextlib.suppress(AlreadyExists):
                await self._clusters.acall(cluster.address, "submit_job", **watch.handle["request"])
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
        self._logs.follow(watch)

    async def _confirm_unknown(self, cluster: Cluster, watch: Watch) -> Any | None:
        """A submitted job missing from list_jobs: ask for it once; unknown to the cluster means lost."""
        try:
            return await self._clusters.acall(cluster.address, "get_job_info", watch.job_id)
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

    async def _running(self, cluster: Cluster, watch: Watch, job: Any) -> None:
        status = job_status(job)
        if status == "RUNNING":
            node = await self._clusters.node_name(cluster, getattr(job, "driver_node_id", None), self.poll_interval)
            self._report(watch, f"RUNNING on {node}" if node else "RUNNING")
            return
        wants: dict[str, float] = watch.handle.get("wants") or {}
        detail = first_sentence(getattr(job, "message", "")) or "waiting"
        if wants and not watch.stopping:
            started = (getattr(job, "start_time", None) or 0) / 1000 or float(watch.handle.get("submitted_at") or 0)
            if time.time() - started >= self.infeasible_after:
                await self._clusters.refresh_nodes(cluster)
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

    async def _finish(self, cluster: Cluster, watch: Watch, job: Any) -> None:
        await self._logs.drain(cluster, watch)
        if self._jobs.get(watch.job_id) is not watch:
            return
        code = exit_code(job)
        if code is None:
            self._report(watch, f"{job_status(job)}: {first_sentence(getattr(job, 'message', '')) or 'no message'}")
        self._end(watch, code)

    def _end(self, watch: Watch, code: int | None) -> None:
        if self._jobs.get(watch.job_id) is not watch:
            return
        del self._jobs[watch.job_id]
        if watch.tail is not None:
            watch.tail.cancel()
        watch.on_end(code)

    def _report(self, watch: Watch, info: str) -> None:
        report(watch, info, log)

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

    def _stop(self, watch: Watch) -> None:
        watch.stopping = True
        self._stop_handle(watch.handle)

    def _stop_handle(self, handle: Handle) -> None:
        if handle.get("stop_file"):
            try:
                Path(handle["stop_file"]).touch()
            except OSError as exc:
                log.warning("ray: cannot write %s: %s", handle["stop_file"], exc.strerror)
        try:
            self._clusters.call(str(handle["address"]), "stop_job", str(handle["job_id"]))
        except (Unreachable, Rejected, NotFound) as exc:
            log.warning("ray: stop_job %s failed: %s", handle.get("job_id"), exc)

    # -- adopt -------------------------------------------------------------------------
    def adopt(self, handle: Handle) -> Adopted:
        """Alive (or unknown yet) -> watched; ended with an exit code -> its log completed and the code given."""
        return ray_adopt.adopt(self._clusters, self._logs, handle)

    def find_started(self, run_id: str, status: Path) -> Handle | None:
        """Crashed between submit and saving the handle: the record says which job it would be."""
        return ray_adopt.find_started(self._clusters, run_id, status)

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
