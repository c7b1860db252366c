"""W4, the graph workload: the same DAG of runs for CooPy, Snakemake and a sequential bash script.

Every run is `bench/gstep.sh`: it checks that each input it is given exists (so a system that started
a run before what it needs fails), sleeps the run's seeded duration and makes its output file. The
DAG (`workloads.w4`): prepare over (dataset, seed) -> train (every configuration) and baseline (over
dataset, seed) -> aggregate per model (all of its trains and every baseline) -> one report (`all`).
CooPy runs it with `needs`, `over` and `inputs`; Snakemake with the same rules and each stage's cap as
a resource (`resources: prepare=1` with `--resources prepare=CAP`); bash one run after another in
the graph's order. The lower bound is computed over the graph: the longest path of run durations, and
per stage its total work over its cap; the larger one.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import tomli_w

from bench.systems import Measurement, Plan, coopy_argv, run_plan, snakemake_exe
from bench.workloads import GraphRun, GraphWorkload

GSTEP = Path(__file__).with_name("gstep.sh").resolve()


def _setup(w: GraphWorkload, wd: Path) -> tuple[Path, Path, Path]:
    """Durations as one file per run (read by gstep.sh), output folders; (durations, stamps, out)."""
    durations, out = wd / "durations", wd / "out"
    for st in w.stages:
        (durations / st.name).mkdir(parents=True, exist_ok=True)
        (out / st.name).mkdir(parents=True, exist_ok=True)
    for r in w.runs:
        (durations / r.stage / r.name).write_text(f"{r.duration:g}\n")
    return durations, wd / "stamps.txt", out


def _inputs(w: GraphWorkload, r: GraphRun, out: Path) -> list[str]:
    return [str(out / stage / name) for stage, name in r.needs]


def sequential(w: GraphWorkload, wd: Path) -> Plan:
    durations, stamps, out = _setup(w, wd)
    lines = ["#!/bin/bash", "set -e"]
    for r in w.runs:  # in the graph's order
        argv = [str(GSTEP), str(durations), str(stamps), r.stage, r.name, str(out / r.stage / r.name)]
        lines.append(shlex.join(argv + _inputs(w, r, out)))
    (wd / "all.sh").write_text("\n".join(lines) + "\n")
    return Plan("sequential bash", ["bash", "all.sh"])


def coopy(w: GraphWorkload, wd: Path) -> Plan:
    durations, stamps, out = _setup(w, wd)
    head = [str(GSTEP), str(durations), str(stamps)]
    o = str(out)
    stages: list[dict[str, Any]] = [
        {
            "name": "prepare",
            "over": ["dataset", "seed"],
            "command": [*head, "prepare", "{task}", f"{o}/prepare/{{task}}"],
        },
        {
            "name": "train",
            "needs": ["prepare"],
            "command": [
                *head,
                "train",
                "{task}",
                f"{o}/train/{{task}}",
                f"{o}/prepare/dataset={{dataset}},seed={{seed}}",
            ],
        },
        {
            "name": "baseline",
            "needs": ["prepare"],
            "over": ["dataset", "seed"],
            "command": [*head, "baseline", "{task}", f"{o}/baseline/{{task}}", f"{o}/prepare/{{task}}"],
        },
        {
            "name": "aggregate",
            "needs": ["train", "baseline"],
            "over": ["model"],
            "inputs": [f"{o}/train/{{task}}", f"{o}/baseline/dataset={{dataset}},seed={{seed}}"],
            "command": [*head, "aggregate", "{task}", f"{o}/aggregate/{{task}}", "{inputs}"],
        },
        {
            "name": "report",
            "needs": ["aggregate"],
            "over": [],
            "inputs": [f"{o}/aggregate/model={{model}}"],
            "command": [*head, "report", "{task}", f"{o}/report/{{task}}", "{inputs}"],
        },
    ]
    for stage in stages:
        stage["workers"] = w.stage(stage["name"]).cap
    config = {"pipeline": {"name": w.name, "poll_interval": 2}, "tasks": {"matrix": w.matrix}, "stages": stages}
    (wd / "coopy.toml").write_text(tomli_w.dumps(config))
    return Plan("CooPy", coopy_argv())


def snakemake(w: GraphWorkload, wd: Path) -> Plan:
    exe = snakemake_exe()
    if exe is None:
        return Plan("Snakemake", missing="snakemake not installed (pip install '.[bench]')")
    durations, stamps, _out = _setup(w, wd)
    step = " ".join(shlex.quote(str(p)) for p in (GSTEP, durations, stamps))
    m = w.matrix
    rules = f'''
DATASETS = {m["dataset"]!r}
MODELS = {m["model"]!r}
SEEDS = {m["seed"]!r}

wildcard_constraints:
    dataset="d[0-9]+", model="m[0-9]+", seed="[0-9]+"

rule all:
    input: "out/report/all"

rule prepare:
    output: "out/prepare/dataset={{dataset}},seed={{seed}}"
    resources: prepare=1
    shell: "{step} prepare dataset={{wildcards.dataset}},seed={{wildcards.seed}} {{output}}"

rule train:
    input: "out/prepare/dataset={{dataset}},seed={{seed}}"
    output: "out/train/dataset={{dataset}},model={{model}},seed={{seed}}"
    resources: train=1
    params: run=lambda wc: f"dataset={{wc.dataset}},model={{wc.model}},seed={{wc.seed}}"
    shell: "{step} train {{params.run}} {{output}} {{input}}"

rule baseline:
    input: "out/prepare/dataset={{dataset}},seed={{seed}}"
    output: "out/baseline/dataset={{dataset}},seed={{seed}}"
    resources: baseline=1
    shell: "{step} baseline dataset={{wildcards.dataset}},seed={{wildcards.seed}} {{output}} {{input}}"

rule aggregate:
    input:
        expand("out/train/dataset={{d}},model={{{{model}}}},seed={{s}}", d=DATASETS, s=SEEDS),
        expand("out/baseline/dataset={{d}},seed={{s}}", d=DATASETS, s=SEEDS)
    output: "out/aggregate/model={{model}}"
    resources: aggregate=1
    shell: "{step} aggregate model={{wildcards.model}} {{output}} {{input}}"

rule report:
    input: expand("out/aggregate/model={{m}}", m=MODELS)
    output: "out/report/all"
    resources: report=1
    shell: "{step} report all {{output}} {{input}}"
'''
    (wd / "Snakefile").write_text(rules)
    caps = [f"{s.name}={s.cap}" for s in w.stages]
    argv = [
        exe,
        "-s",
        "Snakefile",
        "--cores",
        str(sum(s.cap for s in w.stages)),
        "--resources",
        *caps,
        "--scheduler",
        "greedy",
        "--quiet",
        "all",
        "--nolock",
        "--keep-going",
    ]
    return Plan("Snakemake", argv)


SYSTEMS = {"sequential": sequential, "snakemake": snakemake, "coopy": coopy}


def order_problem(w: GraphWorkload, stamps: list[tuple[str, str, float, float]]) -> str:
    """'' when every run ran once and after every run it needs ended; else the first problem."""
    by: dict[tuple[str, str], tuple[float, float]] = {}
    for stage, name, s, e in stamps:
        if (stage, name) in by:
            return f"{stage}/{name} ran twice"
        by[(stage, name)] = (s, e)
    for r in w.runs:
        if (r.stage, r.name) not in by:
            return f"{r.stage}/{r.name} did not run"
        for need in r.needs:
            if by[(r.stage, r.name)][0] < by[need][1]:
                return f"{r.stage}/{r.name} started before {need[0]}/{need[1]} ended"
    return ""


def measure(system: str, w: GraphWorkload, wd: Path) -> tuple[Measurement, dict[str, Any]]:
    plan = SYSTEMS[system](w, wd)
    timeout = 120 + 6 * w.lower_bound()
    m = run_plan(plan, wd, timeout, len(w.runs))
    if m.ok:
        problem = order_problem(w, m.stamps)
        if problem:
            m.ok, m.note = False, problem
    return m, summarize(w, m)


def summarize(w: GraphWorkload, m: Measurement) -> dict[str, Any]:
    lb = w.lower_bound()
    first = last = None
    if m.stamps and m.launched:
        first = round(min(s for *_x, s, _e in m.stamps) - m.launched, 4)
        last = round(m.exited - max(e for *_x, e in m.stamps), 4) if m.ok else None
    return {
        "system": m.system,
        "ok": m.ok,
        "note": m.note,
        "makespan_s": round(m.makespan, 3),
        "ratio_to_lower_bound": round(m.makespan / lb, 3) if m.ok else None,
        "runs_per_s": round(len(w.runs) / m.makespan, 1) if m.ok and m.makespan else None,
        "peak_rss_mb": round(m.peak_rss_mb, 1),
        "tool_rss_mb": round(m.tool_rss_mb, 1) if m.tool_rss_mb is not None else None,
        "cpu_total_s": round(m.cpu_total_s, 2),
        "tool_cpu_s": round(m.tool_cpu_s, 2) if m.tool_cpu_s is not None else None,
        "handoff_n": 0,
        "handoff_median_ms": None,
        "handoff_p99_ms": None,
        "raw_handoff_median_ms": None,
        "raw_handoff_p99_ms": None,
        "launch_to_first_job_s": first,
        "last_job_to_exit_s": last,
        "engine_cpu_ms_per_run": None,
    }
