"""`python -m bench`: every system on the same workloads, side by side, in one run.

`--quick` is the smoke mode CI runs so the benchmark cannot rot: small workloads, results written to a
temporary folder (never over BENCHMARKS.md), numbers not asserted.
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
from bench.systems import SYSTEMS

ROOT = Path(__file__).resolve().parent.parent


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


def targets(res: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def get(wl: str, system: str) -> dict[str, Any] | None:
        r = res.get(wl, {}).get(system)
        return r if r and r["ok"] else None

    c1 = get("W1", "CooPy")
    if c1:
        peers = [r for s, r in res["W1"].items() if s != "CooPy" and r["ok"]]
        best = min((p["makespan_s"] for p in peers), default=None)
        out.append({"target": "W1 makespan ≤ 1.05 × lower bound", "measured": f"{c1['ratio_to_lower_bound']} ×",
                    "met": c1["ratio_to_lower_bound"] <= 1.05})
        out.append({"target": "W1 makespan below every peer", "measured": f"{c1['makespan_s']} s vs best peer {best} s",
                    "met": best is None or c1["makespan_s"] < best})
    c2 = get("W2", "CooPy")
    if c2 and c2["handoff_median_ms"] is not None:
        out.append({"target": "W2 hand-off median ≤ 5 ms", "measured": f"{c2['handoff_median_ms']} ms",
                    "met": c2["handoff_median_ms"] <= 5})
        out.append({"target": "W2 hand-off p99 ≤ 20 ms", "measured": f"{c2['handoff_p99_ms']} ms",
                    "met": c2["handoff_p99_ms"] <= 20})
    c3, p3 = get("W3a", "CooPy"), get("W3a", "GNU parallel")
    if c3 and p3:
        out.append({"target": "W3 runs/s ≥ GNU parallel's", "measured": f"{c3['runs_per_s']} vs {p3['runs_per_s']}",
                    "met": c3["runs_per_s"] >= p3["runs_per_s"]})
    if c3:
        rss = c3["tool_rss_mb"] or c3["peak_rss_mb"]
        out.append({"target": "W3 engine peak RSS ≤ 150 MB at 10,000 configurations", "measured": f"{rss} MB",
                    "met": rss <= 150})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="seconds-long smoke run; writes to a temp folder")
    p.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma list of {','.join(SYSTEMS)}")
    p.add_argument("--workloads", default="W1,W2,W3a,W3b")
    p.add_argument("--out", type=Path, help="folder for results.json / BENCHMARKS.md / plot.png")
    p.add_argument("--no-tui", action="store_true", help="skip the TUI-under-load measurement")
    p.add_argument("--no-recheck", action="store_true", help="skip R1: re-checking an unchanged large input")
    p.add_argument("--no-executors", action="store_true",
                   help="skip the local / Slurm / Ray latency line (bench/executor_latency.py)")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite BENCHMARKS.md and the plot from bench/results.json (+ tui_results.json)")
    args = p.parse_args(argv)
    if args.report_only:
        return _report_only(args.out or ROOT)
    sys.path.insert(0, str(ROOT))
    if args.quick:
        wls = {"W1": W.w1(8, scale=0.1), "W2": W.w2(20), "W3a": W.w3a(200), "W3b": W.w3b(60)}
        out = args.out or Path(tempfile.mkdtemp(prefix="coopy-bench-"))
    else:
        wls = {"W1": W.w1(), "W2": W.w2(), "W3a": W.w3a(), "W3b": W.w3b()}
        out = args.out or ROOT
    chosen = [wls[n] for n in args.workloads.split(",")]
    systems = [s for s in args.systems.split(",") if s]
    results: dict[str, dict[str, Any]] = {}
    report: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "command": "python -m bench" + (" --quick" if args.quick else ""),
        "workloads": [],
    }
    for w in chosen:
        results[w.name] = {}
        entry: dict[str, Any] = {
            "name": w.name, "title": w.title, "runs": w.runs,
            "lower_bound_s": round(w.lower_bound(), 3) if w.command == "step" else None, "systems": [],
        }
        for name in systems:
            wd = Path(tempfile.mkdtemp(prefix=f"bench-{w.name}-{name}-"))
            timeout = 120 + 6 * (w.lower_bound() if w.command == "step" else w.runs * 0.02)
            if name == "snakemake" and w.command == "true":
                timeout = min(timeout, 300)  # thousands of tiny jobs: say so rather than wait for ever
            m = SYSTEMS[name](w, wd, timeout)
            s = summarize(w, m)
            results[w.name][m.system] = s
            entry["systems"].append(s)
            print(
                f"{w.name:4} {m.system:16} makespan {s['makespan_s']:8.2f}s  x lb {s['ratio_to_lower_bound']}  "
                f"runs/s {s['runs_per_s']}  hand-off median {s['handoff_median_ms']} ms p99 {s['handoff_p99_ms']} ms  "
                f"rss {s['tool_rss_mb'] or s['peak_rss_mb']} MB  {s['note']}",
                flush=True,
            )
            if m.ok:
                shutil.rmtree(wd, ignore_errors=True)
        report["workloads"].append(entry)
    report["targets"] = targets(results)
    out.mkdir(parents=True, exist_ok=True)
    results_dir = out / "bench" if out == ROOT else out
    results_dir.mkdir(parents=True, exist_ok=True)
    if not args.no_executors:
        from bench import executor_latency

        latency = executor_latency.run(args.quick)
        report["executors"] = {k: latency[k] for k in ("table", "rows", "date", "command")}
        report["targets"] += latency["targets"]
    if not args.no_tui:
        from bench import tui_load

        tui = tui_load.run(args.quick, results_dir)
        report["tui"] = {"table": tui["table"]}
        report["targets"] += tui["targets"]
    if not args.no_recheck:
        from bench import recheck

        r1 = recheck.run(args.quick)
        report["recheck"] = r1["table"]
        report["targets"] += r1["targets"]
        print(f"R1   {r1['table']}", flush=True)
    (results_dir / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    plotted = plot(report, results_dir / "plot.png")
    md = markdown(report)
    if not plotted:
        md = md.replace("![makespan relative to the lower bound](bench/plot.png)", "(plot skipped: matplotlib missing)")
    (out / "BENCHMARKS.md").write_text(md)
    print(f"wrote {results_dir / 'results.json'} and {out / 'BENCHMARKS.md'}")
    for t in report["targets"]:
        print(f"target {'met ' if t['met'] else 'MISS'}: {t['target']}: {t['measured']}")
    return 0


def _report_only(out: Path) -> int:
    results_dir = out / "bench" if out == ROOT else out
    report = json.loads((results_dir / "results.json").read_text())
    tui_path = results_dir / "tui_results.json"
    if tui_path.exists() and "tui" not in report:
        tui = json.loads(tui_path.read_text())
        report["tui"] = {"table": tui["table"]}
        report["targets"] += tui["targets"]
        (results_dir / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    plot(report, results_dir / "plot.png")
    (out / "BENCHMARKS.md").write_text(markdown(report))
    print(f"wrote {out / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
