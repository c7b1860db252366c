"""A finished sweep written straight into a real store (no engine): what the report tests read."""

from __future__ import annotations

import random
from pathlib import Path

from coopy_core import load_config
from coopy_core.lifecycle.metrics import MetricRow
from coopy_core.model import Run, RunState
from coopy_core.state.store import Batch, Store

BIG = """
[pipeline]
name = "big"
[tasks.matrix]
model = ["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"]
seed = [{seeds}]
[[stages]]
name = "prepare"
command = ["true"]
workers = 8
[[stages]]
name = "train"
command = ["true"]
workers = 16
[[stages]]
name = "evaluate"
command = ["true"]
workers = 8
"""


def fill_store(cfg: Path) -> int:
    """A finished run of 1,000 configurations written straight into a real store: every attempt with start and
    end (a retry in every tenth training), 100-point loss series, an accuracy per evaluation."""
    config = load_config(cfg)
    config.state_dir.mkdir(parents=True)
    store = Store(config.state_dir)
    rng = random.Random(7)
    batch = Batch()
    free = {"prepare": [0.0] * 8, "train": [0.0] * 16, "evaluate": [0.0] * 8}
    ready = {t.name: 0.0 for t in config.tasks}
    count = 0
    for task in config.tasks:
        batch.tasks.append((task, False))
    for stage, low, high in (("prepare", 1, 3), ("train", 20, 60), ("evaluate", 2, 5)):
        for order, task in enumerate(config.tasks):
            attempts = 2 if stage == "train" and order % 10 == 0 else 1
            for attempt in range(1, attempts + 1):
                lane = min(range(len(free[stage])), key=free[stage].__getitem__)
                start = max(free[stage][lane], ready[task.name])
                end = start + rng.uniform(low, high)
                free[stage][lane] = end
                ready[task.name] = end
                state = "failed" if attempt < attempts else "done"
                log = str(config.log_dir / stage / f"{task.name}.{attempt}.log")
                batch.attempts.append(
                    (
                        task.name,
                        stage,
                        attempt,
                        state,
                        1 if state == "failed" else 0,
                        "exit code 1" if state == "failed" else "",
                        1e9 + start,
                        1e9 + end,
                        log,
                    )
                )
                count += 1
            run = Run(
                stage,
                task.name,
                RunState.DONE,
                attempt=attempts,
                order=order,
                started_at=1e9 + start,
                ended_at=1e9 + end,
                log=log,
                exit_code=0,
            )
            batch.runs[run.key] = run
            if stage == "train":
                series = tuple((float(s), 1.0 / (s + 1) + rng.random() * 0.05) for s in range(100))
                batch.metrics[(task.name, stage, "loss")] = MetricRow(
                    task.name, stage, "loss", attempts, series[-1][1], 99.0, series
                )
            if stage == "evaluate":
                acc = rng.random()
                batch.metrics[(task.name, stage, "accuracy")] = MetricRow(
                    task.name, stage, "accuracy", 1, acc, None, ((0.0, acc),)
                )
    store.write(batch)
    store.close()
    return count
