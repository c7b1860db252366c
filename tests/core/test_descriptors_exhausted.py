"""The test helper that puts this process at its descriptor limit keeps it there for the whole block, even when
an earlier test left garbage holding descriptors (a SQLite connection never closed sits in a reference cycle) and
the garbage collector runs in the middle: a descriptor coming free then let a refused start through, and the
refused-start tests failed only after minutes of other tests (tests/core/test_refused_start_backoff.py)."""

from __future__ import annotations

import errno
import gc
import os
import sqlite3
from pathlib import Path

import pytest

from tests.helpers.machine import descriptors_exhausted


def _leave_an_unclosed_connection(db: Path) -> None:
    with sqlite3.connect(db) as conn:  # `with` commits but does not close: garbage once this returns
        conn.execute("CREATE TABLE IF NOT EXISTS t (a)")


def test_no_descriptor_comes_free_when_garbage_is_collected_meanwhile(tmp_path: Path) -> None:
    _leave_an_unclosed_connection(tmp_path / "left.sqlite")
    with descriptors_exhausted():
        gc.collect()  # what the collector may do at any moment of a test
        with pytest.raises(OSError) as refused:
            os.close(os.open(os.devnull, os.O_RDONLY))
        assert refused.value.errno == errno.EMFILE
    os.close(os.open(os.devnull, os.O_RDONLY))  # and free again after the block
