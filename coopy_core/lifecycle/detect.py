"""Detection: how an attempt ended, or whether it still runs, as its stage's Detector says. The built-in exit
status check answers at once; a plug-in's check runs in a daemon thread under `detector_timeout`, and any
wrong answer or exception fails the attempt with one line, never the engine."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from coopy_core.config import Config
from coopy_core.detector import DetectContext, Detector, ExitStatusDetector, Status, Verdict
from coopy_core.lifecycle.live import Live
from coopy_core.lifecycle.plugins import PluginError, checked_verdict, plugin_name, plugin_problem, short
from coopy_core.scripter import Scripter


class Detection:
    def __init__(
        self,
        config: Config,
        scripters: Mapping[str, Scripter],
        detectors: Mapping[str, Detector],
        clock: Callable[[], float],
        on_verdict: Callable[[Live, Verdict], None],
        is_current: Callable[[Live], bool],
    ) -> None:
        self.config = config
        self.scripters = scripters
        self.detectors = detectors
        self.clock = clock
        self.on_verdict = on_verdict  # a checked verdict (status a Status, reason a string)
        self.is_current = is_current  # the attempt is still the live one (a verdict from a thread may be late)

    def context(self, live: Live) -> DetectContext:
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
            params=live.task.params,
            outputs=list(outputs),
            log=Path(run.log),
            exit_code=live.exit_code if live.exited else None,
            elapsed=self.clock() - (run.started_at or self.clock()),
            extra=dict(run.handle or {}),
        )

    def detect(self, live: Live) -> None:
        if live.ending is not None:
            return
        detector = self.detectors[live.run.stage]
        if type(detector) in (Detector, ExitStatusDetector):
            try:
                verdict = checked_verdict(detector, detector.check(self.context(live)))
            except PluginError as exc:
                verdict = Verdict(Status.FAILED, str(exc))
            except (Exception, SystemExit) as exc:  # noqa: BLE001
                verdict = Verdict(Status.FAILED, plugin_problem("detector", detector, exc))
            self.on_verdict(live, verdict)
            return
        if live.checking:
            return
        live.checking = True
        asyncio.ensure_future(self._in_thread(live, detector))

    async def _in_thread(self, live: Live, detector: Detector) -> None:
        timeout = self.config.pipeline.detector_timeout
        try:
            ctx = self.context(live)
            verdict = checked_verdict(detector, await asyncio.wait_for(in_daemon_thread(detector.check, ctx), timeout))
        except TimeoutError:
            verdict = Verdict(Status.FAILED, f"detector {plugin_name(detector)} gave no answer within {timeout:g}s")
        except PluginError as exc:
            verdict = Verdict(Status.FAILED, str(exc))
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - anything the thread raised, even sys.exit()
            verdict = Verdict(Status.FAILED, plugin_problem("detector", detector, exc))
        finally:
            live.checking = False
        if not self.is_current(live):
            return
        self.on_verdict(live, verdict)


def in_daemon_thread(fn: Callable[[DetectContext], Verdict], ctx: DetectContext) -> asyncio.Future[Verdict]:
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
