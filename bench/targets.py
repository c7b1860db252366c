"""The targets table: issue 18's targets, each from this run's numbers, plus the earlier rounds' kept.

Every row has `target`, `measured` (text), `met`, and where there is a number `value`, `limit`, `unit`
and `better` ("lower" or "higher"), so the report can say by how much a target was missed. A target
whose measurement failed or was refused is a row too (met: False, `measured` says why): a miss is
never dropped from the table. A target whose workload was not run (`--workloads`) has no row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Row = dict[str, Any]


def row(
    target: str,
    value: float | None,
    limit: float,
    unit: str,
    *,
    better: str = "lower",
    measured: str | None = None,
    why: str = "",
    issue: int | str = 18,
    strict: bool = False,
) -> Row:
    """One target; `strict`: below (above) the limit, not equal to it."""
    if value is None:
        return {
            "target": target,
            "measured": f"not measured: {why or 'no number'}",
            "met": False,
            "value": None,
            "limit": limit,
            "unit": unit,
            "better": better,
            "issue": issue,
        }
    if better == "lower":
        met = value < limit if strict else value <= limit
    else:
        met = value > limit if strict else value >= limit
    return {
        "target": target,
        "measured": measured or f"{value:g} {unit}".strip(),
        "met": met,
        "value": value,
        "limit": limit,
        "unit": unit,
        "better": better,
        "issue": issue,
    }


def _workload(report: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((w for w in report.get("workloads", []) if w["name"] == name), None)


def _system(entry: dict[str, Any] | None, system: str) -> dict[str, Any] | None:
    if entry is None:
        return None
    return next((r for r in entry["systems"] if r["system"] == system), None)


def _why(r: dict[str, Any] | None, system: str = "CooPy") -> str:
    if r is None:
        return f"{system} was not run"
    return f"{system}: {r['note']}" if not r["ok"] else ""


def _ok(r: dict[str, Any] | None) -> dict[str, Any] | None:
    return r if r and r["ok"] else None


def targets(report: dict[str, Any]) -> list[Row]:
    return list(_targets(report))


def _targets(report: dict[str, Any]) -> Iterator[Row]:  # noqa: C901 - one block per target, in the issue's order
    # ---- overhead: W3a, W3b
    for name in ("W3a", "W3b"):
        wl = _workload(report, name)
        if wl is None:
            continue
        c, b = _system(wl, "CooPy"), _system(wl, "sequential bash")
        if b is not None:
            why = _why(c) or _why(b, "sequential bash")
            ok_c, ok_b = _ok(c), _ok(b)
            value = ok_c["runs_per_s"] if ok_c and ok_b else None
            yield row(
                f"{name} CooPy runs/s ≥ sequential bash's (same run)",
                value,
                ok_b["runs_per_s"] if ok_b else 0.0,
                "runs/s",
                better="higher",
                why=why,
                measured=f"{ok_c['runs_per_s']} vs {ok_b['runs_per_s']} runs/s" if ok_c and ok_b else None,
            )
        if c is not None:
            ok_c = _ok(c)
            yield row(
                f"{name} engine CPU ≤ 0.3 ms per run",
                ok_c["engine_cpu_ms_per_run"] if ok_c else None,
                0.3,
                "ms",
                why=_why(c),
            )
    # ---- hand-off: W2
    c2 = _system(_workload(report, "W2"), "CooPy")
    if c2 is not None:
        ok = _ok(c2)
        yield row("W2 hand-off median ≤ 2 ms", ok["handoff_median_ms"] if ok else None, 2.0, "ms", why=_why(c2))
        yield row("W2 hand-off p99 ≤ 10 ms", ok["handoff_p99_ms"] if ok else None, 10.0, "ms", why=_why(c2))
    # ---- scale: W5
    for r in report.get("scale", {}).get("rows", []):
        n = r["configurations"]
        why = r.get("refused") and f"coopy refused it: {r['refused'].split(': ')[-1]}" or "; ".join(r["notes"])
        tui = r.get("tui") or {}
        keys = tui.get("keys") or {}
        if n >= 1_000_000:
            label = f"W5 {n:,} configurations"
            yield row(f"{label}: coopy validate ≤ 10 s", r.get("validate_s"), 10.0, "s", why=why)
            yield row(f"{label}: engine start (launch → first job) ≤ 30 s", r.get("engine_start_s"), 30.0, "s", why=why)
            yield row(f"{label}: engine peak RSS ≤ 1 GB", r.get("engine_peak_rss_mb"), 1024.0, "MB", why=why)
            yield row(f"{label}: coopy status (summary) ≤ 2 s", r.get("status_s"), 2.0, "s", why=why)
            yield row(f"{label}: TUI first frame ≤ 3 s", tui.get("first_frame_s"), 3.0, "s", why=why)
            yield row(f"{label}: TUI j/k p95 < 50 ms", keys.get("p95_ms"), 50.0, "ms", why=why)
            yield row(f"{label}: coopy plan ≤ 30 s", r.get("plan_s"), 30.0, "s", why=why)
            # results and report "bounded": a report file a browser opens, and neither above the engine's own 1 GB
            yield row(f"{label}: coopy report file ≤ 5 MB", r.get("report_output_mb"), 5.0, "MB", why=why)
            yield row(f"{label}: coopy report peak RSS ≤ 1 GB", r.get("report_rss_mb"), 1024.0, "MB", why=why)
            yield row(f"{label}: coopy results peak RSS ≤ 1 GB", r.get("results_rss_mb"), 1024.0, "MB", why=why)
        elif n == 100_000:
            yield row(
                "W5 100,000 configurations: engine peak RSS ≤ 150 MB", r.get("engine_peak_rss_mb"), 150.0, "MB", why=why
            )
    # ---- UI (bench/tui_load.py)
    yield from report.get("tui", {}).get("targets", [])
    # ---- graph: W4
    w4 = _workload(report, "W4")
    c4 = _system(w4, "CooPy")
    if w4 is not None and c4 is not None:
        ok = _ok(c4)
        yield row(
            "W4 makespan ≤ 1.05 × lower bound",
            ok["ratio_to_lower_bound"] if ok else None,
            1.05,
            "×",
            why=_why(c4),
            measured=f"{ok['ratio_to_lower_bound']} × ({ok['makespan_s']} s vs {w4['lower_bound_s']} s)"
            if ok
            else None,
        )
        yield from _below_peers("W4", w4, c4)
    # ---- start and end
    c1 = _system(_workload(report, "W1"), "CooPy")
    if c1 is not None:
        first = _ms(c1["launch_to_first_job_s"])
        yield row("W1 launch → first job started ≤ 80 ms", first, 80.0, "ms", why=_why(c1))
    for r in report.get("startup", {}).get("rows", []):
        if r["system"] == "CooPy":
            n = r["configurations"]
            yield row(
                f"{n:,} configurations: launch → first job started ≤ 0.3 s",
                r["launch_to_first_job_s"],
                0.3,
                "s",
                why=r["note"],
            )
    if c1 is not None:
        yield row(
            "W1 last job ended → coopy run exited ≤ 50 ms", _ms(c1["last_job_to_exit_s"]), 50.0, "ms", why=_why(c1)
        )
    # ---- peers: task-spooler
    for name in ("W1", "W2", "W3a", "W3b"):
        wl = _workload(report, name)
        c, t = _system(wl, "CooPy"), _system(wl, "task-spooler")
        if c is None or t is None:
            continue
        ok_c, ok_t = _ok(c), _ok(t)
        yield row(
            f"{name} CooPy's makespan below task-spooler's",
            ok_c["makespan_s"] if ok_c and ok_t else None,
            ok_t["makespan_s"] if ok_t else float("inf"),
            "s",
            strict=True,
            why=_why(c) or _why(t, "task-spooler"),
            measured=f"{ok_c['makespan_s']} s vs {ok_t['makespan_s']} s" if ok_c and ok_t else None,
        )
    # ---- kept from the first round
    w1 = _workload(report, "W1")
    if w1 is not None and c1 is not None:
        ok = _ok(c1)
        yield row(
            "W1 makespan ≤ 1.05 × lower bound",
            ok["ratio_to_lower_bound"] if ok else None,
            1.05,
            "×",
            why=_why(c1),
            issue="earlier",
        )
        yield from _below_peers("W1", w1, c1, issue="earlier")
    c3 = _system(_workload(report, "W3a"), "CooPy")
    if c3 is not None:
        ok = _ok(c3)
        yield row(
            "W3a engine peak RSS ≤ 150 MB at 10,000 configurations",
            (ok["tool_rss_mb"] or ok["peak_rss_mb"]) if ok else None,
            150.0,
            "MB",
            why=_why(c3),
            issue="earlier",
        )


def _below_peers(name: str, wl: dict[str, Any], coopy: dict[str, Any], issue: int | str = 18) -> Iterator[Row]:
    peers = [r for r in wl["systems"] if r["system"] != "CooPy" and r["ok"]]
    best = min(peers, key=lambda r: r["makespan_s"], default=None)
    ok = _ok(coopy)
    yield row(
        f"{name} makespan below every peer",
        ok["makespan_s"] if ok and best else None,
        best["makespan_s"] if best else float("inf"),
        "s",
        why=_why(coopy) or "no peer finished it",
        issue=issue,
        strict=True,
        measured=f"{ok['makespan_s']} s vs best peer {best['system']} {best['makespan_s']} s" if ok and best else None,
    )


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)
