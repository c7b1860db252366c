"""Fixtures for the TUI tests: a scripted engine for screenshots, real engines on tmp pipelines.

The scripted engine and the Pilot waits live in tests/helpers/tui.py."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from coopy_core.config import load_config
from coopy_core.engine import Engine
from tests.helpers.sleepy_pipeline import stop_everything, write_sleepy
from tests.helpers.tui import FakeEngine, demo_engine
from tests.helpers.tui_pipelines import FAILING, write


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run in a fresh folder, so relative log paths resolve and nothing absolute reaches the screen; in UTC,
    so the times shown (14:03:07) are the same on every machine."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield tmp_path
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def demo(in_tmp: Path) -> FakeEngine:
    return demo_engine(in_tmp)


@pytest.fixture
def background(tmp_path: Path) -> Iterator[object]:
    """A real background engine (a daemon, over the socket): what coopy-tui attaches to by default."""
    from coopy_core.wire.daemon import ensure_engine

    config = load_config(
        write(
            tmp_path,
            """
        [pipeline]
        name = "burst"
        poll_interval = 0.5
        [tasks.matrix]
        x = [1, 2, 3, 4]
        [[stages]]
        name = "work"
        command = ["sleep", "600"]
        workers = 1
    """,
        )
    )
    client, _started = ensure_engine(config, events=True)
    pid = client.info.get("pid")
    yield client
    client.stop(stop_running=True)
    client.close()
    deadline = time.monotonic() + 30
    while isinstance(pid, int) and time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        if isinstance(pid, int):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
async def failing(tmp_path: Path) -> AsyncIterator[Engine]:
    """first: x=1 and x=2 fail their first attempt (a retry passes); second: every run fails."""
    eng = Engine(load_config(write(tmp_path, FAILING)))
    await eng.start()
    yield eng
    await eng.shutdown(stop_running=True)


@pytest.fixture
def sleepy(tmp_path: Path) -> Iterator[Path]:
    write_sleepy(tmp_path)
    yield tmp_path
    stop_everything(tmp_path)
