"""Real pipelines the TUI tests start engines on: a config written from a TOML snippet, a pipeline whose runs
fail in a known pattern, a grid of learning rates, and the waits that go with them; a 400-configuration sweep,
real and scripted."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path
from typing import Any

from coopy_core.config import load_config
from coopy_core.engine import CommandError, Engine
from coopy_core.graph import Graph, StageNode
from coopy_core.model import RunState, RunView
from coopy_core.report import results
from coopy_core.tasks import Task
from tests.helpers.tui import NOW, FakeEngine, counts, wait_for, write_log


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


# ---------------------------------------------------------------------- a 400-configuration sweep
# Names that share a long prefix (`dataset=cifar10-augmented-large,model=...`): what the TUI audit of issue 24
# used. SWEEP is the real pipeline (prepare once, train and evaluate per configuration, compare per model);
# sweep_engine() is the same pipeline caught mid-run, scripted, for Pilot tests and snapshots.
DATASET = "cifar10-augmented-large"
MODELS = (
    "resnet18",
    "resnet50",
    "vit-small",
    "vit-base",
    "mlp-mixer",
    "convnext-tiny",
    "efficientnet-b0",
    "densenet121",
)
LRS = ("0.1", "0.03", "0.01", "0.003", "0.001")
SEEDS = tuple(str(s) for s in range(10))
SWEEP_TASKS = [f"dataset={DATASET},model={m},lr={lr},seed={s}" for m in MODELS for lr in LRS for s in SEEDS]

SWEEP = f"""
    [pipeline]
    name = "sweep"
    poll_interval = 0.5
    [tasks.matrix]
    dataset = ["{DATASET}"]
    model = [{", ".join(f'"{m}"' for m in MODELS)}]
    lr = [{", ".join(LRS)}]
    seed = [{", ".join(SEEDS)}]
    [[stages]]
    name = "prepare"
    over = []
    command = ["sh", "-c", "echo prepared"]
    [[stages]]
    name = "train"
    command = ["sh", "-c", "echo train $0 $1 $2; sleep 1; echo loss 0.5", "{{model}}", "{{lr}}", "{{seed}}"]
    workers = 4
    [[stages]]
    name = "evaluate"
    command = ["sh", "-c", "echo evaluated"]
    workers = 4
    [[stages]]
    name = "compare"
    over = ["model"]
    command = ["sh", "-c", "echo compared"]
"""


class SweepEngine(FakeEngine):
    """The sweep mid-run; `results` answers from the runs' metrics as the real engine does (report/results.py)."""

    def metric_series(self, task: str, stage: str, name: str | None = None) -> dict[str, list[list[float]]]:
        run = self.runs.get((task, stage))
        metrics = run.metrics if run is not None else {}
        return {n: [[1.0, v]] for n, v in metrics.items() if name is None or n == name}

    def results(
        self, group_by: list[str] | None = None, sort: str | None = None, stage: str | None = None
    ) -> dict[str, Any]:
        nodes = [StageNode(s.name, s.needs, s.over) for s in self.stages.values()]
        graph = Graph(nodes, [Task(t, dict(p.split("=", 1) for p in t.split(","))) for t in self.tasks])
        states = {(r.stage, r.task): r.state for r in self.runs.values()}
        metrics = {(r.stage, r.task): dict(r.metrics) for r in self.runs.values() if r.metrics}
        try:
            table = results.build(graph, list(self.stages), states, metrics, stage=stage)
            return results.as_json(results.arrange(table, group_by or [], sort))
        except results.ResultsError as exc:
            raise CommandError(str(exc)) from None


def sweep_engine(root: Path) -> SweepEngine:
    """400 configurations (809 runs, 505 of them stored) at a fixed moment: prepare done; train 150 done
    (loss, accuracy and three more), 4 running, 2 failed for good, the rest queued; evaluate 100 done, 2 running, 2
    blocked; compare waiting."""
    runs: list[RunView] = []

    def add(task: str, stage: str, state: RunState, **kw: Any) -> None:
        runs.append(
            RunView(
                task=task, stage=stage, attempt=kw.pop("attempt", 1), state=state, priority=0, order=len(runs), **kw
            )
        )

    add("all", "prepare", RunState.DONE, started_at=NOW - 900, ended_at=NOW - 880, exit_code=0)
    for i, task in enumerate(SWEEP_TASKS):
        quality = 1 + (i * 37) % 150 / 150  # a spread of losses that does not follow the order
        if i < 150:
            metrics = {
                "loss": round(0.2 * quality, 4),
                "accuracy": round(1 - 0.25 * quality, 4),
                "val_loss": round(0.25 * quality, 4),
                "val_accuracy": round(0.98 - 0.3 * quality, 4),
                "epoch_seconds": round(30 * quality, 1),
            }
            add(
                task,
                "train",
                RunState.DONE,
                started_at=NOW - 800 + i,
                ended_at=NOW - 790 + i,
                exit_code=0,
                metrics=metrics,
            )
        elif i < 154:
            log = write_log(root, "train", task, 1, [f"epoch 3/10: loss {0.4 * quality:.3f}"])
            add(task, "train", RunState.RUNNING, started_at=NOW - 30 + i - 150, log=log)
        elif i < 156:
            log = write_log(root, "train", task, 3, ["RuntimeError: loss is NaN"])
            add(
                task,
                "train",
                RunState.FAILED,
                attempt=3,
                started_at=NOW - 60,
                ended_at=NOW - 50,
                exit_code=1,
                reason="exit code 1",
                log=log,
            )
        else:
            add(task, "train", RunState.QUEUED, attempt=0)
    for i, task in enumerate(SWEEP_TASKS[:156]):
        if i < 100:
            add(task, "evaluate", RunState.DONE, started_at=NOW - 500 + i, ended_at=NOW - 495 + i, exit_code=0)
        elif i < 102:
            add(task, "evaluate", RunState.RUNNING, started_at=NOW - 4)
        elif i >= 154:
            add(task, "evaluate", RunState.BLOCKED, attempt=0, reason=f"waits on train/{task}, which failed")
    engine = SweepEngine("sweep", [(s, 4, False, 10.0) for s in STAGES], runs, SWEEP_TASKS)
    shapes = {"prepare": ((), 1), "train": (None, 400), "evaluate": (None, 400), "compare": (("model",), 8)}
    for name, (over, total) in shapes.items():
        view = engine.stages[name]
        engine.stages[name] = dataclasses.replace(view, over=over, total=total, counts=counts(runs, name, total))
    return engine


STAGES = ("prepare", "train", "evaluate", "compare")
