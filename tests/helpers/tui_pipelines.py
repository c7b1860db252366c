"""Real pipelines the TUI tests start engines on: a config written from a TOML snippet, a pipeline whose runs
fail in a known pattern, a grid of learning rates, and the waits that go with them."""

from __future__ import annotations

import textwrap
from pathlib import Path

from coopy_core.config import load_config
from coopy_core.engine import Engine
from coopy_core.model import RunView
from tests.helpers.tui import wait_for


def write(root: Path, body: str) -> Path:
    path = root / "coopy.toml"
    path.write_text(textwrap.dedent(body).lstrip())
    return path


async def started(path: Path) -> Engine:
    engine = Engine(load_config(path))
    await engine.start()
    return engine


def state(engine: Engine, stage: str, task: str) -> RunView:
    return next(r for r in engine.snapshot().runs if r.stage == stage and r.task == task)


# first: x=1 and x=2 fail their first attempt (a retry passes); second: every run fails
FAILING = """
    [pipeline]
    name = "failing"
    poll_interval = 0.5
    [tasks.matrix]
    x = [1, 2, 3, 4]
    [[stages]]
    name = "first"
    command = ["sh", "-c", "echo attempt $1 of $0; [ $0 -gt 2 ] || [ $1 -gt 1 ] || exit 3", "{x}", "{attempt}"]
    workers = 4
    [[stages]]
    name = "second"
    command = ["sh", "-c", "echo second $0; exit 4", "{x}"]
    workers = 4
"""


def failed(engine: Engine, stage: str) -> int:
    return engine.stage_view(stage).counts.get("failed", 0)


async def settled_failures(pilot: object, engine: Engine) -> None:
    await wait_for(
        pilot,
        lambda: failed(engine, "first") == 2 and failed(engine, "second") == 2,
        what="x=1, x=2 failed in first; x=3, x=4 in second",
    )


GRID = """
    [pipeline]
    name = "grid"
    poll_interval = 0.5
    [tasks.matrix]
    lr = {lrs}
    [[stages]]
    name = "train"
    command = ["sh", "train.sh", "{{lr}}", "{{attempt}}"]
    env = {{ FAIL = "{fail}" }}
    workers = 4
    retries = {retries}
    backoff = 0
    [[stages]]
    name = "evaluate"
    command = ["sh", "-c", "echo evaluated"]
    workers = 4
"""

TRAIN = """\\
echo "train lr=$1 attempt $2"
for f in $FAIL; do
    if [ "$1" = "$f" ]; then echo "RuntimeError: loss is NaN at lr=$1" >&2; exit 1; fi
done
if [ "$1" = 1 ] && [ "$2" = 1 ]; then echo "CUDA out of memory" >&2; exit 2; fi
echo trained
"""


def grid_config(root: Path, lrs: str, fail: str, retries: int) -> Path:
    (root / "train.sh").write_text(TRAIN)
    return write(root, GRID.format(lrs=lrs, fail=fail, retries=retries))
