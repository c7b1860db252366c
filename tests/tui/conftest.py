"""Fixtures for the TUI tests: a scripted engine for screenshots, real engines on tmp pipelines.

The scripted engine and the Pilot waits live in tests/helpers/tui.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.tui import FakeEngine, demo_engine


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
