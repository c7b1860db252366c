"""SSH drop: `coopy-tui coopy.toml` in tmux on a copy of the demo; the tmux session is killed while a
training run is running (the app gets SIGHUP, as when an SSH connection drops). The running commands
survive, the state is saved, a new `coopy-tui` re-attaches and the pipeline finishes with every run done
exactly once (the demo's resnet,seed=2 fails its first training attempt on purpose: two attempts)."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli import coopy, status
from tests.helpers.processes import wait_no_processes
from tests.helpers.tmux import Tmux, alive, tui_command
from tests.helpers.waiting import poll, wait_for

REPO = Path(__file__).resolve().parents[2]
STAGES = ("prepare", "train", "evaluate", "summary")
MODELS = ("mlp", "cnn", "resnet")
TASKS = [f"model={m},seed={s}" for m in MODELS for s in (1, 2)]
PLANNED = {
    (stage, task): 2 if (stage, task) == ("train", "model=resnet,seed=2") else 1
    for stage in STAGES[:3]
    for task in TASKS
}
PLANNED.update({("summary", f"model={m}"): 1 for m in MODELS})  # the fan-in: one run per model


def _run(state: dict[str, Any], key: tuple[str, str]) -> dict[str, Any]:
    return next(r for r in state["runs"] if (r["stage"], r["task"]) == key)


pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def test_tmux_session_killed_mid_run_then_reattach_finishes_everything_once(
    tmp_path: Path, report: dict[str, Any]
) -> None:
    shutil.copy(REPO / "coopy.toml", tmp_path / "coopy.toml")
    shutil.copytree(REPO / "demo", tmp_path / "demo", ignore=shutil.ignore_patterns("out", "__pycache__"))
    cfg = tmp_path / "coopy.toml"
    first = Tmux(tmp_path, prefix="coopy-rel", gone_ok=True)  # a screen of a session gone is ""
    second = Tmux(tmp_path, prefix="coopy-rel", gone_ok=True)
    try:
        first.start(tui_command() + " coopy.toml")
        poll(lambda: all(name in first.screen() for name in STAGES), 60, "the UI to show every stage", interval=0.1)
        app = poll(first.app_pid, 10, "the coopy-tui process", interval=0.1)

        def training() -> list[dict[str, Any]]:
            return [
                r for r in status(cfg)["runs"] if r["stage"] == "train" and r["state"] == "running" and alive(r["pid"])
            ]

        poll(training, 90, "a training run to be running", interval=0.1)
        before = status(cfg)
        engine = before["engine_pid"]
        running = {(r["stage"], r["task"]): r for r in before["runs"] if r["state"] == "running" and alive(r["pid"])}
        assert engine and alive(engine) and running

        first.kill()  # the terminal goes away: SIGHUP to the app
        poll(lambda: not alive(app), 20, "coopy-tui to exit on SIGHUP", interval=0.1)
        after = status(cfg)
        assert after["engine_pid"] == engine and alive(engine), "the background engine goes on"
        now = {(r["stage"], r["task"]): r for r in after["runs"]}
        survived = 0
        for key, old in running.items():
            new = now[key]
            assert new["attempt"] == old["attempt"], f"{key}: restarted after the drop"
            if new["state"] == "running" and not alive(old["pid"]):
                # its command ended just now: a run is over only once nothing of it is left, so look again
                new = poll(
                    lambda key=key: (r := _run(status(cfg), key))["state"] != "running" and r,
                    20,
                    f"{key} to be recorded as ended",
                    interval=0.1,
                )
            if new["state"] == "running":
                assert new["pid"] == old["pid"] and alive(old["pid"]), f"{key}: its command did not survive"
                survived += 1
            else:  # it ended on its own meanwhile: as planned, not killed by the hang-up
                assert new["state"] in ("done", "queued") and "SIGHUP" not in (new["reason"] or ""), new
        assert survived >= 1, "a command was still running after the drop"

        second.start(tui_command() + " coopy.toml")
        poll(lambda: all(name in second.screen() for name in STAGES), 60, "the second UI", interval=0.1)
        again = status(cfg)
        new_engine = again["engine_pid"]
        assert new_engine == engine, "re-attached to the same engine"
        for key, old in running.items():
            new = {(r["stage"], r["task"]): r for r in again["runs"]}[key]
            if new["state"] == "running":
                assert new["pid"] == old["pid"] and new["attempt"] == old["attempt"], f"{key}: not re-adopted"

        def finished() -> dict[str, Any] | None:
            state = status(cfg)
            done = [r for r in state["runs"] if r["state"] == "done"]
            return state if len(done) == len(PLANNED) else None

        final = poll(finished, 180, "the pipeline to finish", interval=0.1)
        assert final["engine_pid"] == engine
    finally:
        first.kill()
        second.kill()
        coopy("stop", str(cfg), "--stop-running", cwd=tmp_path, timeout=60)
        try:
            for r in status(cfg)["runs"]:
                if r["state"] == "running" and alive(r["pid"]):
                    os.killpg(r["pid"], signal.SIGKILL)
        except Exception:  # noqa: BLE001 - cleaning up after a failure must not hide it
            pass

    attempts = {(r["stage"], r["task"]): r["attempt"] for r in final["runs"]}
    assert attempts == PLANNED, {k: v for k, v in attempts.items() if PLANNED.get(k) != v}
    markers = {
        "prepare": "prepare {task}: step 1/",
        "evaluate": "evaluate {task}: step 1/",
        "summary": "{model}: 2 seeds, mean score",
    }
    twice = []
    for (stage, task), planned in PLANNED.items():
        logs = sorted((tmp_path / ".coopy" / "logs" / stage).glob(f"{task}.*.log"))
        assert [p.name for p in logs] == [f"{task}.{n}.log" for n in range(1, planned + 1)], (stage, task, logs)
        for log in logs:
            text = log.read_text()
            if stage == "train":
                marker = f"train {task} epoch: step 1/" if "out of memory" in text else f"train {task} epoch 1/6"
            else:
                marker = markers[stage].format(task=task, model=task.split(",")[0].removeprefix("model="))
            if text.count(marker) != 1:
                twice.append(f"{log.name}: {marker!r} x{text.count(marker)}")
    assert not twice, f"started more (or less) than once per attempt: {twice}"
    for task in TASKS:
        for output in ("data.json", "model.json", "score.json"):
            assert (tmp_path / "demo" / "out" / task / output).exists(), (task, output)
    wait_for(lambda: not alive(engine), "the engine to stop", 30)
    wait_no_processes(str(tmp_path), "no process of the demo left")
    report.update(
        {
            "runs": len(PLANNED),
            "commands survived": survived,
            "engine kept": "same pid",
            "lost": 0,
            "ran twice": 0,
            "failed attempts (planned)": 1,
        }
    )
