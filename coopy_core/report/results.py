"""`coopy results`: the numbers runs reported, one row per configuration (or per run of a stage), grouped, sorted.

Rows (`build`): by default one per configuration, with its params, the state of the run covering it in every
stage, and the last value of every metric its own runs reported (a name reported by two stages is the later
stage's; each stage's own numbers are under `stages[stage].metrics`). With `stage`, one row per run of that
stage (per group for a stage over fewer params) and that stage's numbers only.

Grouping (`arrange(group_by=[...])`) keeps the named params and aggregates the rest: per metric the mean, the
sample standard deviation (n - 1; none for a single value) and n, the rows that reported it. Sorting takes a
metric or param name, `-name` for descending; rows without that value come last either way.

The JSON is a contract: `{"rows": [{"task", "params", "stages", "metrics": {name: value}}]}`; grouped rows add
`n`, `std`, `count` and `members`. The same table feeds the CLI, the report and the TUI's results screen.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from coopy_core.config import Config
from coopy_core.errors import CoopyError
from coopy_core.graph import Graph, RunKey, group_name
from coopy_core.lifecycle.metrics import last_values
from coopy_core.model import RunState

FORMATS = ("table", "csv", "json", "markdown")


class ResultsError(CoopyError):
    """A group-by or sort key that names nothing in the table."""


class _Unused(dict[Any, Any]):
    """The grouped-only fields of an ungrouped row: one shared empty dict that refuses writes."""

    __hash__ = object.__hash__  # type: ignore[assignment]  # a dataclass default must be hashable

    def __setitem__(self, key: Any, value: Any) -> None:
        raise TypeError("a grouped-only field of an ungrouped row is never written")


_EMPTY = _Unused()


@dataclass(slots=True)  # a row per configuration: a million of them for `coopy results`
class Row:
    task: str  # the configuration's name, a run's name (`--stage`), or a group's (`model=cnn`)
    params: dict[str, Any]
    states: dict[str, str]  # stage -> state (ungrouped)
    metrics: dict[str, float]  # name -> last value (grouped: the mean); _EMPTY when none was reported
    stage_metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # (or _EMPTY: nothing reported)
    # grouped rows only (each made with its own: see `_group`)
    n: int = 1
    std: dict[str, float | None] = _EMPTY
    count: dict[str, int] = _EMPTY
    state_counts: dict[str, dict[str, int]] = _EMPTY  # stage -> state -> runs
    members: Sequence[str] = ()


@dataclass
class Table:
    rows: list[Row]
    params: list[str]
    stages: list[str]
    metrics: list[str]
    group_by: list[str] = field(default_factory=list)
    sort: str | None = None
    stage: str | None = None

    @property
    def grouped(self) -> bool:
        return bool(self.group_by)


# ---------------------------------------------------------------------------------------------- building
def build(
    graph: Graph,
    stage_names: Sequence[str],
    states: Mapping[RunKey, RunState | str],
    metrics: Mapping[RunKey, Mapping[str, float]],
    stage: str | None = None,
) -> Table:
    """The rows, ungrouped and in config order."""
    if stage is not None and stage not in stage_names:
        raise ResultsError(f"--stage: no stage named {stage!r} (stages: {', '.join(stage_names)})")
    rows: list[Row] = []
    order = [s for s in graph.order if s in stage_names]

    def state(key: RunKey) -> str:
        value = states.get(key)
        return RunState.WAITING.value if value is None else str(getattr(value, "value", value))

    if stage is None:
        measured = [s for s in order if not graph.is_group(s)]
        for name, task in graph.tasks.items():
            per_stage: dict[str, dict[str, float]] = {}
            values: dict[str, float] = {}
            for s in measured:
                reported = metrics.get((s, name))
                if reported:
                    per_stage[s] = dict(reported)
                    values.update(reported)
            states_of = {s: state(graph.run_of(s, name)) for s in stage_names}
            rows.append(Row(name, task.params, states_of, values or _EMPTY, per_stage or _EMPTY))
        stages = list(stage_names)
    else:
        for name in graph.runs(stage):
            key = (stage, name)
            reported = dict(metrics.get(key) or {})
            row = Row(name, graph.params(key), {stage: state(key)}, reported, {stage: reported} if reported else {})
            row.members = graph.members(key) if graph.is_group(stage) else []
            rows.append(row)
        stages = [stage]
    params: list[str] = []
    names: list[str] = []
    for row in rows:
        params += [p for p in row.params if p not in params]
        for s in order:
            names += [m for m in row.stage_metrics.get(s, {}) if m not in names]
    return Table(rows, params, stages, names, stage=stage)


class StatesByStage(Mapping[RunKey, RunState]):
    """Runs' states keyed (stage, run), kept per stage then run."""

    def __init__(self, by_stage: dict[str, dict[str, RunState]]) -> None:
        self.by_stage = by_stage

    def __getitem__(self, key: RunKey) -> RunState:
        return self.by_stage[key[0]][key[1]]

    def get(self, key: RunKey, default: Any = None) -> Any:
        stage = self.by_stage.get(key[0])
        return default if stage is None else stage.get(key[1], default)

    def __iter__(self) -> Iterator[RunKey]:
        return ((stage, run) for stage, runs in self.by_stage.items() for run in runs)

    def __len__(self) -> int:
        return sum(map(len, self.by_stage.values()))


