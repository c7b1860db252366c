"""Fixtures for the TUI tests: a scripted engine for screenshots, real engines on tmp pipelines."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tui_fakes import FakeEngine, demo_engine  # noqa: E402


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a fresh folder, so relative log paths resolve and nothing absolute reaches the screen."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


@pytest.fixture
def demo(in_tmp: Path) -> FakeEngine:
    return demo_engine(in_tmp)


async def wait_for(pilot: object, condition: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Poll `condition` between app turns; generous deadline, no fixed sleeps."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.05)  # type: ignore[attr-defined]


def settle(app: object) -> Callable[[object], Awaitable[None]]:
    """A `run_before` for snap_compare: wait until the app has read its logs and painted everything."""

    async def run_before(pilot: object) -> None:
        await wait_for(pilot, app.settled, what="the app to settle")  # type: ignore[attr-defined]
        app.repaint()  # type: ignore[attr-defined]
        await pilot.pause()  # type: ignore[attr-defined]

    return run_before
