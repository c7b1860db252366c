"""From measurements to numbers: hand-off latencies, ratios, the markdown table and the plot."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench.systems import Measurement
from bench.workloads import Workload


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


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    i = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[i]


def summarize(w: Workload, m: Measurement) -> dict[str, Any]:
    hand = handoffs(w, m.stamps) if w.command == "step" else []
    lb = w.lower_bound() if w.command == "step" else None
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
    }


def _ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 2)


def _fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "–"
    return f"{v}{unit}"


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured {results['date']} on {results['machine']}, with `{results['command']}`.",
        "All systems ran the same seeded workloads one after another in that one run; the step commands are",
        "`bench/step.sh` (bash, stamps from `$EPOCHREALTIME`, `sleep` for the duration) or `/bin/true`.",
        "Ratios are what counts; absolute times move with the machine's load.",
        "",
    ]
    for wl in results["workloads"]:
        lines += [f"## {wl['name']}: {wl['title']}", ""]
        if wl.get("lower_bound_s") is not None:
            lines.append(f"Lower bound (computed, not run): {wl['lower_bound_s']} s.")
            lines.append("")
        lines.append(
            "| system | makespan s | × lower bound | CooPy ÷ this | runs/s | hand-off median ms | hand-off p99 ms "
            "| peak RSS MB | CPU s (all) | engine CPU s | note |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        coopy = next((r for r in wl["systems"] if r["system"] == "CooPy" and r["ok"]), None)
        for r in wl["systems"]:
            versus = round(coopy["makespan_s"] / r["makespan_s"], 3) if coopy and r["ok"] and r["makespan_s"] else None
            rss = r["tool_rss_mb"] if r["tool_rss_mb"] is not None else r["peak_rss_mb"]
            lines.append(
                f"| {r['system']} | {_fmt(r['makespan_s'] if r['ok'] else None)} | {_fmt(r['ratio_to_lower_bound'])} "
                f"| {_fmt(versus)} | {_fmt(r['runs_per_s'])} | {_fmt(r['handoff_median_ms'])} "
                f"| {_fmt(r['handoff_p99_ms'])} | {_fmt(rss)} | {_fmt(r['cpu_total_s'])} "
                f"| {_fmt(r['tool_cpu_s'] if r['system'] == 'CooPy' else None)} | {r['note']} |"
            )
        lines.append("")
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
            "Headless (Textual's test driver), a scripted engine with 10,000 runs sending 200 events a second;",
            "`python -m bench.tui_load` (method in its docstring: each key is timed until the first frame that",
            "shows its effect, terminal encoding of the frame included).",
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
    lines += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for t in results["targets"]:
        lines.append(f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |")
    behind = []
    for wl in results["workloads"]:
        ok = {r["system"]: r for r in wl["systems"] if r["ok"]}
        if "CooPy" in ok:
            behind += [f"{wl['name']} ({name}: {r['makespan_s']} s vs {ok['CooPy']['makespan_s']} s)"
                       for name, r in ok.items() if name != "CooPy" and r["makespan_s"] < ok["CooPy"]["makespan_s"]]
    if behind:
        lines += [
            "",
            "Where CooPy is behind: " + "; ".join(behind) + ". On near-zero commands a bash loop that runs them",
            "one after another has the least overhead per run; CooPy spends its time per run on the crash-safe",
            "journal (a SQLite transaction per transition), the exit-status wrapper and the spawn of a new session.",
        ]
    lines += [
        "",
        "Hand-off is the dead time between the moment a run could start in its next stage (its previous",
        "stage ended and, by the stamps, that stage had a worker below its cap) and the moment it started;",
        "counted only where it was next in line then, so waiting behind other configurations is not counted.",
        "It includes the ended command's exit, the tool's bookkeeping and the new command's spawn.",
        "Peak RSS is the tool's own process where it can be sampled (CooPy's engine), else the largest",
        "process the tool waited for. CPU (all) includes every command the tool ran; engine CPU is CooPy's",
        "own process alone (sampled from /proc, 10 ms resolution).",
        "",
        "![makespan relative to the lower bound](bench/plot.png)",
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
