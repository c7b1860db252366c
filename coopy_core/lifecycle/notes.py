"""Notifications without a shell (`[pipeline] notify`): a note when a run fails for good and when the pipeline
finishes, sent through apprise.

A note is a hook the engine owes (`HookRunner.owe_argv`): recorded in the same transaction as its event, started
once that commit is done, once per event even across an engine restart, detached (`send_note` runs apprise in
its own process, so the network never holds the engine's loop), its output in `log_dir/hooks/<id>.log`. The
URLs go to it in its environment, never on its command line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping

from coopy_core.config import notify_urls
from coopy_core.lifecycle.hooks import HookRunner
from coopy_core.lifecycle.send_note import URLS_VAR
from coopy_core.model import Run, RunState, stopped_text

LISTED = 10  # failed runs named in the pipeline's end note; the rest are counted


def run_failed(hooks: HookRunner, run: Run, reason: str, stage_notify: list[str] | str | None) -> None:
    """A run failed for good (its retries used): one note per run and attempt, to its stage's `notify` when the
    stage has one (`notify = []` keeps a stage's failures quiet), else to the pipeline's."""
    urls = notify_urls(hooks.config.pipeline.notify if stage_notify is None else stage_notify)
    if not urls:
        return
    title = f"coopy: {run.stage}/{run.name} failed"
    body = f"{reason}\nattempt {run.attempt} · pipeline {hooks.config.pipeline.name}\nlog: {run.log}"
    argv = _command(title, body, ["--kind", "failure", *(["--log", run.log] if run.log else [])])
    hook_id = f"notify.failed.{run.stage}.{run.name}.{run.attempt}"
    hooks.owe_argv(hook_id, argv, title, {URLS_VAR: json.dumps(urls)}, "notification")


def pipeline_finished(hooks: HookRunner, counts: Mapping[str, int], failed: list[Run], passed: bool) -> None:
    """Nothing queued or running any more: what came of it, in one title, and the failed runs by name."""
    urls = notify_urls(hooks.config.pipeline.notify)
    if not urls:
        return
    said = summary(counts)
    title = f"coopy: {hooks.config.pipeline.name} finished: {said}"
    lines = [f"{r.stage}/{r.name}: {r.reason}" if r.reason else f"{r.stage}/{r.name}" for r in failed[:LISTED]]
    if len(failed) > LISTED:
        lines.append(f"and {len(failed) - LISTED} more")
    body = "\n".join(["failed:", *lines]) if lines else said
    n = hooks.store.count_hooks("notify.finished.") + 1
    env = {URLS_VAR: json.dumps(urls)}
    argv = _command(title, body, ["--kind", "success" if passed else "failure"])
    hooks.owe_argv(f"notify.finished.{n}", argv, title, env, "notification")


def summary(counts: Mapping[str, int]) -> str:
    """`12 done, 1 failed, 2 blocked`: done counts the skipped runs too (they passed); zeros are left out but done."""
    done = counts.get(RunState.DONE.value, 0) + counts.get(RunState.SKIPPED.value, 0)
    stopped = stopped_text(counts)
    return f"{done} done, {stopped}" if stopped else f"{done} done"


def _command(title: str, body: str, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "coopy_core.lifecycle.send_note", "--title", title, "--body", body, *extra]
