"""Hooks: commands run when a run is done or failed for good, and when the pipeline finishes.

A hook is owed the moment its event is committed (it is written to the store in the same
transaction); it is then started detached like any run, through the local executor, with its output in
`log_dir/hooks/<id>.log`. It runs once per event even across an engine restart: a hook still marked
pending at start is looked for (by its run id in /proc, or its exit-status file) before it is started.
The `notify` notes (lifecycle/notes.py) are hooks too, owed with their command as it is (`owe_argv`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from coopy_core import templates
from coopy_core.config import Config, hook_argv
from coopy_core.executors.base import LaunchSpec, StartError
from coopy_core.executors.local import LocalExecutor
from coopy_core.scripter import Launch
from coopy_core.state.journal import Journal
from coopy_core.state.store import Store

log = logging.getLogger("coopy.hooks")

Notify = Callable[[str, str], None]  # (message, level)
REFUSED_RETRY = 5.0  # seconds: a hook the machine refused to start (descriptors, space, ...) is tried again


class HookRunner:
    def __init__(self, config: Config, store: Store, journal: Journal, executor: LocalExecutor, notify: Notify) -> None:
        self.config = config
        self.store = store
        self.journal = journal
        self.executor = executor
        self.notify = notify
        self._firing = False
        self._retry: asyncio.TimerHandle | None = None
        self._refused_said = False

    def owe(self, hook_id: str, hook: list[str] | str | None, values: Mapping[str, object], what: str) -> None:
        """Record a hook with its event (in the same commit); it is started once that commit is done."""
        argv = hook_argv(hook)
        if not argv:
            return
        try:
            rendered = [templates.render(t, values) for t in argv]
        except templates.TemplateError as exc:
            self.notify(f"hook {what}: {exc}", "error")
            return
        self.owe_argv(hook_id, rendered, what)

    def owe_argv(
        self, hook_id: str, argv: list[str], what: str, env: Mapping[str, str] | None = None, label: str = "hook"
    ) -> None:
        """Record a command as it is (a notification: nothing to render), with `env` for it alone; `label` names
        it in the messages ("hook ... ran", "notification ... sent")."""
        spec: dict[str, Any] = {"argv": argv, "what": what}
        if env:
            spec["env"] = dict(env)
        if label != "hook":
            spec["label"] = label
        self.journal.hook(hook_id, spec)
        if not self._firing:
            self._firing = True
            self.journal.after_commit(self.fire_pending)

    def fire_pending(self) -> None:
        """Start every committed hook not started yet (looked for first: it may have started before a crash)."""
        self._firing = False
        for hook_id, spec in self.store.pending_hooks():
            if self.journal.batch.hook_states.get(hook_id):
                continue  # started, its mark not committed yet
            status = self._status(hook_id)
            run_id = self._run_id(hook_id)
            if self.executor.find_started(run_id, status) is not None:
                self.journal.hook_state(hook_id, "fired")  # it started before a crash: never twice
                continue
            env = {"COOPY_HOOK": spec["what"], **spec.get("env", {})}
            launch = Launch(argv=spec["argv"], cwd=self.config.base_dir, env=env)
            log_path = self.config.log_dir / "hooks" / f"{hook_id}.log"
            try:
                handle = self.executor.start(LaunchSpec(run_id=run_id, launch=launch, log=log_path, status=status))
            except StartError as exc:
                if exc.transient:  # the machine refused it for now: it stays owed and is tried again
                    if not self._refused_said:
                        self._refused_said = True
                        self.notify(f"{_named(spec)} could not start yet: {exc}; trying again", "warning")
                    self._try_again()
                    continue
                self.journal.hook_state(hook_id, "failed")
                self.notify(f"{_named(spec)} could not start: {exc}", "error")
                continue
            self._refused_said = False
            self.journal.hook_state(hook_id, "fired")  # after the start: a crash in between is found above
            self.executor.watch(handle, self._on_end(spec, log_path))

    def _try_again(self) -> None:
        if self._retry is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._retry = loop.call_later(REFUSED_RETRY, self._again)

    def _again(self) -> None:
        self._retry = None
        self.fire_pending()

    def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    def _on_end(self, spec: dict[str, Any], log_path: Path) -> Callable[[int | None], None]:
        def ended(code: int | None) -> None:
            if code == 0:
                self.notify(f"{_named(spec)} {'sent' if 'label' in spec else 'ran'}", "info")
            else:
                failed = "not sent" if "label" in spec else "failed"
                self.notify(f"{_named(spec)} {failed} (exit {code}); see {log_path}", "warning")

        return ended

    def _run_id(self, hook_id: str) -> str:
        return f"{self.config.state_dir}:hook:{hook_id}"

    def _status(self, hook_id: str) -> Path:
        return self.config.state_dir / "hooks" / f"{hook_id}.status"


def _named(spec: dict[str, Any]) -> str:
    """`hook on_failed train/a`, or `notification 'coopy: train/a failed'`."""
    if "label" in spec:
        return f"{spec['label']} {spec['what']!r}"
    return f"hook {spec['what']}"
