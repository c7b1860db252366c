"""From measurements to numbers: hand-off latencies, ratios, the markdown table and the plot."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench.systems import Measurement
from bench.workloads import Workload

PROFILE_NOTES = Path(__file__).with_name("profile.md")


def handoffs(w: Workload, stamps: list[tuple[str, str, float, float]]) -> list[float]:
    """Seconds from the moment a run could have started in the next stage to when it did.

    It could start once its previous stage ended AND the next stage had a free worker (a slot below the
    cap, by the stamps). Counted only where it was next in line then (no other run of that stage started
    in between), so the number is dead time, not queueing behind other configurations.
    """
    by = {(stage, task): (s, e) for stage, task, s, e in stamps}
    runs: dict[str, list[tuple[float, float, str]]] = {s: [] for s in w.stages}
    for stage, task, s, e in stamps:
        runs[stage].append((s, e, task))
    out = []
    for task in w.tasks:
        for k in range(len(w.stages) - 1):
            a = by.get((w.stages[k], task))
            b = by.get((w.stages[k + 1], task))
            if a is None or b is None:
                continue
            end, start = a[1], b[0]
            others = [(s, e) for s, e, t in runs[w.stages[k + 1]] if t != task]
            cap = w.caps[k + 1]
            ready = None
            for t in sorted({end, *(e for _s, e in others if end <= e <= start)}):
                if sum(1 for s, e in others if s <= t < e) < cap:
                    ready = t
                    break
            if ready is None or any(ready <= s < start for s, _e in others):
                continue
            out.append(start - ready)
    return out


def raw_handoffs(w: Workload, stamps: list[tuple[str, str, float, float]]) -> list[float]:
    """start(k+1) - end(k) of every configuration and stage, queueing behind others included."""
    by = {(stage, task): (s, e) for stage, task, s, e in stamps}
    out = []
    for task in w.tasks:
        for k in range(len(w.stages) - 1):
            a, b = by.get((w.stages[k], task)), by.get((w.stages[k + 1], task))
            if a is not None and b is not None:
                out.append(b[0] - a[1])
    return out


def start_and_end(m: Measurement) -> tuple[float | None, float | None]:
    """(launch -> first job started, last job ended -> the tool exited), seconds, from the stamps."""
    if not m.stamps or not m.launched:
        return None, None
    first = min(s for _st, _t, s, _e in m.stamps) - m.launched
    last = m.exited - max(e for _st, _t, _s, e in m.stamps) if m.ok else None
    return round(first, 4), round(last, 4) if last is not None else None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    i = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[i]


def summarize(w: Workload, m: Measurement) -> dict[str, Any]:
    hand = handoffs(w, m.stamps) if w.command == "step" else []
    raw = raw_handoffs(w, m.stamps) if w.command == "step" else []
    lb = w.lower_bound() if w.command == "step" else None
    first, last = start_and_end(m)
    return {
        "system": m.system,
        "ok": m.ok,
        "note": m.note,
        "makespan_s": round(m.makespan, 3),
        "ratio_to_lower_bound": round(m.makespan / lb, 3) if lb and m.ok else None,
        "runs_per_s": round(w.runs / m.makespan, 1) if m.makespan and m.ok else None,
        "peak_rss_mb": round(m.peak_rss_mb, 1),
        "tool_rss_mb": round(m.tool_rss_mb, 1) if m.tool_rss_mb is not None else None,
        "cpu_total_s": round(m.cpu_total_s, 2),
        "tool_cpu_s": round(m.tool_cpu_s, 2) if m.tool_cpu_s is not None else None,
        "handoff_n": len(hand),
        "handoff_median_ms": _ms(statistics.median(hand)) if hand else None,
        "handoff_p99_ms": _ms(percentile(hand, 99)),
        "raw_handoff_median_ms": _ms(statistics.median(raw)) if raw else None,
        "raw_handoff_p99_ms": _ms(percentile(raw, 99)),
        "launch_to_first_job_s": first,
        "last_job_to_exit_s": last,
        "engine_cpu_ms_per_run": round(1000 * m.tool_cpu_s / w.runs, 3)
        if m.tool_cpu_s is not None and m.ok and m.system.startswith("CooPy")
        else None,
    }


def _ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 2)


def _fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "–"
    return f"{v}{unit}"


def miss_by(t: dict[str, Any]) -> str:
    """How far a missed target is from its limit, in words."""
    value, limit, unit = t.get("value"), t.get("limit"), t.get("unit", "")
    if value is None or limit is None:
        return t["measured"]
    if limit in (float("inf"), 0) or limit != limit:
        return t["measured"]
    if t.get("better") == "higher":
        return f"{t['measured']}: {100 * (1 - value / limit):.0f} % short"
    return f"{t['measured']}: {value / limit:.2f} × the limit ({value - limit:+.3g} {unit})".replace(" ×  ", " × ")


def _table_head(wl: dict[str, Any]) -> list[str]:
    stamped = wl.get("lower_bound_s") is not None
    cols = ["system", "makespan s", "× lower bound", "CooPy ÷ this", "runs/s"]
    if stamped and wl["name"] != "W4":
        cols += ["hand-off median ms", "hand-off p99 ms", "raw start(k+1)−end(k) median ms", "raw p99 ms"]
    if stamped:
        cols += ["launch → first job s", "last job → exit s"]
    cols += ["peak RSS MB", "CPU s (all)", "engine CPU s", "engine CPU ms/run", "note"]
    return ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]


def _table_row(wl: dict[str, Any], r: dict[str, Any], coopy: dict[str, Any] | None) -> str:
    stamped = wl.get("lower_bound_s") is not None
    versus = round(coopy["makespan_s"] / r["makespan_s"], 3) if coopy and r["ok"] and r["makespan_s"] else None
    rss = r["tool_rss_mb"] if r["tool_rss_mb"] is not None else r["peak_rss_mb"]
    cells = [
        r["system"],
        _fmt(r["makespan_s"] if r["ok"] else None),
        _fmt(r["ratio_to_lower_bound"]),
        _fmt(versus),
        _fmt(r["runs_per_s"]),
    ]
    if stamped and wl["name"] != "W4":
        cells += [
            _fmt(r["handoff_median_ms"]),
            _fmt(r["handoff_p99_ms"]),
            _fmt(r.get("raw_handoff_median_ms")),
            _fmt(r.get("raw_handoff_p99_ms")),
        ]
    if stamped:
        cells += [_fmt(r.get("launch_to_first_job_s")), _fmt(r.get("last_job_to_exit_s"))]
    own = r["system"].startswith("CooPy")
    cells += [
        _fmt(rss if r["ok"] or rss else None),
        _fmt(r["cpu_total_s"]),
        _fmt(r["tool_cpu_s"] if own else None),
        _fmt(r.get("engine_cpu_ms_per_run")),
        r["note"],
    ]
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _start_end(results: dict[str, Any]) -> list[str]:
    """Per system: launch -> first job and last job -> exit, wherever they were measured."""
    names = [w["name"] for w in results["workloads"] if w.get("lower_bound_s") is not None]
    systems: dict[str, dict[str, Any]] = {}
    for wl in results["workloads"]:
        for r in wl["systems"]:
            systems.setdefault(r["system"], {})[wl["name"]] = r
    start = {r["system"]: r for r in results.get("startup", {}).get("rows", [])}
    for name in start:
        systems.setdefault(name, {})
    if not systems or not (names or start):
        return []
    n = results.get("startup", {}).get("configurations")
    cols = ["system"] + [f"{w} launch → first job s" for w in names]
    cols += [f"{n:,} configurations: launch → first job s"] if start else []
    cols += [f"{w} last job → exit s" for w in names]
    lines = [
        "## Start and end: the hidden costs",
        "",
        "Launch → first job: from the moment the tool is spawned to the first job's start stamp. Last job →",
        "exit: from the last job's end stamp to the moment the tool's process exited (a pidfd). The start at",
        "10,000 configurations (`bench/startup.py`) is W1's pipeline that large, stopped after its first job.",
        "task-spooler's tool is its driver script (it starts the servers, enqueues, waits); the servers",
        "live on after it.",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for system, by in systems.items():
        cells = [system] + [_fmt(by.get(w, {}).get("launch_to_first_job_s")) for w in names]
        if start:
            s = start.get(system)
            cells.append(
                _fmt(s["launch_to_first_job_s"])
                if s and s["launch_to_first_job_s"] is not None
                else (s["note"] if s else "–")
            )
        cells += [_fmt(by.get(w, {}).get("last_job_to_exit_s")) for w in names]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return lines + [""]


def _scale(results: dict[str, Any]) -> list[str]:
    rows = results.get("scale", {}).get("rows", [])
    if not rows:
        return []
    lines = [
        "## W5: scale, CooPy alone",
        "",
        "`bench/scale.py` (method in its docstring): a matrix of n configurations x 2 stages (s2 needs s1) of a",
        "stamping no-op (50 ms), cap 2, run by the background engine; `coopy validate`, engine start (launch of",
        "`coopy run --detach` → first job's start stamp), `coopy status` (summary, median of 3), the TUI in its own",
        "process attached to the engine over its socket (launch → first frame with rows; j/k presses), and the",
        "engine's peak RSS (VmHWM over all of that). Then, beside the live engine, `coopy plan`, `coopy results",
        "--format csv` and `coopy report`: wall time, the command's own peak RSS, and what it wrote.",
        "",
        "| configurations | validate s | engine start s | RSS after start MB | peak RSS MB | status s "
        "| TUI first frame s | j/k median / p95 / max ms | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        tui = r.get("tui") or {}
        k = tui.get("keys") or {}
        keys = f"{k['median_ms']} / {k['p95_ms']} / {k['max_ms']}" if k else "–"
        lines.append(
            f"| {r['configurations']:,} | {_fmt(r.get('validate_s'))} | {_fmt(r.get('engine_start_s'))} "
            f"| {_fmt(r.get('rss_after_start_mb'))} | {_fmt(r.get('engine_peak_rss_mb'))} | {_fmt(r.get('status_s'))} "
            f"| {_fmt(tui.get('first_frame_s'))} | {keys} | {'; '.join(r['notes'])} |"
        )
    lines += [
        "",
        "| configurations | command | wall s | peak RSS MB | output MB |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        for verb in ("plan", "results", "report"):
            if f"{verb}_s" in r:
                lines.append(
                    f"| {r['configurations']:,} | coopy {verb} | {_fmt(r[f'{verb}_s'])} "
                    f"| {_fmt(r.get(f'{verb}_rss_mb'))} | {_fmt(r.get(f'{verb}_output_mb'))} |"
                )
    return lines + [""]


def markdown(results: dict[str, Any], plotted: bool = True) -> str:
    quick = results.get("quick", False)
    lines = [
        "# Benchmarks",
        "",
        f"Measured {results['date']} on {results['machine']}, with `{results['command']}`.",
        "All systems ran the same seeded workloads one after another in that one run; the step commands are",
        "`bench/step.sh` (bash, stamps from `$EPOCHREALTIME`, `sleep` for the duration), `bench/gstep.sh` (W4: the",
        "same, checking its inputs exist) or `/bin/true`. Ratios are what counts; absolute times move with the",
        "machine's load.",
        "",
    ]
    if quick:
        lines += [
            "**A smoke run (`--quick`): tiny workloads, so no target is judged; the numbers only show that",
            "every part still runs.**",
            "",
        ]
    for wl in results["workloads"]:
        lines += [f"## {wl['name']}: {wl['title']}", ""]
        if wl.get("lower_bound_s") is not None:
            extra = ""
            if "critical_path_s" in wl:
                bounds = ", ".join(f"{k} {v} s" for k, v in wl["stage_bounds_s"].items())
                extra = f" (the longest path {wl['critical_path_s']} s; per stage, work / cap: {bounds})"
            lines.append(f"Lower bound (computed, not run): {wl['lower_bound_s']} s{extra}.")
            lines.append("")
        lines += _table_head(wl)
        coopy = next((r for r in wl["systems"] if r["system"] == "CooPy" and r["ok"]), None)
        lines += [_table_row(wl, r, coopy) for r in wl["systems"]]
        lines.append("")
    lines += _start_end(results)
    lines += _scale(results)
    if "executors" in results:
        lines += [
            "## Executors: submit-to-running and end-to-noticed",
            "",
            "The same one-stage pipeline of a stamping bash command on local processes, the one-node Slurm",
            "cluster and the two-node Ray cluster of `.ci/` (all on this machine); method in the docstring of",
            "`bench/executor_latency.py`. A system that is not available is skipped, saying why.",
            f"Measured {results['executors'].get('date', results['date'])} with "
            f"`{results['executors'].get('command', results['command'])}`.",
            "",
            results["executors"]["table"],
            "",
        ]
    if "tui" in results:
        lines += [
            "## TUI under load",
            "",
            "Headless (Textual's test driver), a scripted engine with 10,000 runs (then 100,000) sending 200 events",
            "a second; `python -m bench.tui_load` (method in its docstring: each key is timed until the first frame",
            "that shows its effect, terminal encoding of the frame included).",
            "",
            "```",
            results["tui"]["table"].rstrip(),
            "```",
            "",
        ]
    if "recheck" in results:
        r = results["recheck"]
        lines += [
            "## R1: an unchanged large input at start-up",
            "",
            f"`python -m bench.recheck`: a finished one-stage pipeline whose run reads a {r['input_mb']} MB input,",
            "started again (best of the repeats). Content hashes are cached by (path, size, mtime_ns).",
            "",
            "| first run | start, input unchanged | start after a `touch` | `b2sum` of the file | executions |",
            "|---|---|---|---|---|",
            f"| {r['first_run_s']} s | {r['start_unchanged_s']} s | {r['start_after_touch_s']} s "
            f"| {_fmt(r['b2sum_s'])} s | {r['runs_executed']} |",
            "",
        ]
    lines += [
        "## Targets",
        "",
        "Issue 18's targets, then the earlier rounds' that still stand. A target whose measurement failed or",
        "was refused counts as missed and says why.",
        "",
        "| target | issue | measured | met |",
        "|---|---|---|---|",
    ]
    for t in results["targets"]:
        met = "not judged (--quick)" if t["met"] is None else ("yes" if t["met"] else "**no**")
        lines.append(f"| {t['target']} | {t.get('issue', '')} | {t['measured']} | {met} |")
    lines += ["", "## Where CooPy is behind", ""]
    if quick:
        lines += ["Not judged: a smoke run's workloads are too small to mean anything.", ""]
    else:
        missed = [t for t in results["targets"] if t["met"] is False]
        lines += [f"- {t['target']}: {miss_by(t)}" for t in missed] or ["Every target above is met."]
        slower = []
        for wl in results["workloads"]:
            ok = {r["system"]: r for r in wl["systems"] if r["ok"]}
            if "CooPy" in ok:
                slower += [
                    f"{wl['name']}: {name} {r['makespan_s']} s vs CooPy {ok['CooPy']['makespan_s']} s"
                    for name, r in ok.items()
                    if name != "CooPy" and r["makespan_s"] < ok["CooPy"]["makespan_s"]
                ]
        if slower:
            lines += ["", "Peers that finished a workload sooner than CooPy: " + "; ".join(slower) + "."]
        lines.append("")
        if PROFILE_NOTES.exists():  # written by hand from a profile: why the misses above are there
            lines += [PROFILE_NOTES.read_text().rstrip(), ""]
    lines += [
        "Hand-off is the dead time between the moment a run could start in its next stage (its previous",
        "stage ended and, by the stamps, that stage had a worker below its cap) and the moment it started;",
        "counted only where it was next in line then, so waiting behind other configurations is not counted.",
        "It includes the ended command's exit, the tool's bookkeeping and the new command's spawn. The raw",
        "column is plain start(k+1) − end(k) of every configuration, queueing included.",
        "Peak RSS is the tool's own process where it can be sampled (CooPy's engine), else the largest",
        "process the tool waited for. CPU (all) includes every command the tool ran; engine CPU is CooPy's",
        "own process alone (from /proc, read again as it exits; 10 ms resolution).",
        "task-spooler runs chained: one server per stage (`tsp -S cap`), each job enqueueing its",
        "configuration's next stage's job as it ends; its driver waits on a FIFO each configuration's last",
        "job writes one byte to (`bench/systems.py`).",
        "",
        "![makespan relative to the lower bound](bench/plot.png)" if plotted else "(plot skipped: matplotlib missing)",
        "",
    ]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    wls = [w for w in results["workloads"]]
    if not wls:  # a run of the other parts only (--workloads W5)
        return False
    fig, axes = plt.subplots(1, len(wls), figsize=(4 * len(wls), 3.6))
    if len(wls) == 1:
        axes = [axes]
    for ax, wl in zip(axes, wls, strict=True):
        names = [r["system"] for r in wl["systems"] if r["ok"]]
        values = [r["makespan_s"] for r in wl["systems"] if r["ok"]]
        colors = ["#d62728" if n == "CooPy" else "#7f7f7f" for n in names]
        ax.bar(names, values, color=colors)
        if wl.get("lower_bound_s"):
            ax.axhline(wl["lower_bound_s"], color="#2ca02c", linestyle="--", label="lower bound")
            ax.legend(fontsize=7)
        ax.set_title(wl["name"], fontsize=9)
        ax.set_ylabel("makespan (s)")
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
