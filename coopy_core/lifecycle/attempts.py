"""One attempt's life: start it, watch it, time it out or cancel it, detect how it ended.

`Attempts` knows executors, Scripters and Detectors, and nothing of queues, the graph or the store:
the engine hands it a run already recorded as running (so a crash from here on is found again by
its run id), and it calls back `on_end(run, Ending)` once per attempt, always from the event loop —
also when the start itself fails. What follows an ending (a retry, the runs that may start now, the
transaction that records it) is the engine's business.

An ending is decided first (exit, lost wrapper, timeout, cancel, verdict) and told only once nothing of the
attempt is alive: its main process is stopped if it still runs, then the executor stops what it left
(`stop_leftovers`), so the next attempt or the next stage never runs beside it. Plug-in calls go through
`plugins.checked_*`: a wrong answer or an exception fails the attempt with one line, never the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coopy_core.config import Config
from coopy_core.detector import DetectContext, Detector, ExitStatusDetector, Status, Verdict
from coopy_core.executors import Executors
from coopy_core.executors.base import MACHINE_ERRNOS, Executor, LaunchSpec, StartError
from coopy_core.lifecycle.metrics import ENV_VAR as METRICS_VAR
from coopy_core.lifecycle.metrics import MetricsTracker
from coopy_core.lifecycle.plugins import (
    PluginError,
    checked_launch,
    checked_verdict,
    one_line,
    plugin_name,
    plugin_problem,
    short,
)
from coopy_core.model import Run, RunState
from coopy_core.resources import Allocation, environment
from coopy_core.scripter import Launch, Scripter
from coopy_core.tasks import Task

log = logging.getLogger("coopy.lifecycle")

CANCEL_GRACE = 3.0
MEMBERS_VAR = "COOPY_MEMBERS"


@dataclass(frozen=True)
class Ending:
    """How an attempt ended. QUEUED: stopped with the engine (`--stop-running`), to be started again."""

    state: RunState  # DONE, FAILED, CANCELLED or QUEUED
    exit_code: int | None = None
    reason: str = ""
    transient: bool = False  # FAILED to start because the machine refused (descriptors, memory, ...): not counted


@dataclass
class _Live:
    """What is known of a running attempt beyond its record."""

    run: Run
    task: Task
    attempt: int
    exited: bool = False
    exit_code: int | None = None
    cancel_reason: str = ""
    interrupted: bool = False  # stopped with the engine: back to the queue
    timed_out: bool = False
    checking: bool = False
    info: str = ""  # the executor's last word on it, e.g. a Slurm job's "PENDING (Resources)"
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    watching: bool = False  # the executor reports its end
    ending: Ending | None = None  # decided; told once nothing of the attempt is alive any more


OnEnd = Callable[[Run, Ending], None]
OnChange = Callable[[Run], None]


class Attempts:
    def __init__(
        self,
        config: Config,
        executors: Executors,
        scripters: Mapping[str, Scripter],
        detectors: Mapping[str, Detector],
        clock: Callable[[], float],
        on_end: OnEnd,
        on_change: OnChange,
        metrics: MetricsTracker | None = None,
    ) -> None:
        self.config = config
        self.executors = executors
        self.scripters = scripters
        self.detectors = detectors
        self.clock = clock
        self.on_end = on_end
        self.on_change = on_change
        self.metrics = metrics  # reads what runs report in $COOPY_METRICS (each poll, and at the end)
        self.live: dict[tuple[str, str], _Live] = {}
        self._closed = False
        self._keep: set[Path] | None = None  # folders no output may remove (see clear_outputs)
        self._poll_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ paths and ids
    def run_id(self, run: Run) -> str:
        return f"{self.run_prefix(run)}{run.attempt}"

    def run_prefix(self, run: Run) -> str:
        """The start of the run id of every attempt of `run` (names hold no `/`: it ends each part)."""
        return f"{self.config.state_dir}:{run.stage}/{run.name}/"

    def status_path(self, run: Run) -> Path:
        return self.config.state_dir / "status" / run.stage / f"{run.name}.{run.attempt}.status"

    def log_path(self, run: Run) -> Path:
        return self.config.log_dir / run.stage / f"{run.name}.{run.attempt}.log"

    def members_path(self, run: Run) -> Path:
        return self.config.state_dir / "members" / run.stage / f"{run.name}.{run.attempt}.json"

    def executor(self, run: Run) -> Executor:
        return self.executors.for_stage(self.config.stage(run.stage))

    # ------------------------------------------------------------------ start
    def start(
        self,
        run: Run,
        task: Task,
        allocation: Allocation | None = None,
        header: str = "",
        members: Mapping[str, Any] | None = None,
        launch: Launch | None = None,
        clear: Sequence[Path] = (),
    ) -> None:
        """Start the run's current attempt (already recorded as running, handle None). `launch`: the
        Scripter's answer for this attempt when the caller asked already; `clear`: the outputs to remove
        first (what an earlier attempt left)."""
        key = run.key
        live = _Live(run=run, task=task, attempt=run.attempt)
        self.live[key] = live
        scripter = self.scripters[run.stage]
        try:
            launch = checked_launch(launch if launch is not None else scripter.script(task, run.attempt))
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a plug-in's error fails the run, not the engine
            self._end(live, Ending(RunState.FAILED, None, plugin_problem("scripter", scripter, exc)))
            return
        env = dict(launch.env)
        if allocation:
            env.update(environment(allocation))
        try:
            if self.metrics is not None:
                env[METRICS_VAR] = str(self.metrics.begin(key, run.attempt, Path(run.log), fresh=True))
            if members is not None:
                path = self.members_path(run)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(members, indent=1))
                env[MEMBERS_VAR] = str(path)
            if header:
                log_file = Path(run.log)
                log_file.parent.mkdir(parents=True, exist_ok=True)
                with open(log_file, "w") as f:  # a start that crashed before its spawn leaves no double header
                    f.write(header.rstrip("\n") + "\n")
        except OSError as exc:
            why = f"cannot write {exc.filename}: {exc.strerror}"
            self._end(live, Ending(RunState.FAILED, None, why, transient=exc.errno in MACHINE_ERRNOS))
            return
        cleared = self.clear_outputs(clear)
        if cleared:
            self._end(live, Ending(RunState.FAILED, None, cleared))
            return
        launch = Launch(argv=launch.argv, cwd=launch.cwd, env=env)
        spec = LaunchSpec(
            run_id=self.run_id(run), launch=launch, log=Path(run.log), status=self.status_path(run), stage=run.stage
        )
        try:
            run.handle = self.executor(run).start(spec)
        except StartError as exc:
            self._end(live, Ending(RunState.FAILED, None, str(exc), transient=exc.transient))
            return
        except Exception as exc:  # noqa: BLE001 - an executor's surprise fails the run, not the engine
            log.exception("starting %s/%s failed", run.stage, run.name)
            self._end(live, Ending(RunState.FAILED, None, f"cannot start: {type(exc).__name__}: {one_line(exc)}"))
            return
        self.on_change(run)
        self._watch(live)

    def adopt(self, run: Run, task: Task) -> None:
        """After a restart: watch a run stored as running, or settle how it ended meanwhile."""
        executor = self.executor(run)
        if run.handle is None:
            raise ValueError("adopt() needs a handle: use find_started() first")
        live = _Live(run=run, task=task, attempt=run.attempt)
        self.live[run.key] = live
        if self.metrics is not None:
            self.metrics.begin(run.key, run.attempt, Path(run.log) if run.log else None, fresh=False)
        adopted = executor.adopt(run.handle)
        if adopted.alive:
            log.info("re-adopted %s/%s attempt %d", run.stage, run.name, run.attempt)
            self._watch(live)
        elif adopted.lost:
            live.exited = True
            self._end(live, Ending(RunState.FAILED, None, "lost: the process ended without recording an exit status"))
        else:
            self._exited(live, adopted.exit_code)

    def find_started(self, run: Run) -> bool:
        """Crashed between recording "starting" and the handle: did the start happen? Sets the handle."""
        found = self.executor(run).find_started(self.run_id(run), self.status_path(run))
        if found is None:
            return False
        run.handle = found
        self.on_change(run)
        return True

    def _watch(self, live: _Live) -> None:
        run = live.run
        assert run.handle is not None
        attempt = live.attempt
        live.watching = True
        self.executor(run).watch(
            run.handle,
            lambda code: self._on_exit(run.key, attempt, code),
            on_info=lambda text: self._on_info(run.key, attempt, text),
        )
        timeout = self.config.stage(run.stage).timeout
        if timeout is not None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, (run.started_at or self.clock()) + timeout - self.clock())
            live.timers.append(loop.call_later(delay, self._on_timeout, run.key, attempt))

    def _current(self, key: tuple[str, str], attempt: int) -> _Live | None:
        live = self.live.get(key)
        if self._closed or live is None or live.attempt != attempt:
            return None
        return live

    def _kept(self) -> set[Path]:
        if self._keep is None:
            c = self.config
            self._keep = {c.base_dir.resolve(), c.state_dir.resolve(), c.log_dir.resolve()}
        return self._keep

    def clear_outputs(self, outputs: Sequence[Path]) -> str:
        """Remove these outputs of a run (the engine says which are its own): before it starts and when it
        fails, so no file a failed or an earlier attempt left is ever taken for this one's result. A path that
        names a folder CooPy or the pipeline lives in (or one above it) is never removed. Returns a problem,
        or ""."""
        if not outputs:
            return ""
        keep = self._kept()
        for path in outputs:
            try:
                real = path.resolve()
                if any(real == k or real in k.parents for k in keep) or real == Path(real.anchor):
                    continue  # an output that names a folder CooPy or the pipeline lives in: never removed
                if real.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                elif path.exists() or path.is_symlink():
                    path.unlink()
            except OSError as exc:
                return f"cannot remove its old output {path}: {exc.strerror}"
        return ""

    # ------------------------------------------------------------------ news from the executor
    def _on_info(self, key: tuple[str, str], attempt: int, text: str) -> None:
        """The executor's news of a running run (Slurm state and reason) becomes its reason."""
        live = self._current(key, attempt)
        if live is None or live.exited or live.ending is not None:
            return
        live.info = text
        run = live.run
        if run.state == RunState.RUNNING and run.reason != text:
            run.reason = text
            self.on_change(run)

    def _on_exit(self, key: tuple[str, str], attempt: int, code: int | None) -> None:
        live = self._current(key, attempt)
        if live is not None:
            self._exited(live, code)

    def _exited(self, live: _Live, code: int | None) -> None:
        live.exited = True
        live.exit_code = code
        if live.ending is not None:  # ended already (a verdict, a timeout): what is left of it goes now
            self._stop_leftovers(live)
        elif live.interrupted and code is None:
            self._end(live, Ending(RunState.QUEUED, None, "stopped with the engine"))
        elif live.interrupted:
            self._detect(live)  # it had ended on its own before we stopped it: that work counts
        elif live.cancel_reason:
            self._end(live, Ending(RunState.CANCELLED, code, live.cancel_reason))
        elif live.timed_out:
            self._end(live, Ending(RunState.FAILED, code, self._timeout_reason(live.run)))
        elif code is None:
            why = f"({live.info})" if live.info else "(killed with its wrapper?)"
            self._end(live, Ending(RunState.FAILED, None, f"ended without an exit status {why}"))
        else:
            self._detect(live)

    def _on_timeout(self, key: tuple[str, str], attempt: int) -> None:
        live = self._current(key, attempt)
        if live is None or live.ending is not None:
            return
        live.timed_out = True
        run = live.run
        if run.handle is not None:  # also when the command exited but left processes behind
            self.executor(run).cancel(run.handle, grace=CANCEL_GRACE)
        if run.handle is None or live.exited:
            self._end(live, Ending(RunState.FAILED, live.exit_code, self._timeout_reason(run)))

    def _timeout_reason(self, run: Run) -> str:
        return f"timed out after {self.config.stage(run.stage).timeout:g}s"

    # ------------------------------------------------------------------ cancel and stop
    def cancel(self, run: Run, reason: str) -> bool:
        """Stop a running attempt and everything it started; False when it is being stopped already."""
        live = self.live.get(run.key)
        if live is None or live.cancel_reason or live.ending is not None:
            return False
        live.cancel_reason = reason
        if run.handle is not None:
            self.executor(run).cancel(run.handle, grace=CANCEL_GRACE)
        if run.handle is None or live.exited:
            self._end(live, Ending(RunState.CANCELLED, live.exit_code, reason))
        return True

    async def stop_all(self) -> None:
        """Stop every running attempt; each ends as QUEUED (to be started again), unless it had ended."""
        waiting = []
        for live in list(self.live.values()):
            run = live.run
            if live.ending is not None:
                waiting.append(live)  # ending already: let it finish stopping what it left
            elif run.handle is not None and not live.exited:
                live.interrupted = True
                self.executor(run).cancel(run.handle, grace=CANCEL_GRACE)
                waiting.append(live)
        deadline = asyncio.get_running_loop().time() + CANCEL_GRACE + 2.0
        while any(self.live.get(lv.run.key) is lv for lv in waiting):
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.02)

    # ------------------------------------------------------------------ detection
    def _context(self, live: _Live) -> DetectContext:
        run = live.run
        scripter = self.scripters[run.stage]
        try:
            outputs = scripter.outputs(live.task, run.attempt)
            if not isinstance(outputs, list | tuple) or not all(isinstance(p, Path) for p in outputs):
                raise PluginError(f"outputs() returned {short(outputs)}, not a list of paths")
        except (Exception, SystemExit) as exc:  # noqa: BLE001
            raise PluginError(plugin_problem("scripter", scripter, exc)) from None
        return DetectContext(
            task=run.name,
            stage=run.stage,
            attempt=run.attempt,
            params=dict(live.task.params),
            outputs=list(outputs),
            log=Path(run.log),
            exit_code=live.exit_code if live.exited else None,
            elapsed=self.clock() - (run.started_at or self.clock()),
            extra=dict(run.handle or {}),
        )

    def _detect(self, live: _Live) -> None:
        if live.ending is not None:
            return
        detector = self.detectors[live.run.stage]
        if type(detector) in (Detector, ExitStatusDetector):
            try:
                verdict = checked_verdict(detector, detector.check(self._context(live)))
            except PluginError as exc:
                verdict = Verdict(Status.FAILED, str(exc))
            except (Exception, SystemExit) as exc:  # noqa: BLE001
                verdict = Verdict(Status.FAILED, plugin_problem("detector", detector, exc))
            self._apply(live, verdict)
            return
        if live.checking:
            return
        live.checking = True
        asyncio.ensure_future(self._detect_in_thread(live, detector))

    async def _detect_in_thread(self, live: _Live, detector: Detector) -> None:
        timeout = self.config.pipeline.detector_timeout
        try:
            ctx = self._context(live)
            verdict = checked_verdict(detector, await asyncio.wait_for(_in_daemon_thread(detector.check, ctx), timeout))
        except TimeoutError:
            verdict = Verdict(Status.FAILED, f"detector {plugin_name(detector)} gave no answer within {timeout:g}s")
        except PluginError as exc:
            verdict = Verdict(Status.FAILED, str(exc))
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - anything the thread raised, even sys.exit()
            verdict = Verdict(Status.FAILED, plugin_problem("detector", detector, exc))
        finally:
            live.checking = False
        if self._closed or self.live.get(live.run.key) is not live:
            return
        self._apply(live, verdict)

    def _apply(self, live: _Live, verdict: Verdict) -> None:
        """A checked verdict (status a Status, reason a string)."""
        run = live.run
        if live.ending is not None:
            return
        if verdict.status == Status.RUNNING:
            if live.exited and verdict.reason != run.reason:
                run.reason = verdict.reason
                self.on_change(run)
            return
        state = RunState.DONE if verdict.status == Status.DONE else RunState.FAILED
        self._end(live, Ending(state, live.exit_code, verdict.reason))  # still alive: stopped first

    def start_polling(self) -> None:
        self._poll_task = asyncio.ensure_future(self._poll_loop())

    async def _poll_loop(self) -> None:
        """Only outside state is polled: outputs that have not appeared yet, polling Detectors, new metrics."""
        interval = self.config.pipeline.poll_interval
        while not self._closed:
            await asyncio.sleep(interval)
            if self.metrics is not None:
                try:
                    self.metrics.poll()
                except Exception:  # noqa: BLE001 - bad numbers must never stop the polling
                    log.exception("reading metrics failed")
            for live in list(self.live.values()):
                if self.live.get(live.run.key) is not live or live.run.state != RunState.RUNNING:
                    continue
                if (live.exited and live.cancel_reason) or live.ending is not None:
                    continue
                if live.exited or self.detectors[live.run.stage].polls:
                    self._detect(live)

    # ------------------------------------------------------------------ endings
    def _end(self, live: _Live, ending: Ending) -> None:
        """The attempt is over. Nothing of it may outlive its end: its main process (wrapper, job) is stopped
        if it still runs, then what it left (its process group, whatever carries its run id); only then is the
        engine told (exactly once per attempt), so no next attempt or next stage ever runs beside it."""
        if self.live.get(live.run.key) is not live or live.ending is not None:
            return
        live.ending = ending
        for timer in live.timers:
            timer.cancel()
        live.timers.clear()
        run = live.run
        if run.handle is None:  # it never started
            self._finish(live)
        elif not live.exited and live.watching:
            self.executor(run).cancel(run.handle, grace=CANCEL_GRACE)  # its exit comes back through _exited
        else:
            self._stop_leftovers(live)

    def _stop_leftovers(self, live: _Live) -> None:
        run = live.run
        assert run.handle is not None

        def waiting(text: str) -> None:
            if self.live.get(run.key) is live and not self._closed:
                run.reason = text
                self.on_change(run)

        self.executor(run).stop_leftovers(
            run.handle, self.run_prefix(run), CANCEL_GRACE, lambda: self._finish(live), on_info=waiting
        )

    def _finish(self, live: _Live) -> None:
        if self._closed or self.live.get(live.run.key) is not live or live.ending is None:
            return
        self.forget(live.run)
        self.on_end(live.run, live.ending)

    def forget(self, run: Run) -> None:
        live = self.live.pop(run.key, None)
        if live is not None:
            for timer in live.timers:
                timer.cancel()

    async def close(self) -> None:
        self._closed = True
        if self._poll_task is not None:
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll_task
        for live in self.live.values():
            for timer in live.timers:
                timer.cancel()
        self.executors.close()


