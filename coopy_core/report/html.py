"""`coopy report`: ONE self-contained HTML file about a pipeline's runs, read from the state store.

Sections: the stages and their graph, a timeline (one lane per worker slot per stage, a bar per attempt
coloured by its state, so idle workers show as gaps), per-stage duration distributions, the results table
(sortable, filterable; the grouped table too with `--group-by`), metric curves of the best N runs, and the
failed attempts with the last lines of their logs. CSS, the sorting script and the charts (inline SVG, see
report_charts.py) are all in the file: it opens with no network and asks for nothing outside itself.

`--watch` rewrites it every few seconds while an engine runs the pipeline, each time to a temporary file
renamed over the old one (a browser never reads half a file); those versions reload themselves, the last
one (written when no engine runs any more) does not.
"""

from __future__ import annotations

import datetime
import os
import re
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coopy_core.config import Config
from coopy_core.graph import Graph
from coopy_core.model import Run, RunState
from coopy_core.report import results, timeline
from coopy_core.report.text import NO_CHARTS, duration, e, short_label
from coopy_core.report.timeline import Attempt
from coopy_core.state.store import DB_NAME, EngineLock, Store

LOG_TAIL_LINES = 15
LOG_TAIL_BYTES = 64 * 1024
MAX_FAILURES = 100  # failed attempts shown with their logs (the newest)
MAX_CURVE_METRICS = 4
MAX_TABLE_ROWS = 5000  # rows written per table: a million would make a file no browser opens (the CSV has all)
MAX_CHART_GROUPS = 40  # groups in the grouped-metrics chart
# params that repeat a configuration (a seed, a fold): a grid is summarised over them by default
REPLICATE = re.compile(r"^(seed|seeds|rep|reps|repeat|repetition|replicate|fold|trial|run|rng|random_state)$", re.I)
LOWER_IS_BETTER = re.compile(r"loss|err|mse|mae|rmse|perplex|ppl|wer|cer|time|latency|regret|distance|nll", re.I)


@dataclass(frozen=True)
class ReportOptions:
    group_by: list[str] = field(default_factory=list)
    sort: str | None = None
    stage: str | None = None  # the results table: one row per run of this stage
    metrics: list[str] = field(default_factory=list)  # shown in the table and as curves (default: all)
    best: int = 10  # curves of the best N runs per metric


@dataclass
class ReportData:
    config: Config
    graph: Graph
    counts: dict[str, Counter[str]]  # stage -> state -> stored runs (a million runs are not held as records)
    running: list[Run]
    failed_runs: dict[tuple[str, str], Run]  # the runs of the failed attempts shown
    attempts: list[Attempt]
    table: results.Table  # per configuration (or per run of --stage), sorted
    grouped: results.Table | None
    varying: list[str]  # the params whose value differs between configurations, in config order
    curves: dict[str, list[tuple[str, list[list[float]]]]]
    better: dict[str, str]  # metric -> "lower" | "higher"
    engine_pid: int | None
    now: float


# ---------------------------------------------------------------------------------------------- gathering
def better_direction(metric: str, sort: str | None = None) -> str:
    """Which way is better: what `--sort` says for it, else a guess from its name (loss, error: lower)."""
    if sort and sort.lstrip("-+") == metric:
        return "higher" if sort.startswith("-") else "lower"
    return "lower" if LOWER_IS_BETTER.search(metric) else "higher"


