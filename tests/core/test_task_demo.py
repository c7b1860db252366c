"""`python demo/task_demo.py` end to end, on a copy of demo/: live progress on a terminal (a real pty),
the retry, per-stage caps; Ctrl-C leaves the commands running and the next run adopts them, so no
attempt is started twice; a finished demo says so."""

from __future__ import annotations

import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.processes import kill_all, processes_mentioning

REPO = Path(__file__).resolve().parents[2]
DEADLINE = 120.0  # the demo takes about 30 s alone; the machine is shared


class Terminal:
    """The demo with its stdout and stderr on a pseudo-terminal; everything it wrote, decoded."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
        os.close(slave)
        self._master = master
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:  # EIO: the other side closed
                break
            if not data:
                break
            self._chunks.append(data)

    @property
    def text(self) -> str:
        return b"".join(self._chunks).decode(errors="replace")

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        os.close(self._master)
        return code


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Path]:
    shutil.copytree(REPO / "demo", tmp_path / "demo", ignore=shutil.ignore_patterns("out", "__pycache__", ".coopy*"))
    yield tmp_path / "demo"
    kill_all([p for p in processes_mentioning(sys.executable) if _cwd(p) == tmp_path / "demo"])


def _cwd(pid: int) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def _results_table(text: str) -> dict[tuple[str, str], tuple[str, int, str]]:
    rows = re.findall(r"^(prepare|train|evaluate) +(\S+) +(\w+) +(\d+) +[\d.-]+ +([\d,]*)\s*$", text, re.M)
    return {(stage, task): (state, int(attempts), codes) for stage, task, state, attempts, codes in rows}


@pytest.mark.slow
def test_task_demo_runs_live_retries_and_resumes_after_ctrl_c(demo: Path) -> None:
    argv = [sys.executable, "task_demo.py"]
    started = time.monotonic()
    first = Terminal(argv, demo)
    deadline = time.monotonic() + DEADLINE
    while not re.search(r"train +\[[12]/2\]", first.text):  # training has begun
        assert first.proc.poll() is None and time.monotonic() < deadline, first.text
        time.sleep(0.1)
    first.proc.send_signal(signal.SIGINT)
    assert first.wait(30) == 130, first.text
    assert "stopped; `python demo/task_demo.py` again adopts the running commands" in first.text
    assert "\x1b[" in first.text, "live lines are redrawn on a terminal"
    assert "Traceback" not in first.text
    left = [p for p in processes_mentioning(sys.executable) if _cwd(p) == demo]
    assert left, "the running commands outlive the interrupted demo"

    second = Terminal(argv, demo)
    code = second.wait(DEADLINE)
    took = time.monotonic() - started
    text = second.text
    assert code == 0, text
    assert "warning: train/model=resnet,seed=2 attempt 1 failed: exit code 1 (retrying in 1s)" in text
    assert re.search(r"prepare +\[\d/3\]", text) and re.search(r"evaluate +\[\d/2\]", text), "per-stage caps shown"
    assert re.search(r"ETA \d", first.text + text), "live progress with an ETA"
    table = _results_table(text)
    assert len(table) == 18, text
    for (stage, task), (state, attempts, codes) in table.items():
        assert state == "done", (stage, task)
        if (stage, task) == ("train", "model=resnet,seed=2"):
            assert (attempts, codes) == (2, "1,0")
        else:
            assert (attempts, codes) == (1, "0"), f"{stage}/{task} was started again after Ctrl-C"
    header = next(line for line in text.splitlines() if line.startswith("stage "))
    rows = [line for line in text.splitlines() if re.match(r"^(prepare|train|evaluate) +\S+ +done ", line)]
    state_at, attempts_end = header.index("state"), header.index("attempts") + len("attempts")
    for row in rows:  # every column where its header is (a 19-character name shifted them)
        assert row[state_at : state_at + 5] == "done ", (header, row)
        assert row[attempts_end - 1].isdigit() and row[attempts_end] == " ", (header, row)
    logs = sorted(p.name for p in (demo / ".coopy-task-demo" / "logs" / "prepare").iterdir())
    assert logs == sorted(f"model={m},seed={s}.1.log" for m in ("mlp", "cnn", "resnet") for s in (1, 2))
    assert "all passed" in text
    assert took < DEADLINE

    done = subprocess.run(argv, cwd=demo, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "everything is done already" in done.stdout
