"""`python -m bench`: every system on the same workloads, side by side, in one run.

Workloads: W1 pipelining, W2 hand-off, W3a/W3b overhead (bench/workloads.py), W4 a graph (bench/graph.py),
S10k start-up at 10,000 configurations (bench/startup.py), W5 scale, CooPy alone (bench/scale.py); then
the executors' latency, the TUI under load and R1 (each skippable). Every temp folder is removed, a
failing system's too unless `--keep-failed`.

`--quick` is the smoke mode CI runs so the benchmark cannot rot: small workloads, every part exercised,
numbers printed but no target judged (the sizes are too small to mean anything), results written to a
temporary folder that is removed at the end (never over BENCHMARKS.md) unless `--out` names one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import workloads as W
from bench.report import markdown, plot, summarize
from bench.systems import SYSTEMS, run_plan
from bench.targets import targets

ROOT = Path(__file__).resolve().parent.parent
CHAINS = ("W1", "W2", "W3a", "W3b")
ALL_WORKLOADS = (*CHAINS, "W4", "S10k", "W5")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    py = platform.python_version()
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Linux {platform.release()}, Python {py}"


def _print(name: str, s: dict[str, Any]) -> None:
    print(
        f"{name:4} {s['system']:16} makespan {s['makespan_s']:8.2f}s  x lb {s['ratio_to_lower_bound']}  "
        f"runs/s {s['runs_per_s']}  hand-off median {s['handoff_median_ms']} ms p99 {s['handoff_p99_ms']} ms  "
        f"(raw {s['raw_handoff_median_ms']} / {s['raw_handoff_p99_ms']} ms)  "
        f"launch->first job {s['launch_to_first_job_s']} s  last job->exit {s['last_job_to_exit_s']} s  "
        f"rss {s['tool_rss_mb'] or s['peak_rss_mb']} MB  {s['note']}",
        flush=True,
    )


def _done(wd: Path, ok: bool, keep_failed: bool) -> None:
    if ok or not keep_failed:
        shutil.rmtree(wd, ignore_errors=True)
    else:
        print(f"     kept {wd} (--keep-failed)", flush=True)


def run_chains(names: list[str], systems: list[str], quick: bool, keep_failed: bool) -> list[dict[str, Any]]:
    if quick:
        wls = {"W1": W.w1(8, scale=0.1), "W2": W.w2(20), "W3a": W.w3a(200), "W3b": W.w3b(60)}
    else:
        wls = {"W1": W.w1(), "W2": W.w2(), "W3a": W.w3a(), "W3b": W.w3b()}
    entries = []
    for name in names:
        w = wls[name]
        entry: dict[str, Any] = {
            "name": w.name,
            "title": w.title,
            "runs": w.runs,
            "lower_bound_s": round(w.lower_bound(), 3) if w.command == "step" else None,
            "systems": [],
        }
        for system in systems:
            wd = Path(tempfile.mkdtemp(prefix=f"bench-{w.name}-{system}-"))
            timeout = 120 + 6 * (w.lower_bound() if w.command == "step" else w.runs * 0.02)
            if system == "snakemake" and w.command == "true":
                timeout = min(timeout, 300)  # thousands of tiny jobs: say so rather than wait for ever
            m = run_plan(SYSTEMS[system](w, wd), wd, timeout, w.runs if w.command == "step" else None)
            s = summarize(w, m)
            entry["systems"].append(s)
            _print(w.name, s)
            _done(wd, m.ok or "not installed" in m.note, keep_failed)
        entries.append(entry)
    return entries


def run_graph(systems: list[str], quick: bool, keep_failed: bool) -> dict[str, Any]:
    from bench import graph

    w = W.w4(scale=0.1 if quick else 1.0)
    entry: dict[str, Any] = {
        "name": w.name,
        "title": w.title,
        "runs": len(w.runs),
        "lower_bound_s": round(w.lower_bound(), 3),
        "critical_path_s": round(w.critical_path(), 3),
        "stage_bounds_s": {k: round(v, 3) for k, v in w.stage_bounds().items()},
        "systems": [],
    }
    for system in [s for s in systems if s in graph.SYSTEMS]:
        wd = Path(tempfile.mkdtemp(prefix=f"bench-W4-{system}-"))
        m, s = graph.measure(system, w, wd)
        entry["systems"].append(s)
        _print("W4", s)
        _done(wd, m.ok or "not installed" in m.note, keep_failed)
    return entry


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a smoke run of every part; judges no target")
    p.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma list of {','.join(SYSTEMS)}")
    p.add_argument("--workloads", default=",".join(ALL_WORKLOADS), help=f"comma list of {','.join(ALL_WORKLOADS)}")
    p.add_argument("--out", type=Path, help="folder for results.json / BENCHMARKS.md / plot.png (kept)")
    p.add_argument("--keep-failed", action="store_true", help="keep the temp folder of a system that failed")
    p.add_argument("--no-tui", action="store_true", help="skip the TUI-under-load measurement")
    p.add_argument("--no-recheck", action="store_true", help="skip R1: re-checking an unchanged large input")
    p.add_argument(
        "--no-executors",
        action="store_true",
        help="skip the local / Slurm / Ray latency line (bench/executor_latency.py)",
    )
    p.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite BENCHMARKS.md and the plot from bench/results.json (+ tui_results.json)",
    )
    args = p.parse_args(argv)
    if args.report_only:
        return _report_only(args.out or ROOT)
    sys.path.insert(0, str(ROOT))
    chosen = [n for n in args.workloads.split(",") if n]
    systems = [s for s in args.systems.split(",") if s]
    unknown = [n for n in chosen if n not in ALL_WORKLOADS] + [s for s in systems if s not in SYSTEMS]
    if unknown:
        print(f"python -m bench: unknown workload or system: {', '.join(unknown)}", file=sys.stderr)
        return 2
    if args.quick:
        print(
            "python -m bench --quick: a smoke run on tiny workloads; it prints numbers and judges no target.",
            flush=True,
        )
    scratch = None
    if args.out:
        out = args.out
    elif args.quick:
        out = scratch = Path(tempfile.mkdtemp(prefix="coopy-bench-"))
    else:
        out = ROOT
    report: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "command": "python -m bench"
        + (" --quick" if args.quick else "")
        + ("" if args.workloads == p.get_default("workloads") else f" --workloads {args.workloads}")
        + ("" if args.systems == p.get_default("systems") else f" --systems {args.systems}"),
        "quick": args.quick,
        "workloads": run_chains([n for n in chosen if n in CHAINS], systems, args.quick, args.keep_failed),
    }
    if "W4" in chosen:
        report["workloads"].append(run_graph(systems, args.quick, args.keep_failed))
    if "S10k" in chosen:
        from bench import startup

        report["startup"] = startup.run(systems, args.quick, args.keep_failed)
    if "W5" in chosen and "coopy" in systems:
        from bench import scale

        report["scale"] = scale.run(args.quick)
    results_dir = out / "bench" if out == ROOT else out
    results_dir.mkdir(parents=True, exist_ok=True)
    extra: list[dict[str, Any]] = []
    if not args.no_executors:
        from bench import executor_latency

        latency = executor_latency.run(args.quick)
        report["executors"] = {k: latency[k] for k in ("table", "rows", "date", "command")}
        extra += latency["targets"]
    if not args.no_tui:
        from bench import tui_load

        tui = tui_load.run(args.quick, results_dir)
        report["tui"] = {"table": tui["table"], "targets": tui["targets"]}
    if not args.no_recheck:
        from bench import recheck

        r1 = recheck.run(args.quick)
        report["recheck"] = r1["table"]
        extra += r1["targets"]
        print(f"R1   {r1['table']}", flush=True)
    report["targets"] = targets(report) + [dict(t, issue=t.get("issue", "earlier")) for t in extra]
    if args.quick:
        for t in report["targets"]:
            t["met"] = None  # a smoke run judges nothing
    (results_dir / "results.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    plotted = plot(report, results_dir / "plot.png")
    (out / "BENCHMARKS.md").write_text(markdown(report, plotted))
    for t in report["targets"]:
        verdict = "" if t["met"] is None else ("met  " if t["met"] else "MISS ")
        print(f"target {verdict}{t['target']}: {t['measured']}")
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
        print("smoke run: targets not judged; nothing kept (--out DIR keeps results.json and BENCHMARKS.md)")
    else:
        print(f"wrote {results_dir / 'results.json'} and {out / 'BENCHMARKS.md'}")
    return 0


def _report_only(out: Path) -> int:
    results_dir = out / "bench" if out == ROOT else out
    report = json.loads((results_dir / "results.json").read_text())
    plotted = plot(report, results_dir / "plot.png")
    (out / "BENCHMARKS.md").write_text(markdown(report, plotted))
    print(f"wrote {out / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
