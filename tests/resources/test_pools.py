"""GPU pools (fake ids, no GPU needed): each run its own ids, several for a multi-GPU run, resized at run time, no
starvation of a large request, and a request no pool can serve refused with the config (hooks and `coopy export`:
test_hooks_and_export.py)."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time
from pathlib import Path

import pytest

from coopy_core import Engine, load_config
from coopy_core.engine import CommandError
from coopy_core.errors import ConfigError

DEADLINE = 40.0


def write(tmp: Path, body: str) -> Path:
    path = tmp / "coopy.toml"
    path.write_text(textwrap.dedent(body).lstrip())
    return path


async def until(cond, what: str, timeout: float = DEADLINE) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def intervals(path: Path) -> list[tuple[str, str, float, float, str]]:
    """Lines `task start end gpus` written by the test commands."""
    out = []
    for line in path.read_text().splitlines():
        stage, task, start, end, gpus = line.split()
        out.append((stage, task, float(start), float(end), gpus))
    return out


GPU_STEP = """
import os, sys, time
start = time.time()
time.sleep(float(sys.argv[3]))
gpus = os.environ["CUDA_VISIBLE_DEVICES"]
line = " ".join([sys.argv[2], os.environ["COOPY_TASK"], str(start), str(time.time()), gpus])
with open(sys.argv[1], "a") as f:
    f.write(line + "\\n")