def gather(config: Config, options: ReportOptions) -> ReportData:
    from coopy_core.lifecycle.metrics import last_values
    from coopy_core.report.status import pipeline_graph

    now = time.time()
    store = Store(config.state_dir, readonly=True) if (config.state_dir / DB_NAME).exists() else None
    try:
        graph = pipeline_graph(config, store)
        by_stage = store.run_states() if store else {}
        for stage in list(by_stage):  # only the runs the config has
            if stage not in graph.nodes:
                del by_stage[stage]
                continue
            for gone in [t for t in by_stage[stage] if not graph.exists((stage, t))]:
                del by_stage[stage][gone]
        counts = {s: Counter(state.value for state in by_stage.get(s, {}).values()) for s in config.stage_names}
        running = [r for r in (store.runs(RunState.RUNNING) if store else []) if graph.exists(r.key)]
        attempts = [
            Attempt(*row)
            for row in (store.attempts() if store else [])
            if row[1] in graph.nodes and row[6] is not None and row[7] is not None
        ]
        values = {key: v for key, (_a, v) in last_values(store.metric_values() if store else []).items()}
        states = results.StatesByStage(by_stage)
        table = results.build(graph, config.stage_names, states, values, options.stage)
        varying = varying_params(graph)
        by = options.group_by or (default_group_by(varying) if table.metrics and options.stage is None else [])
        table = results.arrange(_by_params(table, varying), (), options.sort, options.metrics)
        grouped = results.arrange(table, by, options.sort) if by else None
        better = {m: better_direction(m, options.sort) for m in table.metrics}
        curves: dict[str, list[tuple[str, list[list[float]]]]] = {}
        if store is not None:
            curves = _curves(store, graph, values, table.metrics, better, options, varying)
        failed_runs: dict[tuple[str, str], Run] = {}
        for a in shown_failures(attempts):
            if store is not None and (a.stage, a.task) not in failed_runs:
                failed_runs.update((r.key, r) for r in store.runs(key=(a.stage, a.task)))
    finally:
        if store is not None:
            store.close()
    pid = EngineLock.holder(config.state_dir) if config.state_dir.exists() else None
    return ReportData(
        config, graph, counts, running, failed_runs, attempts, table, grouped, varying, curves, better, pid, now
    )


def varying_params(graph: Graph) -> list[str]:
    """The params with more than one value across the configurations: what tells two runs apart."""
    seen: dict[str, set[str]] = {}
    for task in graph.tasks.values():
        for name, value in task.params.items():
            seen.setdefault(name, set()).add(repr(value))
    return [name for name, values in seen.items() if len(values) > 1]


def default_group_by(varying: Sequence[str]) -> list[str]:
    """A grid with a replicate param (seed, fold) that varies is summarised over it: grouped by the other
    varying params. Nothing to group otherwise (each row is already one point of the grid)."""
    rest = [p for p in varying if not REPLICATE.match(p)]
    return rest if rest and len(rest) < len(varying) else []


def _by_params(table: results.Table, varying: Sequence[str]) -> results.Table:
    """Rows of one value of the first varying param together (then of the second, ...), each value where it
    first appears in the config (a matrix's order is kept); the varying params are the first columns."""
    if not varying:
        return table
    first: dict[str, dict[str, int]] = {p: {} for p in varying}
    for row in table.rows:
        for p in varying:
            first[p].setdefault(repr(row.params.get(p)), len(first[p]))

    rows = sorted(table.rows, key=lambda r: tuple(first[p][repr(r.params.get(p))] for p in varying))
    params = list(varying) + [p for p in table.params if p not in varying]
    return results.Table(rows, params, table.stages, table.metrics, table.group_by, table.sort, table.stage)


def _curves(
    store: Store,
    graph: Graph,
    values: dict[tuple[str, str], dict[str, float]],
    metrics: Sequence[str],
    better: dict[str, str],
    options: ReportOptions,
    varying: Sequence[str] = (),
) -> dict[str, list[tuple[str, list[list[float]]]]]:
    """Per metric (the first few), the series of the best N runs that reported it, best first."""
    out: dict[str, list[tuple[str, list[list[float]]]]] = {}
    for metric in list(metrics)[:MAX_CURVE_METRICS]:
        reported = [(key, v[metric]) for key, v in values.items() if metric in v]
        several_stages = len({stage for (stage, _run), _v in reported}) > 1
        if options.stage is not None:
            reported = [(key, v) for key, v in reported if key[0] == options.stage]
        reported.sort(key=lambda kv: kv[1], reverse=better[metric] == "higher")
        curves = []
        for (stage, run), _value in reported[: options.best]:
            series = {row[2]: row[6] for row in store.metric_series(stage, run)}
            points = series.get(metric) or []
            if points:
                label = short_label(graph.params((stage, run)), varying, run)
                curves.append((f"{stage}/{label}" if several_stages else label, points))
        if curves:
            out[metric] = curves
    return out


