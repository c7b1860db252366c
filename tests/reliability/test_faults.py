"""Faults: each leaves its run failed with a clear reason in `coopy status`, while everything else goes on."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli import coopy, status
from tests.helpers.engine import write_config
from tests.helpers.processes import wait_no_processes

GOOD = ("good1", "good2")


@dataclass(frozen=True)
class Fault:
    id: str
    bad_cmd: str  # the bad configuration's {cmd}
    reason: str  # what `coopy status` must say about it
    stage_extra: str = ""
    pipeline_extra: str = ""
    prepare: str = ""  # name of a setup step below


FAULTS = [
    Fault("command-not-found", "no-such-command-coopy-test", "command not found"),
    Fault("not-executable", "{tmp}/not_executable.sh", "not executable", prepare="not_executable"),
    Fault("killed-by-signal", "{tmp}/kill_self.sh", "killed by SIGKILL", prepare="kill_self"),
    Fault("timeout", "{tmp}/sleep_long.sh", "timed out after 1s", stage_extra="timeout = 1", prepare="sleep_long"),
    Fault("log-dir-not-writable", "true", "cannot open log file", prepare="immutable_log_dir"),
    Fault("log-disk-full", "{tmp}/chatty.sh", "disk is full", prepare="full_log_disk"),
    Fault(
        "detector-raises",
        "true",
        "detector faulty:Raises raised RuntimeError: the detector broke",
        stage_extra='detector = "faulty:Raises"',
        prepare="detectors",
    ),
    Fault(
        "detector-hangs",
        "true",
        "detector faulty:Hangs gave no answer within 1s",
        stage_extra='detector = "faulty:Hangs"',
        pipeline_extra="detector_timeout = 1",
        prepare="detectors",
    ),
]

DETECTORS = """
import time
from coopy_core import Detector, Status, Verdict

class Raises(Detector):
    polls = False
    def check(self, ctx):
        if ctx.task == "bad":
            raise RuntimeError("the detector broke")
        return super().check(ctx)

class Hangs(Detector):
    polls = False
    def check(self, ctx):
        if ctx.task == "bad":
            time.sleep(600)
        return super().check(ctx)
"""


def script(path: Path, body: str, executable: bool = True) -> None:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755 if executable else 0o644)


@contextlib.contextmanager
def prepared(fault: Fault, tmp: Path) -> Iterator[None]:
    undo: list[list[str]] = []
    if fault.prepare == "not_executable":
        script(tmp / "not_executable.sh", "echo hi", executable=False)
    elif fault.prepare == "kill_self":
        script(tmp / "kill_self.sh", "kill -9 $$")
    elif fault.prepare == "sleep_long":
        script(tmp / "sleep_long.sh", f"sleep 300 # {tmp}")
    elif fault.prepare == "chatty":
        pass
    elif fault.prepare == "detectors":
        (tmp / "faulty.py").write_text(DETECTORS)
    elif fault.prepare == "immutable_log_dir":
        d = tmp / ".coopy" / "logs" / "work"
        d.mkdir(parents=True)
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(d)]).returncode != 0:
            pytest.skip("chattr +i is not available here")
        undo.append(["chattr", "-i", str(d)])
    elif fault.prepare == "full_log_disk":
        script(tmp / "chatty.sh", "head -c 200000 /dev/zero | tr '\\0' x; echo; echo done")
        d = tmp / ".coopy" / "logs" / "work"
        d.mkdir(parents=True)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(d)]).returncode != 0:
            pytest.skip("cannot mount a small tmpfs here")
        undo.append(["umount", "-l", str(d)])
    try:
        yield
    finally:
        for cmd in undo:
            subprocess.run(cmd)


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_fault_fails_its_run_clearly_and_the_rest_goes_on(fault: Fault, tmp_path: Path, report: dict[str, Any]) -> None:
    bad_cmd = fault.bad_cmd.format(tmp=tmp_path)
    cfg = write_config(
        tmp_path,
        f"""
        [pipeline]
        name = "faults"
        poll_interval = 0.5
        {fault.pipeline_extra}
        [tasks.named]
        bad = {{ cmd = "{bad_cmd}" }}
        good1 = {{ cmd = "true" }}
        good2 = {{ cmd = "true" }}
        [[stages]]
        name = "work"
        command = ["{{cmd}}"]
        workers = 3
        {fault.stage_extra}
        [[stages]]
        name = "after"
        command = ["sh", "-c", "echo after $0 >> after.txt", "{{task}}"]
        workers = 2
        """,
    )
    with prepared(fault, tmp_path):
        out = coopy("run", str(cfg), cwd=tmp_path, timeout=120)
        assert out.returncode == 1, f"some failed -> exit 1; got {out.returncode}: {out.stderr[-1500:]}"
        state = status(cfg)
        runs = {(r["task"], r["stage"]): r for r in state["runs"]}
        bad = runs[("bad", "work")]
        assert bad["state"] == "failed"
        assert fault.reason in bad["reason"], bad["reason"]
        assert runs[("bad", "after")]["state"] == "blocked"
        assert runs[("bad", "after")]["reason"] == "waits on work/bad, which failed"
        if fault.id not in ("log-dir-not-writable", "log-disk-full"):
            for task in GOOD:
                assert runs[(task, "work")]["state"] == "done"
                assert runs[(task, "after")]["state"] == "done", "every other run keeps going"
            assert sorted((tmp_path / "after.txt").read_text().split()) == sorted(["after"] * 2 + list(GOOD))
        text = coopy("status", str(cfg), cwd=tmp_path)
        assert "failed: work/bad" in text.stdout and fault.reason in text.stdout
        assert "Traceback" not in out.stderr + text.stderr
    wait_no_processes(str(tmp_path), "no process left behind")
    report.update({"faults tried": 1, "reason shown": bad["reason"][:80].replace("|", "/")})


def test_read_only_state_dir_is_a_clear_error_at_start(tmp_path: Path, report: dict[str, Any]) -> None:
    cfg = write_config(
        tmp_path,
        """
        [tasks.named]
        a = { x = 1 }
        [[stages]]
        name = "s"
        command = ["sh", "-c", "echo ran >> ran.txt"]
        """,
    )
    state = tmp_path / ".coopy"
    state.mkdir()
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(state)]).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        out = coopy("run", str(cfg), cwd=tmp_path, timeout=60)
    finally:
        subprocess.run(["chattr", "-i", str(state)])
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert str(state) in out.stderr and ("cannot" in out.stderr)
    assert not (tmp_path / "ran.txt").exists(), "nothing started"
    report.update({"faults tried": 1, "message": out.stderr.strip()[:100].replace("|", "/")})


def test_unwritable_log_dir_for_every_stage_still_ends_cleanly(tmp_path: Path) -> None:
    """A log dir that is a file: every run fails with the reason; the engine itself does not crash."""
    (tmp_path / "logs").write_text("not a directory")
    cfg = write_config(
        tmp_path,
        """
        [pipeline]
        log_dir = "logs/inside"
        [tasks.named]
        a = { x = 1 }
        [[stages]]
        name = "s"
        command = ["true"]
        """,
    )
    out = coopy("run", str(cfg), cwd=tmp_path, timeout=60)
    assert out.returncode == 1, out.stderr
    run = status(cfg)["runs"][0]
    assert run["state"] == "failed" and "cannot open log file" in run["reason"]
    assert sys.executable  # keep the import used
