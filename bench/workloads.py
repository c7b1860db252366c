"""Seeded workloads and the lower bound no scheduler can beat."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    stages: list[str]
    caps: list[int]
    durations: list[list[float]]  # durations[task][stage], seconds; 0 = near-zero command
    command: str = "step"  # "step": bench/step.sh with stamps; "true": /bin/true, nothing else

    @property
    def tasks(self) -> list[str]:
        width = len(str(len(self.durations) - 1))
        return [f"c{i:0{width}d}" for i in range(len(self.durations))]

    @property
    def runs(self) -> int:
        return len(self.durations) * len(self.stages)

    def lower_bound(self) -> float:
        """max(longest single chain, for each stage its total work / its cap)."""
        chain = max(sum(d) for d in self.durations)
        per_stage = [sum(d[s] for d in self.durations) / cap for s, cap in enumerate(self.caps)]
        return max([chain, *per_stage])


def w1(n: int = 48, scale: float = 1.0, seed: int = 1) -> Workload:
    rng = random.Random(seed)
    ranges = [(0.2, 1.0), (1.0, 3.0), (0.2, 0.6)]
    durations = [[round(rng.uniform(lo, hi) * scale, 3) for lo, hi in ranges] for _ in range(n)]
    return Workload(
        "W1",
        f"pipelining: {n} configurations x 3 stages, caps 4/2/3",
        ["prepare", "train", "evaluate"],
        [4, 2, 3],
        durations,
    )


def w2(n: int = 200) -> Workload:
    return Workload(
        "W2",
        f"hand-off: {n} configurations x 3 stages of a near-zero command, caps 1/1/1",
        ["s1", "s2", "s3"],
        [1, 1, 1],
        [[0.0, 0.0, 0.0] for _ in range(n)],
    )


def w3a(n: int = 10_000) -> Workload:
    return Workload(
        "W3a",
        f"overhead: {n} configurations x 1 stage of /bin/true, cap 2",
        ["s1"],
        [2],
        [[0.0] for _ in range(n)],
        command="true",
    )


def w3b(n: int = 3_000) -> Workload:
    return Workload(
        "W3b",
        f"overhead: {n} configurations x 3 stages of /bin/true, caps 2/2/2",
        ["s1", "s2", "s3"],
        [2, 2, 2],
        [[0.0, 0.0, 0.0] for _ in range(n)],
        command="true",
    )


# ====================================================================== W4: a graph
@dataclass(frozen=True)
class GraphStage:
    name: str
    cap: int
    over: tuple[str, ...] | None  # None: one run per configuration; (): one run named `all`
    needs: tuple[str, ...]


@dataclass(frozen=True)
class GraphRun:
    stage: str
    name: str  # the run's name as CooPy names it: a configuration's, a group's (`dataset=d0,seed=0`), `all`
    params: dict[str, str]  # the params it is over
    duration: float
    needs: tuple[tuple[str, str], ...]  # (stage, name) of every run it waits for


@dataclass(frozen=True)
class GraphWorkload:
    """A DAG of stages over a matrix; every run's duration seeded. `runs` in a topological order."""

    name: str
    title: str
    matrix: dict[str, list[str]]
    stages: list[GraphStage]
    runs: list[GraphRun]

    @property
    def configurations(self) -> list[dict[str, str]]:
        return _product(self.matrix)

    def stage(self, name: str) -> GraphStage:
        return next(s for s in self.stages if s.name == name)

    def critical_path(self) -> float:
        """The longest chain of runs, each with its own duration (what no number of workers shortens)."""
        finish: dict[tuple[str, str], float] = {}
        for r in self.runs:
            finish[(r.stage, r.name)] = r.duration + max((finish[n] for n in r.needs), default=0.0)
        return max(finish.values())

    def stage_bounds(self) -> dict[str, float]:
        """Per stage: its total work / its worker cap."""
        return {s.name: sum(r.duration for r in self.runs if r.stage == s.name) / s.cap for s in self.stages}

    def lower_bound(self) -> float:
        return max(self.critical_path(), *self.stage_bounds().values())


def _product(matrix: dict[str, list[str]]) -> list[dict[str, str]]:
    """The matrix's configurations in CooPy's order (the last key varies fastest)."""
    out: list[dict[str, str]] = [{}]
    for key, values in matrix.items():
        out = [{**c, key: v} for c in out for v in values]
    return out


def run_name(params: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in params.items()) if params else "all"


def w4(scale: float = 1.0, seed: int = 4) -> GraphWorkload:
    """48 configurations (dataset x model x seed): prepare over (dataset, seed), a fan-out of 16 runs;
    train (48) and baseline (16) both after it, a diamond; a per-model aggregate (3) over train and
    baseline; one report (`all`) over the aggregates. train is the bottleneck (cap 2), as in W1."""
    rng = random.Random(seed)
    matrix = {
        "dataset": [f"d{i}" for i in range(4)],
        "model": [f"m{i}" for i in range(3)],
        "seed": [str(i) for i in range(4)],
    }
    stages = [
        GraphStage("prepare", 4, ("dataset", "seed"), ()),
        GraphStage("train", 2, None, ("prepare",)),
        GraphStage("baseline", 2, ("dataset", "seed"), ("prepare",)),
        GraphStage("aggregate", 3, ("model",), ("train", "baseline")),
        GraphStage("report", 1, (), ("aggregate",)),
    ]
    ranges = {
        "prepare": (0.2, 0.6),
        "train": (1.0, 2.6),
        "baseline": (0.5, 1.5),
        "aggregate": (0.2, 0.5),
        "report": (0.2, 0.4),
    }
    configs = _product(matrix)
    runs: list[GraphRun] = []
    for st in stages:
        keys = tuple(matrix) if st.over is None else st.over
        by: dict[str, list[dict[str, str]]] = {}
        for c in configs:
            by.setdefault(run_name({k: c[k] for k in matrix if k in keys}), []).append(c)
        lo, hi = ranges[st.name]
        for name, members in by.items():
            needs: dict[tuple[str, str], None] = {}
            for dep in st.needs:
                over = next(s.over for s in stages if s.name == dep)
                dkeys = tuple(matrix) if over is None else over
                for m in members:
                    needs.setdefault((dep, run_name({k: m[k] for k in matrix if k in dkeys})), None)
            params = {k: members[0][k] for k in matrix if k in keys}
            duration = round(rng.uniform(lo, hi) * scale, 3)
            runs.append(GraphRun(st.name, name, params, duration, tuple(needs)))
    return GraphWorkload(
        "W4",
        "graph: 48 configurations, prepare over (dataset, seed) -> train + baseline -> aggregate per "
        "model -> one report; caps 4/2/2/3/1",
        matrix,
        stages,
        runs,
    )