def collect(config: Config, stage: str | None = None) -> Table:
    """The table from the state store (read-only; an engine may be writing it)."""
    from coopy_core.report.status import pipeline_graph
    from coopy_core.state.store import DB_NAME, Store

    store = Store(config.state_dir, readonly=True) if (config.state_dir / DB_NAME).exists() else None
    try:
        graph = pipeline_graph(config, store)
        states = StatesByStage(store.run_states() if store is not None else {})  # not whole runs: a million
        values = last_values(store.metric_values()) if store is not None else {}
    finally:
        if store is not None:
            store.close()
    metrics = {key: v for key, (_attempt, v) in values.items()}
    return build(graph, config.stage_names, states, metrics, stage=stage)


# ---------------------------------------------------------------------------------------------- grouping, sorting
def arrange(table: Table, group_by: Sequence[str] = (), sort: str | None = None, metrics: Sequence[str] = ()) -> Table:
    """Keep only some metrics, group, then sort (each if asked); raises ResultsError naming a key not there."""
    if metrics:
        unknown = [m for m in metrics if m not in table.metrics]
        if unknown:
            known = ", ".join(table.metrics) or "-"
            raise ResultsError(f"--metrics: no metric named {unknown[0]!r} (metrics: {known})")
        table = Table(table.rows, table.params, table.stages, list(metrics), table.group_by, table.sort, table.stage)
    for p in group_by:
        if p not in table.params:
            raise ResultsError(f"--group-by: no parameter named {p!r} (parameters: {', '.join(table.params) or '-'})")
    if group_by:
        table = _group(table, list(group_by))
    if sort:
        table = _sort(table, sort)
    return table