"""


def step_script(tmp: Path) -> Path:
    path = tmp / "gpu_step.py"
    path.write_text(GPU_STEP)
    return path


def gpu_config(tmp: Path, gpus: str, per_run: int, workers: int, tasks: int, seconds: float) -> Path:
    log = tmp / "gpu.txt"
    return write(
        tmp,
        f"""
        [pipeline]
        name = "gpu"
        poll_interval = 0.5
        [resources]
        gpus = {gpus}
        [tasks.matrix]
        i = {list(range(tasks))}
        [[stages]]
        name = "train"
        command = ["{sys.executable}", "{step_script(tmp)}", "{log}", "train", "{seconds}"]
        workers = {workers}
        resources = {{ gpus = {per_run} }}
        """,
    )


def max_overlap(rows: list[tuple[str, str, float, float, str]]) -> int:
    points = sorted([(s, 1) for _, _, s, _, _ in rows] + [(e, -1) for _, _, _, e, _ in rows])
    best = cur = 0
    for _t, d in points:
        cur += d
        best = max(best, cur)
    return best


def overlapping_share_no_gpu(rows: list[tuple[str, str, float, float, str]]) -> None:
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            if a[2] < b[3] and b[2] < a[3]:
                assert not set(a[4].split(",")) & set(b[4].split(",")), f"{a} and {b} shared a GPU"


async def test_each_run_gets_its_own_gpu_ids(tmp_path: Path) -> None:
    config = load_config(gpu_config(tmp_path, "[0, 1, 2, 3]", per_run=1, workers=8, tasks=8, seconds=0.6))
    engine = Engine(config)
    await engine.start()
    try:
        await asyncio.wait_for(engine.run_until_finished(), DEADLINE)
        views = {r.task: r for r in engine.snapshot().runs}
    finally:
        await engine.shutdown(stop_running=True)
    rows = intervals(tmp_path / "gpu.txt")
    assert len(rows) == 8
    assert max_overlap(rows) <= 4, "four GPUs: never more than four runs at once, whatever the worker cap"
    overlapping_share_no_gpu(rows)
    for _stage, task, _s, _e, gpus in rows:
        assert gpus in {"0", "1", "2", "3"}
        assert views[task].resources == {"gpus": [gpus]}, "the UI is shown the ids the run saw"


async def test_multi_gpu_runs_get_several_distinct_ids(tmp_path: Path) -> None:
    config = load_config(gpu_config(tmp_path, "[0, 1, 2, 3]", per_run=2, workers=4, tasks=4, seconds=0.6))
    engine = Engine(config)
    await engine.start()
    try:
        await asyncio.wait_for(engine.run_until_finished(), DEADLINE)
    finally:
        await engine.shutdown(stop_running=True)
    rows = intervals(tmp_path / "gpu.txt")
    assert len(rows) == 4 and max_overlap(rows) <= 2
    for row in rows:
        ids = row[4].split(",")
        assert len(ids) == 2 and len(set(ids)) == 2
    overlapping_share_no_gpu(rows)


async def test_pool_resized_at_run_time(tmp_path: Path) -> None:
    config = load_config(gpu_config(tmp_path, '["g0"]', per_run=1, workers=8, tasks=6, seconds=1.5))
    engine = Engine(config)
    await engine.start()
    try:
        await until(lambda: engine.stage_view("train").running == 1, "one run on the one GPU")
        await asyncio.sleep(0.3)
        assert engine.stage_view("train").running == 1
        engine.set_pool("gpus", ["g0", "g1", "g2"])
        await until(lambda: engine.stage_view("train").running == 3, "three runs on three GPUs")
        assert engine.snapshot().pools["gpus"]["size"] == ["g0", "g1", "g2"]
        with pytest.raises(CommandError):
            engine.set_pool("gpus", 2.5)  # an id pool takes ids
        await asyncio.wait_for(engine.run_until_finished(), DEADLINE)
    finally:
        await engine.shutdown(stop_running=True)
    assert {r[4] for r in intervals(tmp_path / "gpu.txt")} <= {"g0", "g1", "g2"}
    # the new size is kept by the state store for the next engine
    engine2 = Engine(load_config(tmp_path / "coopy.toml"))
    await engine2.start()
    try:
        assert engine2.snapshot().pools["gpus"]["size"] == ["g0", "g1", "g2"]
    finally:
        await engine2.shutdown()


async def test_two_gpu_run_is_not_starved_by_a_stream_of_one_gpu_runs(tmp_path: Path) -> None:
    log = tmp_path / "gpu.txt"
    cfg = write(
        tmp_path,
        f"""
        [pipeline]
        name = "starve"
        poll_interval = 0.5
        [resources]
        gpus = [0, 1]
        [tasks.named]
        big = {{ kind = "big" }}
        [[stages]]
        name = "small"
        command = ["{sys.executable}", "{step_script(tmp_path)}", "{log}", "small", "0.4"]
        workers = 2
        resources = {{ gpus = 1 }}
        [[stages]]
        name = "large"
        command = ["{sys.executable}", "{step_script(tmp_path)}", "{log}", "large", "0.2"]
        workers = 1
        resources = {{ gpus = 2 }}
        """,
    )
    engine = Engine(load_config(cfg))
    await engine.start()
    added: list[tuple[str, float]] = []
    try:
        # a stream of 1-GPU work that alone would keep at least one GPU busy at every moment
        for i in range(40):
            added.append((engine.add_task({"kind": f"s{i}"}), time.time()))
            await asyncio.sleep(0.15)
            if any(r.task == "big" and r.stage == "large" and r.state.value == "done" for r in engine.snapshot().runs):
                break
        await until(
            lambda: any(
                r.task == "big" and r.stage == "large" and r.state.value == "done" for r in engine.snapshot().runs
            ),
            "the 2-GPU run to be served while 1-GPU work keeps arriving",
        )
        still_queued = [r.task for r in engine.snapshot().runs if r.stage == "small" and r.state.value == "queued"]
        large_start = next(r.started_at for r in engine.snapshot().runs if r.task == "big" and r.stage == "large")
        big_small_end = next(r.ended_at for r in engine.snapshot().runs if r.task == "big" and r.stage == "small")
    finally:
        await engine.shutdown(stop_running=True)
    assert large_start is not None and big_small_end is not None
    # nothing that arrived after the 2-GPU run was queued started before it
    rows = intervals(log)
    overtakers = [
        task
        for stage, task, start, _e, _g in rows
        if stage == "small" and start < large_start and dict(added).get(task, 0) > big_small_end + 0.05
    ]
    assert overtakers == [], f"1-GPU runs queued after the 2-GPU run started before it: {overtakers}"
    assert still_queued or len(added) < 40, "the stream was still feeding 1-GPU work when the 2-GPU run ran"


def test_a_request_the_pool_cannot_serve_is_a_config_error(tmp_path: Path) -> None:
    cfg = gpu_config(tmp_path, "[0, 1]", per_run=3, workers=1, tasks=1, seconds=0)
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert "stages[0].resources.gpus" in str(err.value) and "only 2" in str(err.value)
    no_pool = write(
        tmp_path,
        """
        [tasks.matrix]
        i = [1]
        [[stages]]
        name = "a"
        command = ["true"]
        resources = { mem_gb = 4 }
        """,
    )
    with pytest.raises(ConfigError, match=r"stages\[0\]\.resources\.mem_gb: no pool 'mem_gb'"):
        load_config(no_pool)
