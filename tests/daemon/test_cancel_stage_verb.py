"""`coopy cancel-stage` reaches the running background engine: every run of the stage that has not ended is
cancelled, those not reached yet too, and the other stages go on."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.waiting import wait_for


def coopy(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coopy_core.cli.main", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "coopy.toml"
    path.write_text(
        textwrap.dedent(
            """
            [pipeline]
            name = "cancel-stage"
            poll_interval = 0.5
            [tasks.matrix]
            x = [1, 2, 3, 4]
            [[stages]]
            name = "first"
            command = ["sleep", "600"]
            workers = 2
            [[stages]]
            name = "second"
            needs = ["first"]
            command = ["sleep", "600"]
            [[stages]]
            name = "other"
            needs = []
            command = ["sleep", "600"]
            workers = 4
            """
        ).lstrip()
    )
    yield path
    coopy("stop", str(path), "--stop-running", cwd=tmp_path)


def states(cfg: Path) -> dict[tuple[str, str], str]:
    out = coopy("status", str(cfg), "--json", cwd=cfg.parent)
    assert out.returncode == 0, out.stderr
    return {(r["stage"], r["task"]): r["state"] for r in json.loads(out.stdout)["runs"]}


def test_cancel_stage_cancels_what_has_not_ended_and_the_rest_goes_on(config: Path) -> None:
    assert coopy("run", "--detach", str(config), cwd=config.parent).returncode == 0
    wait_for(lambda: list(states(config).values()).count("running") == 6, "two first and four other runs running")
    out = coopy("cancel-stage", str(config), "second", cwd=config.parent)  # not reached yet: not stored
    assert out.returncode == 0 and out.stdout.strip() == "second: 4 run(s) cancelled", (out.stdout, out.stderr)
    out = coopy("cancel-stage", str(config), "first", cwd=config.parent)
    assert out.returncode == 0 and out.stdout.strip() == "first: 4 run(s) cancelled", (out.stdout, out.stderr)
    wait_for(
        lambda: {s for (stage, _t), s in states(config).items() if stage in ("first", "second")} == {"cancelled"},
        "every run of first and second cancelled",
    )
    assert all(s == "running" for (stage, _t), s in states(config).items() if stage == "other")
    bad = coopy("cancel-stage", str(config), "nope", cwd=config.parent)
    assert bad.returncode == 2 and "no stage named 'nope'" in bad.stderr and "Traceback" not in bad.stderr