def stop_leftover(run: Run, config: Config, executors: Executors) -> None:
    """Stop what a stored run left running when its stage may be gone from the config: the executor is
    the one its handle is of (a Slurm job id, else a local process group)."""
    handle = run.handle or {}
    name = str(handle.get("executor") or ("slurm" if handle.get("job_id") else "local"))
    try:
        executors.get(name).cancel(handle, grace=CANCEL_GRACE)
    except Exception:  # noqa: BLE001 - best effort; it is said in the log either way
        log.exception("could not stop %s/%s", run.stage, run.name)


def disk_full_note(log_file: Path) -> str:
    """A failure on a full disk says so: the log itself may have been cut short by it."""
    try:
        st = os.statvfs(log_file.parent)
    except OSError:
        return ""
    return f"; the log's disk is full ({log_file.parent})" if st.f_bavail * st.f_frsize < 4096 else ""


def _in_daemon_thread(fn: Callable[[DetectContext], Verdict], ctx: DetectContext) -> asyncio.Future[Verdict]:
    """Run a plug-in's check in a daemon thread: one that never answers must not keep the process alive
    at exit (asyncio's default executor joins its threads)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Verdict] = loop.create_future()

    def deliver(result: Verdict | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result = fn(ctx)
        except BaseException as exc:  # noqa: BLE001 - handed to the engine, which fails the run
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(deliver, None, exc)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, result, None)

    threading.Thread(target=work, name="coopy-detector", daemon=True).start()
    return future
