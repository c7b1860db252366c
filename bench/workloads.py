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
        "W1", f"pipelining: {n} configurations x 3 stages, caps 4/2/3", ["prepare", "train", "evaluate"],
        [4, 2, 3], durations,
    )


def w2(n: int = 200) -> Workload:
    return Workload(
        "W2", f"hand-off: {n} configurations x 3 stages of a near-zero command, caps 1/1/1",
        ["s1", "s2", "s3"], [1, 1, 1], [[0.0, 0.0, 0.0] for _ in range(n)],
    )


def w3a(n: int = 10_000) -> Workload:
    return Workload(
        "W3a", f"overhead: {n} configurations x 1 stage of /bin/true, cap 2", ["s1"], [2],
        [[0.0] for _ in range(n)], command="true",
    )


def w3b(n: int = 3_000) -> Workload:
    return Workload(
        "W3b", f"overhead: {n} configurations x 3 stages of /bin/true, caps 2/2/2", ["s1", "s2", "s3"],
        [2, 2, 2], [[0.0, 0.0, 0.0] for _ in range(n)], command="true",
    )
