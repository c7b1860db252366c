"""A state store refused while it opens (written by a newer CooPy) leaves no descriptor open: its connection is
closed at once, not when the garbage collector happens to run (an unclosed SQLite connection sits in a reference
cycle). A program that keeps one process and opens stores again and again — the Python API, the TUI, a test
suite — would otherwise run out of descriptors; engines started and stopped in one process leave none either."""

from __future__ import annotations

import contextlib
import gc
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from coopy_core import Engine, StateError, load_config
from coopy_core.state.store import DB_NAME, Store
from tests.helpers.engine import wait_finished, write_config

TIMES = 5


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@contextlib.contextmanager
def no_collector() -> Iterator[None]:
    """Only what the code closes itself is closed: the garbage collector does not run meanwhile."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _pipeline(tmp_path: Path) -> Path:
    return write_config(
        tmp_path,
        """
        [tasks.matrix]
        i = [0, 1]
        [[stages]]
        name = "s"
        command = ["true"]
        """,
    )


async def test_engines_started_and_stopped_in_one_process_leave_no_descriptor(tmp_path: Path) -> None:
    config = load_config(_pipeline(tmp_path))
    with no_collector():
        before = open_descriptors()
        for _ in range(TIMES):
            engine = Engine(config)
            await engine.start()
            assert await wait_finished(engine)
            await engine.shutdown(stop_running=True)
        assert open_descriptors() == before


@pytest.mark.parametrize("readonly", [False, True], ids=["engine-store", "reader"])
async def test_a_newer_store_refused_leaves_no_descriptor(tmp_path: Path, readonly: bool) -> None:
    config = load_config(_pipeline(tmp_path))
    engine = Engine(config)
    await engine.start()
    assert await wait_finished(engine)
    await engine.shutdown()
    db = config.state_dir / DB_NAME
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA user_version = 99")
    with no_collector():
        before = open_descriptors()
        for _ in range(TIMES):
            with pytest.raises(StateError, match="newer CooPy"):
                Store(config.state_dir, readonly=readonly)
        assert open_descriptors() == before, f"{TIMES} refused opens left descriptors open"
        for _ in range(TIMES):
            with pytest.raises(StateError, match="newer CooPy"):
                await Engine(config).start()
        assert open_descriptors() == before, f"{TIMES} refused engine starts left descriptors open"
