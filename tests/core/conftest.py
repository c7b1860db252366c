"""Fixtures for the core engine tests; plain helpers live in tests/helpers/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coopy_core import Engine, load_config
from coopy_core.engine import Subscriber
from tests.helpers.engine import EngineFactory


@pytest.fixture
async def start_engine() -> AsyncIterator[EngineFactory]:
    """`engine = await start_engine(config_path[, subscriber])`; every engine is shut down with its runs stopped."""
    engines: list[Engine] = []

    async def start(path: Path, subscriber: Subscriber | None = None) -> Engine:
        engine = Engine(load_config(path))
        if subscriber is not None:
            engine.subscribe(subscriber)  # before start: see every event, the first starts too
        await engine.start()
        engines.append(engine)
        return engine

    yield start
    for engine in reversed(engines):
        await engine.shutdown(stop_running=True)
