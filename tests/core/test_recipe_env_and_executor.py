"""A run's recipe holds the command as rendered, with the `env` the config sets and the executor options
(README: Results you can trust): changing either makes `coopy plan` and `coopy why` say the run runs again,
never "is current". The Slurm cases plan only: a LocalExecutor stands in for Slurm to make the first result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from coopy_core import Engine, load_config
from coopy_core.executors.local import LocalExecutor
from tests.helpers.cli import coopy
from tests.helpers.engine import wait_finished, write_config

STAGE = """
[tasks.named]
t = { v = 1 }
[[stages]]
name = "train"
command = ["sh", "-c", "echo $LR > lr.txt"]
"""


def plan(cfg: Path) -> dict[str, Any]:
    result = coopy("plan", str(cfg), "--json", cwd=cfg.parent)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def would_run(cfg: Path) -> dict[str, set[str]]:
    return {category: {f"{r['stage']}/{r['task']}" for r in runs} for category, runs in plan(cfg)["would_run"].items()}


def why(cfg: Path) -> str:
    result = coopy("why", str(cfg), "train", "t", cwd=cfg.parent)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def run_ok(cfg: Path) -> None:
    result = coopy("run", str(cfg), cwd=cfg.parent)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def edit(cfg: Path, old: str, new: str) -> None:
    text = cfg.read_text()
    assert old in text
    cfg.write_text(text.replace(old, new))


def test_a_changed_env_makes_the_run_run_again(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, STAGE + 'env = { LR = "0.1" }\n')
    run_ok(cfg)
    assert (tmp_path / "lr.txt").read_text() == "0.1\n"
    assert would_run(cfg) == {} and why(cfg) == "train/t is current: nothing that made it changed"
    edit(cfg, 'LR = "0.1"', 'LR = "0.2"')
    assert would_run(cfg) == {"command changed": {"train/t"}}
    said = why(cfg)
    assert said.startswith("train/t runs again: its env changed"), said
    assert "0.1" in said and "0.2" in said, said


def test_switching_to_slurm_makes_the_run_run_again(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, STAGE)
    run_ok(cfg)
    assert would_run(cfg) == {}
    cfg.write_text(cfg.read_text() + 'executor = "slurm"\n')
    assert would_run(cfg) == {"command changed": {"train/t"}}
    said = why(cfg)
    assert said.startswith("train/t runs again: executor changed"), said


async def test_changed_slurm_options_make_the_run_run_again(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, STAGE + 'executor = "slurm"\nslurm = { partition = "short", time = "10" }\n')
    engine = Engine(load_config(cfg), executors={"slurm": LocalExecutor()})  # no cluster: it runs here
    await engine.start()
    try:
        assert await wait_finished(engine)
    finally:
        await engine.shutdown(stop_running=True)
    assert would_run(cfg) == {} and why(cfg) == "train/t is current: nothing that made it changed"
    edit(cfg, 'partition = "short"', 'partition = "long"')
    assert would_run(cfg) == {"command changed": {"train/t"}}
    said = why(cfg)
    assert said.startswith("train/t runs again: slurm changed") and "long" in said, said
    edit(cfg, 'partition = "long"', 'partition = "short"')
    assert would_run(cfg) == {}, "back to the options that made it: current again"
    edit(cfg, 'time = "10"', 'time = "20"')
    assert would_run(cfg) == {"command changed": {"train/t"}}
