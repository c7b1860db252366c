"""Fixtures for the metrics / results / report tests: real engines on tmp pipelines (shut down afterwards)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coopy_core import Engine, load_config
from tests.helpers.engine import EngineFactory


@pytest.fixture
async def start_engine() -> AsyncIterator[EngineFactory]:
    engines: list[Engine] = []

    async def start(path: Path) -> Engine:
        engine = Engine(load_config(path))
        await engine.start()
        engines.append(engine)
        return engine

    yield start
    for engine in reversed(engines):
        await engine.shutdown(stop_running=True)