def log_tail(path: str, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last lines of a log (read from its end: a log may be huge)."""
    if not path:
        return []
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - LOG_TAIL_BYTES))
            data = f.read()
    except OSError:
        return ["(the log cannot be read)"]
    text = data.decode("utf-8", errors="replace").replace("\r", "\n")
    return [line.rstrip() for line in text.rstrip("\n").split("\n")][-lines:]


# ---------------------------------------------------------------------------------------------- charts
def _charts() -> Any:
    try:
        from coopy_core.report import charts as report_charts
    except ImportError:  # never: it imports matplotlib lazily
        return None
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return None
    return report_charts


# ---------------------------------------------------------------------------------------------- HTML
def render(data: ReportData, refresh: float | None = None) -> str:
    charts = _charts()
    spans, span = timeline.spans(data.attempts, data.running, data.now)
    parts = [
        _head(data, refresh),
        _header(data, len(spans), span),
        _nav(),
        _results_section(data),
        _curves_section(data, charts),
        _stages_section(data, charts),
        timeline.section(data.config, data.graph, data.varying, charts, spans, span),
        _durations_section(data, charts),
        _failures_section(data),
        f"<footer>Written by <code>coopy report</code> at {e(_when(data.now))}. One file: it opens with no "
        "network and fetches nothing.</footer>",
        f"<script>{SCRIPT}</script></body></html>",
    ]
    return "\n".join(parts)


def _when(t: float) -> str:
    return datetime.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def _head(data: ReportData, refresh: float | None) -> str:
    meta = f'<meta http-equiv="refresh" content="{max(1, round(refresh))}">' if refresh else ""
    name = e(data.config.pipeline.name)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">{meta}'
        f"<title>{name} · CooPy report</title><style>{CSS}</style></head><body>"
    )


def _header(data: ReportData, attempts: int, span: float) -> str:
    counts: Counter[str] = sum(data.counts.values(), Counter())
    total = sum(data.graph.run_count(s) for s in data.config.stage_names)
    passed = counts.get("done", 0) + counts.get("skipped", 0)
    busy = counts.get("running", 0) + counts.get("queued", 0)
    if data.engine_pid:
        status, cls = f"running (engine pid {data.engine_pid})", "running"
    elif passed == total:
        status, cls = "finished: every run passed", "done"
    elif busy or passed + counts.get("failed", 0) + counts.get("cancelled", 0) + counts.get("blocked", 0) < total:
        status, cls = "stopped before the end (no engine running)", "queued"
    else:
        status, cls = "finished with failures", "failed"
    chips = [
        ("configurations", str(len(data.graph.tasks))),
        ("runs passed", f"{passed}/{total}"),
        ("runs failed", str(counts.get("failed", 0) + counts.get("blocked", 0))),
        ("attempts", str(attempts)),
        ("wall time", duration(span) if attempts else "–"),
    ]
    chip_html = "".join(f'<div class="chip"><b>{e(v)}</b><span>{e(k)}</span></div>' for k, v in chips)
    return (
        f'<header><h1>{e(data.config.pipeline.name)}</h1><p class="sub"><span class="badge {cls}">{e(status)}'
        f"</span> <code>{e(data.config.path)}</code> · written {e(_when(data.now))}</p>"
        f'<div class="chips">{chip_html}</div></header>'
    )


def _nav() -> str:
    links = [
        ("results", "Results"),
        ("curves", "Curves"),
        ("stages", "Stages"),
        ("timeline", "Timeline"),
        ("durations", "Durations"),
        ("failures", "Failures"),
    ]
    return "<nav>" + "".join(f'<a href="#{a}">{t}</a>' for a, t in links) + "</nav>"


def _stages_section(data: ReportData, charts: Any) -> str:
    stages: list[dict[str, Any]] = []
    rows = []
    for stage, needs in zip(data.config.stages, data.config.needs, strict=True):
        n = data.graph.run_count(stage.name)
        if stage.over is None:
            over = "each configuration"
        elif not stage.over:
            over = "all configurations, once"
        else:
            over = "per " + ", ".join(stage.over)
        label = f"{n} run{'s' if n != 1 else ''} · {stage.workers} worker{'s' if stage.workers != 1 else ''}"
        stages.append({"name": stage.name, "needs": list(needs), "label": label})
        mine = data.counts[stage.name]
        took = [a.ended_at - a.started_at for a in data.attempts if a.stage == stage.name and a.state == "done"]
        mean = duration(sum(took) / len(took)) if took else "–"
        done = mine[RunState.DONE.value] + mine[RunState.SKIPPED.value]
        failed = mine[RunState.FAILED.value] + mine[RunState.BLOCKED.value]
        rows.append(
            f"<tr><td><b>{e(stage.name)}</b></td><td>{e(', '.join(needs) or '–')}</td><td>{e(over)}</td>"
            f'<td class="num">{stage.workers}</td><td class="num">{n}</td><td class="num">{done}</td>'
            f'<td class="num">{failed}</td><td class="num">{mean}</td></tr>'
        )
    order = {name: i for i, name in enumerate(data.graph.order)}
    stages.sort(key=lambda s: order[s["name"]])
    chart = charts.graph_chart(stages) if charts else ""
    table = (
        "<table><thead><tr><th>stage</th><th>needs</th><th>runs are</th><th class=num>workers</th>"
        "<th class=num>runs</th><th class=num>passed</th><th class=num>failed</th><th class=num>mean done</th>"
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )
    return f'<section id="stages"><h2>Stages</h2><div class="graph">{chart}</div>{table}</section>'


def _durations_section(data: ReportData, charts: Any) -> str:
    durations: dict[str, dict[str, list[float]]] = {s: {"done": [], "failed": []} for s in data.config.stage_names}
    for a in data.attempts:
        if a.state in ("done", "failed"):
            durations[a.stage][a.state].append(a.ended_at - a.started_at)
    if not any(d["done"] or d["failed"] for d in durations.values()):
        body = '<p class="note">No attempt has ended yet.</p>'
    elif charts is None:
        body = NO_CHARTS
    else:
        body = charts.durations_chart(durations)
    return f'<section id="durations"><h2>Durations</h2><p>How long attempts took, per stage.</p>{body}</section>'


def _results_section(data: ReportData) -> str:
    parts = ['<section id="results"><h2>Results</h2>']
    if not data.table.metrics:
        parts.append(
            '<p class="note">No run reported metrics yet. A run appends JSON lines to the file named by '
            '<code>$COOPY_METRICS</code>, or a stage names a file with <code>metrics = "out/{task}/metrics.json"'
            "</code>.</p>"
        )
    if data.varying:
        parts.append(f"<p>The configurations differ in {e(', '.join(data.varying))}.</p>")
    if data.grouped is not None:
        by = ", ".join(data.grouped.group_by)
        parts.append(f"<h3>Grouped by {e(by)} (mean ± std, n)</h3>")
        parts.append(_table_html(data.grouped, data.better, "grouped-table"))
        parts.append(_cut_note(data, data.grouped))
        parts.append(_groups_chart(data))
    what = f"run of {data.table.stage}" if data.table.stage else "configuration"
    parts.append(
        f"<h3>One row per {e(what)}</h3><p>Click a column to sort it; best values in bold. "
        '<input id="filter" type="search" placeholder="filter rows" aria-label="filter rows"></p>'
    )
    parts.append(_table_html(data.table, data.better, "results-table"))
    parts.append(_cut_note(data, data.table))
    parts.append("</section>")
    return "".join(parts)


def _cut_note(data: ReportData, table: results.Table) -> str:
    """Said under a table cut at MAX_TABLE_ROWS: which rows are shown, and where all of them are."""
    if len(table.rows) <= MAX_TABLE_ROWS:
        return ""
    order = f"sorted by {table.sort}" if table.sort else "in config order; <code>--sort</code> chooses which come first"
    grouped = f" --group-by {','.join(table.group_by)}" if table.grouped else ""
    return (
        f'<p class="note">The first {MAX_TABLE_ROWS:,} of {len(table.rows):,} rows ({order}). Every row: '
        f"<code>coopy results {e(data.config.path)}{e(grouped)} --format csv</code>.</p>"
    )


def _groups_chart(data: ReportData) -> str:
    """The grouped metrics as dots (each run) and mean ± std per group, when a group has more than one run."""
    charts = _charts()
    grouped = data.grouped
    if charts is None or grouped is None or not any(r.n > 1 for r in grouped.rows):
        return ""
    by_task = {r.task: r for r in data.table.rows}
    groups: dict[str, list[tuple[str, list[float]]]] = {}
    for metric in grouped.metrics[:MAX_CURVE_METRICS]:
        shown = []
        for row in grouped.rows[:MAX_CHART_GROUPS]:
            values = [by_task[m].metrics[metric] for m in row.members if m in by_task and metric in by_task[m].metrics]
            if values:
                shown.append((short_label(row.params, grouped.group_by, row.task), values))
        if shown:
            groups[metric] = shown
    if not groups:
        return ""
    cut = len(grouped.rows) > MAX_CHART_GROUPS
    note = f'<p class="note">The first {MAX_CHART_GROUPS} of {len(grouped.rows):,} groups.</p>' if cut else ""
    return f'<div class="groups">{charts.groups_chart(groups, data.better)}</div>{note}'


def _table_html(table: results.Table, better: dict[str, str], table_id: str) -> str:
    cols = results.columns(table)
    best: dict[str, float] = {}
    for m in table.metrics:
        vals = [r.metrics[m] for r in table.rows if m in r.metrics]
        if len(vals) > 1:
            best[m] = min(vals) if better.get(m) == "lower" else max(vals)
    head = "".join(f'<th class="{"num" if c.numeric else ""}" title="click to sort">{e(c.label)}</th>' for c in cols)
    body = []
    for r in table.rows[:MAX_TABLE_ROWS]:
        cells = []
        for c in cols:
            text = results.cell(table, r, c)
            kind, _, name = c.key.partition(":")
            if kind == "metric":
                value = r.metrics.get(name)
                cls = "num best" if value is not None and best.get(name) == value else "num"
                cells.append(f'<td class="{cls}" data-v="{"" if value is None else repr(value)}">{e(text)}</td>')
            elif kind == "stage" and not table.grouped:
                cells.append(f'<td><span class="st {e(text)}">{e(text)}</span></td>')
            elif kind == "n":
                cells.append(f'<td class="num" data-v="{r.n}">{r.n}</td>')
            else:
                cells.append(f"<td>{e(text)}</td>")
        body.append(f'<tr data-task="{e(r.task)}">' + "".join(cells) + "</tr>")
    return (
        f'<div class="scroll"><table id="{table_id}" class="sortable"><thead><tr>{head}</tr></thead><tbody>'
        + "".join(body)
        + "</tbody></table></div>"
    )


def _curves_section(data: ReportData, charts: Any) -> str:
    head = '<section id="curves"><h2>Curves</h2>'
    if not data.curves:
        return head + '<p class="note">No run reported a series of metrics yet.</p></section>'
    if charts is None:
        return head + NO_CHARTS + "</section>"
    n = max(len(c) for c in data.curves.values())
    text = f"<p>Each metric of the {n} best runs by their last value, best first.</p>"
    return head + text + charts.curves_chart(data.curves, data.better) + "</section>"


def shown_failures(attempts: Sequence[Attempt]) -> list[Attempt]:
    """The failed attempts the report shows with their logs: the newest MAX_FAILURES."""
    return [a for a in attempts if a.state == "failed"][-MAX_FAILURES:]


def _failures_section(data: ReportData) -> str:
    head = '<section id="failures"><h2>Failures</h2>'
    shown = shown_failures(data.attempts)
    if not shown:
        return head + '<p class="note">No attempt failed.</p></section>'
    failed = sum(1 for a in data.attempts if a.state == "failed")
    more = failed - len(shown)
    items = []
    for a in reversed(shown):
        run = data.failed_runs.get((a.stage, a.task))
        later = run is not None and run.attempt > a.attempt
        if run is not None and run.state.passed and later:
            fate = '<span class="st done">recovered</span> a later attempt passed'
        elif later:
            fate = '<span class="st queued">retried</span>'
        else:
            fate = '<span class="st failed">failed for good</span>'
        lines = "\n".join(log_tail(a.log))
        items.append(
            f'<details class="failure"{"" if later else " open"}><summary><b>{e(a.stage)}/{e(a.task)}</b> attempt '
            f"{a.attempt} · {e(a.reason or 'failed')} · {duration(a.ended_at - a.started_at)} · {fate}</summary>"
            f'<p class="log-path"><code>{e(a.log)}</code></p><pre>{e(lines) or "(empty log)"}</pre></details>'
        )
    note = f'<p class="note">… and {more} earlier failed attempts.</p>' if more else ""
    plural = "s" if failed != 1 else ""
    intro = f"<p>{failed} failed attempt{plural}, newest first, with the last lines of each log.</p>"
    return head + intro + "".join(items) + note + "</section>"


# ---------------------------------------------------------------------------------------------- writing
def write_atomically(path: Path, text: str) -> None:
    """A temporary file next to it, renamed over it: a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_report(config: Config, output: Path, options: ReportOptions, refresh: float | None = None) -> str:
    """Write the report; returns the line to print."""
    data = gather(config, options)
    text = render(data, refresh)
    write_atomically(output, text)
    size = len(text.encode())
    note = "" if _charts() else " (no charts: matplotlib is not installed; pip install 'coopy[report]')"
    return (
        f"wrote {output} ({size / 2**20:.1f} MB): {len(data.graph.tasks)} configurations, "
        f"{len(data.attempts)} attempts{note}"
    )


WAIT_FOR_ENGINE = 10.0  # seconds `--watch` waits for an engine when none runs yet


def watch(config: Config, output: Path, options: ReportOptions, interval: float | None = None) -> int:
    """Rewrite the report every `interval` seconds while an engine runs the pipeline, and a last time after it
    stopped. Started before the engine, it waits WAIT_FOR_ENGINE seconds for one; a store being created or
    written meanwhile is read again at the next turn."""
    every = interval if interval and interval > 0 else max(2.0, config.pipeline.poll_interval)
    started = time.monotonic()
    seen_engine = False
    try:
        while True:
            running = EngineLock.holder(config.state_dir) is not None if config.state_dir.exists() else False
            seen_engine = seen_engine or running
            waiting = not seen_engine and time.monotonic() - started < WAIT_FOR_ENGINE
            try:
                line = write_report(config, output, options, refresh=every if running or waiting else None)
            except sqlite3.Error as exc:  # the engine is creating the store: next turn
                print(f"coopy: the state store cannot be read yet ({exc}); trying again", file=sys.stderr)
                time.sleep(every)
                continue
            if not running and not waiting:
                print(line + "; no engine runs the pipeline: done watching", flush=True)
                return 0
            print(line, flush=True)
            time.sleep(every)
    except KeyboardInterrupt:
        print(write_report(config, output, options), file=sys.stderr)
        return 130


CSS = """
:root{--fg:#212529;--muted:#6c757d;--line:#dee2e6;--bg:#f8f9fa;--card:#fff;--accent:#1c7ed6}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;color:var(--fg);
background:var(--bg)}
header{padding:28px 40px 18px;background:linear-gradient(135deg,#1864ab,#1c7ed6);color:#fff}
header h1{margin:0 0 4px;font-size:28px;letter-spacing:.2px}
header .sub{margin:0 0 16px;opacity:.92}header code{color:#e7f5ff}
.chips{display:flex;gap:12px;flex-wrap:wrap}
.chip{background:rgba(255,255,255,.14);border-radius:10px;padding:8px 16px;min-width:110px}
.chip b{display:block;font-size:22px;line-height:1.2}.chip span{font-size:12px;opacity:.9}
nav{position:sticky;top:0;z-index:2;display:flex;gap:4px;padding:8px 40px;background:#fff;
border-bottom:1px solid var(--line)}
nav a{color:var(--fg);text-decoration:none;padding:4px 12px;border-radius:6px}
nav a:hover{background:#e7f5ff;color:var(--accent)}
section{background:var(--card);margin:20px 40px;padding:18px 24px 22px;border-radius:12px;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{margin:0 0 8px;font-size:19px}h3{margin:18px 0 6px;font-size:15px}
p{margin:4px 0 10px;color:#343a40}.note{color:var(--muted);font-style:italic}
svg.chart{max-width:100%;height:auto;display:block}
.graph svg.chart{margin:6px auto 12px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}
th,td{padding:5px 10px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
th{background:#f1f3f5;position:sticky;top:0;cursor:pointer;user-select:none}
th.num,td.num{text-align:right}
th[data-dir=asc]::after{content:" ▲";font-size:10px}th[data-dir=desc]::after{content:" ▼";font-size:10px}
tbody tr:hover{background:#f8f9fa}td.best{font-weight:700;color:#1864ab}
.st{display:inline-block;padding:0 8px;border-radius:9px;font-size:12px;background:#e9ecef}
.st.done{background:#d3f9d8;color:#2b8a3e}.st.failed,.st.blocked{background:#ffe3e3;color:#c92a2a}
.st.running{background:#d0ebff;color:#1864ab}.st.queued,.st.waiting{background:#fff3bf;color:#8f5d00}
.st.skipped{background:#ebfbee;color:#2b8a3e}.st.cancelled{background:#e9ecef;color:#495057}
.badge{display:inline-block;padding:1px 10px;border-radius:10px;background:rgba(255,255,255,.2);font-weight:600}
.badge.failed{background:#ffe3e3;color:#c92a2a}.badge.done{background:#d3f9d8;color:#2b8a3e}
.badge.running{background:#d0ebff;color:#1864ab}.badge.queued{background:#fff3bf;color:#8f5d00}
#filter{margin-left:8px;padding:3px 8px;border:1px solid var(--line);border-radius:6px;font:inherit}
details.failure{border:1px solid var(--line);border-left:4px solid #e03131;border-radius:8px;margin:8px 0;
padding:6px 12px}
details.failure summary{cursor:pointer}
pre{background:#212529;color:#e9ecef;padding:10px 12px;border-radius:6px;overflow-x:auto;font-size:12px;margin:6px 0}
.log-path{margin:4px 0;font-size:12px;color:var(--muted)}
footer{margin:10px 40px 30px;color:var(--muted);font-size:12px}
"""

SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function (t) {
  t.querySelectorAll('th').forEach(function (th, i) {
    th.addEventListener('click', function () {
      var body = t.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var dir = th.dataset.dir === 'asc' ? 'desc' : 'asc', num = th.classList.contains('num');
      t.querySelectorAll('th').forEach(function (h) { delete h.dataset.dir; });
      th.dataset.dir = dir;
      function key(r) { var c = r.cells[i]; return c.dataset.v !== undefined ? c.dataset.v : c.textContent; }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === '' && y === '') return 0;
        if (x === '') return 1;
        if (y === '') return -1;
        var c = num ? parseFloat(x) - parseFloat(y) : x.localeCompare(y, undefined, {numeric: true});
        return dir === 'asc' ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
// report.html#sort=-loss opens with the results table sorted (a link can point at a view)
var wanted = decodeURIComponent(location.hash.replace(/^#sort=/, ''));
if (location.hash.indexOf('#sort=') === 0) {
  var desc = wanted.charAt(0) === '-', label = wanted.replace(/^[-+]/, '');
  document.querySelectorAll('#results-table th').forEach(function (th) {
    if (th.textContent === label) { th.click(); if (desc) th.click(); }
  });
}
var filter = document.getElementById('filter');
if (filter) filter.addEventListener('input', function () {
  var q = filter.value.toLowerCase();
  document.querySelectorAll('#results-table tbody tr').forEach(function (r) {
    r.style.display = r.textContent.toLowerCase().indexOf(q) < 0 ? 'none' : '';
  });
});
"""