def _group(table: Table, by: list[str]) -> Table:
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in table.rows:
        groups.setdefault(tuple(_hashable(row.params.get(p)) for p in by), []).append(row)
    out: list[Row] = []
    for members in groups.values():
        params = {p: members[0].params.get(p) for p in by}
        name = group_name({p: v for p, v in params.items() if v is not None})
        row = Row(name, params, {}, {}, std={}, count={}, state_counts={})
        row.n = len(members)
        row.members = [m.task for m in members]
        for s in table.stages:
            counts: dict[str, int] = {}
            for m in members:
                st = m.states.get(s, RunState.WAITING.value)
                counts[st] = counts.get(st, 0) + 1
            row.state_counts[s] = counts
        for name in table.metrics:
            values = [m.metrics[name] for m in members if name in m.metrics]
            if not values:
                continue
            mean, std = mean_std(values)
            row.metrics[name] = mean
            row.std[name] = std
            row.count[name] = len(values)
        out.append(row)
    return Table(out, list(by), table.stages, table.metrics, list(by), table.sort, table.stage)


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """The mean and the sample standard deviation (n - 1), None for a single value."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value


def _sort(table: Table, key: str) -> Table:
    descending = key.startswith("-")
    name = key.lstrip("-+")
    if name in table.metrics:

        def value(row: Row) -> Any:
            return row.metrics.get(name)
    elif name in table.params:

        def value(row: Row) -> Any:
            return row.params.get(name)
    elif name in ("task", "n"):

        def value(row: Row) -> Any:
            return getattr(row, name)
    else:
        raise ResultsError(
            f"--sort: no metric or parameter named {name!r} (metrics: {', '.join(table.metrics) or '-'}; "
            f"parameters: {', '.join(table.params) or '-'})"
        )
    present = [r for r in table.rows if value(r) is not None]
    missing = [r for r in table.rows if value(r) is None]
    present.sort(key=lambda r: _order_key(value(r)), reverse=descending)
    return Table(present + missing, table.params, table.stages, table.metrics, table.group_by, key, table.stage)


def _order_key(value: Any) -> tuple[int, Any]:
    """Numbers before strings, each in their own order (a param may mix them)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))


# ---------------------------------------------------------------------------------------------- output
def as_json(table: Table) -> dict[str, Any]:
    rows = []
    for r in table.rows:
        if table.grouped:
            row: dict[str, Any] = {
                "task": r.task,
                "params": r.params,
                "stages": {s: {"states": r.state_counts.get(s, {})} for s in table.stages},
                "metrics": r.metrics,
                "n": r.n,
                "std": r.std,
                "count": r.count,
                "members": r.members,
            }
        else:
            row = {
                "task": r.task,
                "params": r.params,
                "stages": {s: {"state": r.states[s], "metrics": r.stage_metrics.get(s, {})} for s in table.stages},
                "metrics": r.metrics,
            }
            if r.members:
                row["members"] = r.members
        rows.append(row)
    return {
        "group_by": table.group_by,
        "sort": table.sort,
        "stage": table.stage,
        "metrics": table.metrics,
        "params": table.params,
        "stages": table.stages,
        "rows": rows,
    }


def from_json(data: Mapping[str, Any]) -> Table:
    """The table back from `as_json` (the TUI gets it over the socket)."""
    grouped = bool(data.get("group_by"))
    rows = []
    for d in data["rows"]:
        if grouped:
            rows.append(
                Row(
                    d["task"],
                    dict(d["params"]),
                    {},
                    dict(d["metrics"]),
                    n=d["n"],
                    std=dict(d["std"]),
                    count=dict(d["count"]),
                    state_counts={s: dict(v["states"]) for s, v in d["stages"].items()},
                    members=list(d["members"]),
                )
            )
        else:
            rows.append(
                Row(
                    d["task"],
                    dict(d["params"]),
                    {s: v["state"] for s, v in d["stages"].items()},
                    dict(d["metrics"]),
                    {s: dict(v.get("metrics") or {}) for s, v in d["stages"].items()},
                    members=list(d.get("members") or []),
                )
            )
    return Table(
        rows,
        list(data["params"]),
        list(data["stages"]),
        list(data["metrics"]),
        list(data["group_by"] or []),
        data.get("sort"),
        data.get("stage"),
    )


def number(value: float | None) -> str:
    """Four significant digits: enough to compare runs, short enough for a column."""
    if value is None:
        return ""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def state_summary(counts: Mapping[str, int]) -> str:
    """`2 done` or `1 done, 1 failed`, states in their life order."""
    order = [
        s.value
        for s in (
            RunState.DONE,
            RunState.SKIPPED,
            RunState.RUNNING,
            RunState.QUEUED,
            RunState.WAITING,
            RunState.FAILED,
            RunState.BLOCKED,
            RunState.CANCELLED,
        )
    ]
    return ", ".join(f"{counts[s]} {s}" for s in order if counts.get(s))


