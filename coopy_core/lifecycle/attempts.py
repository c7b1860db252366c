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

The package by job: live.py (what is known of a live attempt, `Ending`), files.py (run id, log, status and
members files; clearing old outputs), detect.py (asking the Detector), this module (start, watch, time out,
cancel, stop, end).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from coopy_core.config import Config
from coopy_core.detector import Detector, Status, Verdict
from coopy_core.executors import Executors
from coopy_core.executors.base import MACHINE_ERRNOS, Executor, LaunchSpec, StartError
from coopy_core.executors.exits import is_pending
from coopy_core.executors.wrapper import ended_at
from coopy_core.lifecycle.detect import Detection
from coopy_core.lifecycle.files import AttemptFiles, disk_full_note
from coopy_core.lifecycle.live import CANCEL_GRACE, Ending, Live, OnChange, OnEnd
from coopy_core.lifecycle.metrics import ENV_VAR as METRICS_VAR
from coopy_core.lifecycle.metrics import MetricsTracker
from coopy_core.lifecycle.plugins import checked_launch, one_line, plugin_problem
from coopy_core.model import Run, RunState
from coopy_core.resources import Allocation, environment
from coopy_core.scripter import Launch, Scripter
from coopy_core.tasks import Task

__all__ = ["CANCEL_GRACE", "Attempts", "Ending", "disk_full_note", "stop_leftover"]

log = logging.getLogger("coopy.lifecycle")

MEMBERS_VAR = "COOPY_MEMBERS"


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
        self.on_started: OnChange = on_change  # a pid learned after the start: may join a later commit
        self.metrics = metrics  # reads what runs report in $COOPY_METRICS (each poll, and at the end)
        self.live: dict[tuple[str, str], Live] = {}
        self.files = AttemptFiles(config)
        self.detection = Detection(config, scripters, detectors, clock, self._apply, self._is_current)
        self._closed = False
        self._poll_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ paths, ids, outputs (files.py)
    def log_path(self, run: Run) -> Path:
        return self.files.log_path(run)

    def clear_outputs(self, outputs: Sequence[Path]) -> str:
        return self.files.clear_outputs(outputs)

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
        live = Live(run=run, task=task, attempt=run.attempt)
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
                path = self.files.members_path(run)
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

        def started() -> None:  # the spawn helper's answer came: its pid is in the handle now
            if self.live.get(key) is live:
                self.on_started(run)

        def refused(exc: StartError) -> None:  # ... or it could not start the run: nothing of it ever ran
            if self.live.get(key) is not live:
                return
            run.handle, live.exited = None, True
            if live.ending is not None:
                self._finish(live)  # it was being stopped: there is nothing to stop
            elif live.interrupted:
                self._end(live, Ending(RunState.QUEUED, None, "stopped with the engine"))
            elif live.cancel_reason:
                self._end(live, Ending(RunState.CANCELLED, None, live.cancel_reason))
            else:
                self._end(live, Ending(RunState.FAILED, None, str(exc), transient=exc.transient))

        spec = LaunchSpec(
            run_id=self.files.run_id(run),
            launch=launch,
            log=Path(run.log),
            status=self.files.status_path(run),
            stage=run.stage,
            on_started=started,
            on_refused=refused,
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
        live = Live(run=run, task=task, attempt=run.attempt)
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

    @staticmethod
    def unstarted(run: Run) -> bool:
        """Recorded as running with no proof of a start: no handle yet, or the spawn helper's not answered."""
        return run.handle is None or is_pending(run.handle)

    def find_started(self, run: Run) -> bool:
        """Crashed between recording "starting" and the handle: did the start happen? Sets the handle."""
        found = self.executor(run).find_started(self.files.run_id(run), self.files.status_path(run))
        if found is None:
            return False
        run.handle = found
        self.on_change(run)
        return True

    def _watch(self, live: Live) -> None:
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

    def _current(self, key: tuple[str, str], attempt: int) -> Live | None:
        live = self.live.get(key)
        if self._closed or live is None or live.attempt != attempt:
            return None
        return live

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

    def _exited(self, live: Live, code: int | None) -> None:
        live.exited = True
        live.exit_code = code
        if live.ending is not None:  # ended already (a verdict, a timeout): what is left of it goes now
            self._stop_leftovers(live)
        elif live.interrupted and code is None:
            self._end(live, Ending(RunState.QUEUED, None, "stopped with the engine"))
        elif live.interrupted:
            self.detection.detect(live)  # it had ended on its own before we stopped it: that work counts
        elif live.cancel_reason:
            self._end(live, Ending(RunState.CANCELLED, code, live.cancel_reason))
        elif live.timed_out:
            self._end(live, Ending(RunState.FAILED, code, self._timeout_reason(live.run)))
        elif code is None:
            why = f"({live.info})" if live.info else "(was its wrapper or the spawn helper killed?)"
            self._end(live, Ending(RunState.FAILED, None, f"ended without an exit status {why}"))
        else:
            self.detection.detect(live)

    def _on_timeout(self, key: tuple[str, str], attempt: int) -> None:
        live = self._current(key, attempt)
        if live is None or live.ending is not None:
            return
        run = live.run
        if not live.exited and run.handle is not None and self._ended_in_time(run):
            return  # its exit, not the clock, decides: the news is on its way (this timer fired late)
        live.timed_out = True
        if run.handle is not None:  # also when the command exited but left processes behind
            self.executor(run).cancel(run.handle, grace=CANCEL_GRACE)
        if run.handle is None or live.exited:
            self._end(live, Ending(RunState.FAILED, live.exit_code, self._timeout_reason(run)))

    def _ended_in_time(self, run: Run) -> bool:
        """A timer judges what happened before it acts: a command whose exit status was written before its
        deadline ended in time, even when the engine (stopped, frozen) hears of it only after the deadline."""
        timeout = self.config.stage(run.stage).timeout
        ended = ended_at(run.handle or {})
        return timeout is not None and ended is not None and ended <= (run.started_at or ended) + timeout

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
    def _is_current(self, live: Live) -> bool:
        return not self._closed and self.live.get(live.run.key) is live

    def _apply(self, live: Live, verdict: Verdict) -> None:
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
                    self.detection.detect(live)

    # ------------------------------------------------------------------ endings
    def _end(self, live: Live, ending: Ending) -> None:
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

    def _stop_leftovers(self, live: Live) -> None:
        run = live.run
        assert run.handle is not None

        def waiting(text: str) -> None:
            if self.live.get(run.key) is live and not self._closed:
                run.reason = text
                self.on_change(run)

        self.executor(run).stop_leftovers(
            run.handle, self.files.run_prefix(run), CANCEL_GRACE, lambda: self._finish(live), on_info=waiting
        )

    def _finish(self, live: Live) -> None:
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