@dataclass(frozen=True)
class Column:
    key: str  # "task", "param:x", "stage:s", "metric:m", "n"
    label: str
    numeric: bool


def columns(table: Table) -> list[Column]:
    out = [] if table.grouped else [Column("task", "task", False)]
    out += [Column(f"param:{p}", p, False) for p in table.params]
    if table.grouped:
        out.append(Column("n", "n", True))
    out += [Column(f"stage:{s}", s, False) for s in table.stages]
    out += [Column(f"metric:{m}", m, True) for m in table.metrics]
    return out


def cell(table: Table, row: Row, column: Column) -> str:
    """A cell as people read it (the table, Markdown, the report and the TUI)."""
    kind, _, name = column.key.partition(":")
    if kind == "task":
        return row.task
    if kind == "n":
        return str(row.n)
    if kind == "param":
        value = row.params.get(name)
        return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    if kind == "stage":
        return state_summary(row.state_counts.get(name, {})) if table.grouped else row.states.get(name, "")
    value = row.metrics.get(name)
    if value is None:
        return ""
    if not table.grouped:
        return number(value)
    std = row.std.get(name)
    text = number(value) if std is None else f"{number(value)} ± {std:.2g}"
    return text + (f" (n={row.count[name]})" if row.count.get(name, row.n) != row.n else "")


def to_text(table: Table) -> str:
    cols = columns(table)
    grid = [[c.label for c in cols]] + [[cell(table, r, c) for c in cols] for r in table.rows]
    widths = [max(len(line[i]) for line in grid) for i in range(len(cols))]
    lines = []
    for n, line in enumerate(grid):
        parts = [
            text.rjust(w) if c.numeric and n else text.ljust(w) for text, w, c in zip(line, widths, cols, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    if not table.rows:
        lines.append("(no configurations)")
    return "\n".join(lines) + "\n"


def to_markdown(table: Table) -> str:
    cols = columns(table)

    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(esc(c.label) for c in cols) + " |"]
    lines.append("|" + "|".join("---:" if c.numeric else "---" for c in cols) + "|")
    for r in table.rows:
        lines.append("| " + " | ".join(esc(cell(table, r, c)) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    """Full precision; grouped: `<metric>`, `<metric>.std`, `<metric>.n` and `<stage>.states` (done=2;failed=1)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if table.grouped:
        header = [*table.params, "n", *(f"{s}.states" for s in table.stages)]
        for m in table.metrics:
            header += [m, f"{m}.std", f"{m}.n"]
        writer.writerow(header)
        for r in table.rows:
            line: list[Any] = [_csv(r.params.get(p)) for p in table.params] + [r.n]
            line += [";".join(f"{k}={v}" for k, v in r.state_counts.get(s, {}).items()) for s in table.stages]
            for m in table.metrics:
                line += [_csv(r.metrics.get(m)), _csv(r.std.get(m)), r.count.get(m, 0)]
            writer.writerow(line)
    else:
        writer.writerow(["task", *table.params, *(f"{s}.state" for s in table.stages), *table.metrics])
        for r in table.rows:
            writer.writerow(
                [
                    r.task,
                    *(_csv(r.params.get(p)) for p in table.params),
                    *(r.states[s] for s in table.stages),
                    *(_csv(r.metrics.get(m)) for m in table.metrics),
                ]
            )
    return buf.getvalue()


def _csv(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, float) else value


def render(table: Table, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(as_json(table), indent=2) + "\n"
    if fmt == "csv":
        return to_csv(table)
    if fmt == "markdown":
        return to_markdown(table)
    return to_text(table)
