"""The report's charts, drawn by matplotlib as inline SVG (the `report` extra; imported only when a report is made).

Why matplotlib: it is the best-kept plotting library Python has, renders SVG with no browser and no network,
and its SVG keeps each artist's `gid` as an element id, so every timeline bar is an element of the page a test
(or a person's devtools) can find, with a `<title>` tooltip. The Agg backend is chosen before pyplot is
imported, so no display is ever needed. Text stays text (`svg.fonttype = none`): smaller files, and the page's
own font. Each chart gets its own hash salt, so the ids of several SVGs inline in one page never collide.

Every function takes plain data and returns an `<svg>` string ready to be inlined in HTML: no XML prolog, no
DOCTYPE, no metadata and no namespace URLs (the HTML parser puts inline SVG in its namespace by itself).
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

RUNNING_BINS = 400  # slices of the wall time in the running-count chart
STATE_COLOURS = {
    "done": "#2f9e44",
    "failed": "#e03131",
    "cancelled": "#868e96",
    "running": "#1c7ed6",
    "queued": "#f59f00",  # stopped with the engine, queued again
    "skipped": "#b2f2bb",
}
PALETTE = [
    "#1c7ed6",
    "#e8590c",
    "#2f9e44",
    "#ae3ec9",
    "#f08c00",
    "#0c8599",
    "#c2255c",
    "#5c940d",
    "#495057",
    "#3b5bdb",
    "#d9480f",
    "#087f5b",
]


@dataclass(frozen=True)
class Bar:
    """One attempt on the timeline."""

    id: str  # the element id: attempt:<stage>/<run>/<attempt>
    stage: str
    lane: int  # the worker slot within its stage, from 0
    start: float  # seconds since the pipeline's first start
    end: float
    state: str
    title: str  # the tooltip
    label: str = ""  # written on the bar when it is wide enough


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.fonttype": "none",
            "font.family": "sans-serif",
            "font.sans-serif": ["DejaVu Sans"],  # shipped with matplotlib: the same metrics everywhere
            "font.size": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.edgecolor": "#adb5bd",
            "axes.labelcolor": "#343a40",
            "xtick.color": "#495057",
            "ytick.color": "#495057",
            "axes.titleweight": "bold",
            "axes.titlesize": 11,
            "figure.dpi": 72,
        }
    )
    return plt


def _svg(fig: Any, salt: str, titles: Mapping[str, str] | None = None) -> str:
    plt = _pyplot()
    plt.rcParams["svg.hashsalt"] = salt
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None}, transparent=True)
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    text = text.replace("<svg", f'<svg class="chart" role="img" aria-label="{html.escape(salt)}"', 1)
    if titles:

        def add_title(m: re.Match[str]) -> str:
            gid = html.unescape(m.group(1))
            tip = titles.get(gid)
            return m.group(0) + (f"<title>{html.escape(tip)}</title>" if tip else "")

        text = re.sub(r'<g id="([^"]+)">', add_title, text)
    return text


def graph_chart(stages: Sequence[Mapping[str, Any]]) -> str:
    """Stages as boxes in columns by depth, an arrow for every `needs`. Each stage: name, needs, label."""
    plt = _pyplot()
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    depth: dict[str, int] = {}
    for s in stages:  # stages come in topological order
        depth[s["name"]] = 1 + max((depth[n] for n in s["needs"] if n in depth), default=-1)
    columns: dict[int, list[str]] = {}
    for s in stages:
        columns.setdefault(depth[s["name"]], []).append(s["name"])
    tallest = max(len(c) for c in columns.values())
    pos: dict[str, tuple[float, float]] = {}
    for d, names in columns.items():
        for i, name in enumerate(names):
            pos[name] = (d * 3.2, (len(names) - 1) / 2 - i)  # each column centred
    width, height = 2.4, 0.8
    fig, ax = plt.subplots(figsize=(max(4.0, 2.3 * len(columns)), max(1.2, 1.05 * tallest)))
    for s in stages:
        x, y = pos[s["name"]]
        ax.add_patch(
            FancyBboxPatch(
                (x - width / 2, y - height / 2),
                width,
                height,
                boxstyle="round,pad=0.02,rounding_size=0.12",
                facecolor="#f1f3f5",
                edgecolor="#495057",
                linewidth=1.2,
                gid=f"stage:{s['name']}",
            )
        )
        ax.text(x, y + 0.13, s["name"], ha="center", va="center", fontsize=11, fontweight="bold", color="#212529")
        ax.text(x, y - 0.17, s["label"], ha="center", va="center", fontsize=8.5, color="#495057")
    for s in stages:
        for need in s["needs"]:
            if need in pos:
                (x0, y0), (x1, y1) = pos[need], pos[s["name"]]
                ax.add_patch(
                    FancyArrowPatch(
                        (x0 + width / 2, y0),
                        (x1 - width / 2, y1),
                        arrowstyle="-|>",
                        mutation_scale=14,
                        color="#495057",
                        linewidth=1.2,
                        connectionstyle="arc3,rad=0.0",
                    )
                )
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - width / 2 - 0.1, max(xs) + width / 2 + 0.1)
    ax.set_ylim(min(ys) - height / 2 - 0.1, max(ys) + height / 2 + 0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    return _svg(fig, "graph")


def timeline_chart(bars: Sequence[Bar], lanes: Mapping[str, int], span: float) -> str:
    """One lane per worker slot per stage (stages top to bottom in pipeline order), a bar per attempt."""
    plt = _pyplot()
    from matplotlib.patches import Patch

    order = list(lanes)
    total = sum(lanes.values())
    base: dict[str, int] = {}
    at = 0
    for stage in order:
        base[stage] = at
        at += lanes[stage]
    fig, ax = plt.subplots(figsize=(12, min(60.0, 1.2 + 0.26 * total)))
    unit, scale = _time_unit(span)
    groups: dict[tuple[str, float], list[Bar]] = {}  # one barh call per look: a call per bar took 1.3 ms each
    for bar in bars:
        wide = bar.end - bar.start > span / 250  # a white edge parts neighbours, but would hide a thin bar
        groups.setdefault((STATE_COLOURS.get(bar.state, "#adb5bd"), 1.0 if wide else 0.0), []).append(bar)
    for (colour, edge), same in groups.items():
        rects = ax.barh(
            [total - 1 - (base[b.stage] + b.lane) for b in same],
            [max((b.end - b.start) / scale, span / scale / 700) for b in same],
            left=[b.start / scale for b in same],
            height=0.72,
            color=colour,
            edgecolor="white",
            linewidth=edge,
        )
        for patch, bar in zip(rects.patches, same, strict=True):
            patch.set_gid(bar.id)
    for bar in bars:
        y = total - 1 - (base[bar.stage] + bar.lane)
        if len(bars) <= 80 and (bar.end - bar.start) > span * 0.07 and bar.label:
            room = max(6, int(80 * (bar.end - bar.start) / span))  # characters that fit, about
            ax.text(
                (bar.start + bar.end) / 2 / scale,
                y,
                _short(bar.label, room),
                ha="center",
                va="center",
                fontsize=7,
                color="white",
                clip_on=True,
            )
    ticks, labels = [], []
    for stage in order:
        for lane in range(lanes[stage]):
            ticks.append(total - 1 - (base[stage] + lane))
            labels.append(f"{stage} · {lane + 1}")
        if base[stage]:
            ax.axhline(total - base[stage] - 0.5, color="#ced4da", linewidth=0.8)
    ax.set_yticks(ticks, labels, fontsize=8 if total > 30 else 9)
    ax.set_ylim(-0.6, total - 0.4)
    ax.set_xlim(0, max(span, 1e-9) / scale * 1.01)
    ax.set_xlabel(f"time since the first start ({unit})")
    ax.grid(axis="x", color="#e9ecef", linewidth=0.8)
    ax.set_axisbelow(True)
    shown = sorted({b.state for b in bars}, key=list(STATE_COLOURS).index) if bars else []
    if shown:
        ax.legend(
            handles=[Patch(color=STATE_COLOURS[s], label=s) for s in shown],
            loc="upper center",
            ncols=len(shown),
            bbox_to_anchor=(0.5, 1.0 + 0.45 / max(1.6, 1.2 + 0.26 * total)),
            frameon=False,
            fontsize=9,
        )
    return _svg(fig, "timeline", {b.id: b.title for b in bars})


def running_means(starts: Any, ends: Any, edges: Any) -> Any:
    """How many of the attempts [start, end) ran, on average, in each slice between consecutive `edges`
    (numpy arrays): the running count's integral, read at the edges."""
    import numpy as np

    times = np.concatenate([starts, ends])
    delta = np.concatenate([np.ones(len(starts)), -np.ones(len(ends))])
    order = np.argsort(times, kind="stable")  # ties in any order: a zero-width step adds nothing to the integral
    times, delta = times[order], delta[order]
    running = np.cumsum(delta)  # attempts running after each start or end
    area = np.concatenate([[0.0], np.cumsum(running[:-1] * np.diff(times))])  # attempt-seconds so far
    return np.diff(np.interp(edges, times, area)) / np.diff(edges)


def running_chart(spans: Sequence[tuple[str, str, int, float, float, str, str]], caps: Mapping[str, int]) -> str:
    """Per stage (top to bottom in pipeline order), how many of its attempts ran at each moment: the mean over
    each of RUNNING_BINS slices of the wall time (exact, from the running count's integral), and its worker cap
    dashed. The picture's size does not grow with the attempts."""
    import numpy as np

    plt = _pyplot()
    stages = [s for s in caps if any(span[0] == s for span in spans)]
    t0 = min(s[3] for s in spans)
    width = max(max(s[4] for s in spans) - t0, 1e-9)
    unit, scale = _time_unit(width)
    edges = np.linspace(0.0, width, RUNNING_BINS + 1)
    fig, axes = plt.subplots(len(stages), 1, figsize=(12, 0.8 + 1.5 * len(stages)), sharex=True, squeeze=False)
    for i, (ax, stage) in enumerate(zip(axes[:, 0], stages, strict=True)):
        starts = np.fromiter((s[3] for s in spans if s[0] == stage), float) - t0
        ends = np.fromiter((s[4] for s in spans if s[0] == stage), float) - t0
        mean = running_means(starts, ends, edges)
        ax.stairs(mean, edges / scale, fill=True, color=PALETTE[i % len(PALETTE)], alpha=0.85)
        cap = caps[stage]
        ax.axhline(cap, color="#495057", linewidth=1.0, linestyle="--")
        ax.set_ylim(0, max(cap, float(mean.max())) * 1.15)
        ax.set_ylabel(f"{stage}\n(cap {cap})", fontsize=9)
        ax.grid(axis="x", color="#e9ecef", linewidth=0.8)
        ax.set_axisbelow(True)
    axes[-1, 0].set_xlim(0, width / scale)
    axes[-1, 0].set_xlabel(f"time since the first start ({unit}); attempts running, mean per slice")
    return _svg(fig, "running")


def _time_unit(span: float) -> tuple[str, float]:
    if span >= 3 * 3600:
        return "h", 3600.0
    if span >= 180:
        return "min", 60.0
    return "s", 1.0


def durations_chart(durations: Mapping[str, Mapping[str, Sequence[float]]]) -> str:
    """Per stage, a histogram of attempt durations: done ones, failed ones stacked on top."""
    plt = _pyplot()
    names = list(durations)
    per_row = min(4, max(1, len(names)))
    rows = (len(names) + per_row - 1) // per_row
    fig, axes = plt.subplots(rows, per_row, figsize=(3.1 * per_row, 2.3 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(names):
            ax.axis("off")
            continue
        name = names[i]
        done = list(durations[name].get("done", ()))
        failed = list(durations[name].get("failed", ()))
        every = done + failed
        if not every:
            ax.text(0.5, 0.5, "no attempt ended yet", ha="center", va="center", transform=ax.transAxes, color="#868e96")
            ax.set_title(name)
            ax.set_yticks([])
            continue
        unit, scale = _time_unit(max(every))
        data = [[d / scale for d in done], [d / scale for d in failed]]
        ax.hist(
            data,
            bins=min(30, max(5, len(every) // 3)),
            stacked=True,
            color=["#2f9e44", "#e03131"],
            label=["done", "failed"],
        )
        med = sorted(done)[len(done) // 2] / scale if done else None
        ax.set_title(name)
        ax.set_xlabel(f"duration ({unit})" + (f" · median {med:.3g}" if med is not None else ""))
        ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    return _svg(fig, "durations")


Curves = Mapping[str, Sequence[tuple[str, Sequence[Sequence[float]]]]]


def curves_chart(curves: Curves, better: Mapping[str, str]) -> str:
    """Per metric, the series of the best runs (legend: run name, best first); a metric reported once per
    run (a stage's metrics file) is a bar per run instead."""
    plt = _pyplot()
    names = list(curves)
    per_row = min(2, max(1, len(names)))
    rows = (len(names) + per_row - 1) // per_row
    fig, axes = plt.subplots(rows, per_row, figsize=(6.2 * per_row, 3.4 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(names):
            ax.axis("off")
            continue
        metric = names[i]
        if all(len(points) <= 1 for _label, points in curves[metric]):
            runs = curves[metric]
            labels = [_short(label, 32) for label, _p in runs][::-1]
            values = [points[-1][1] for _label, points in runs][::-1]
            colours = [PALETTE[j % len(PALETTE)] for j in range(len(runs))][::-1]
            ax.barh(range(len(values)), values, color=colours, height=0.65)
            ax.set_yticks(range(len(values)), labels, fontsize=8)
            low, high = min(values), max(values)
            pad = (max(high, 0.0) - min(low, 0.0)) * 0.12 or 1.0
            # the axis always holds zero: a bar's length is its value (0.979 is not a tenth of 1.0)
            ax.set_xlim(min(0.0, low - pad if low < 0 else 0.0), max(0.0, high + pad if high > 0 else 0.0))
            for y, v in enumerate(values):
                ax.text(v, y, f" {v:.4g}", va="center", fontsize=8, color="#343a40")
            ax.set_title(f"{metric} ({better[metric]} is better)")
            ax.grid(axis="x", color="#e9ecef", linewidth=0.8)
            ax.set_axisbelow(True)
            continue
        for j, (label, points) in enumerate(curves[metric]):
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            ax.plot(
                xs,
                ys,
                color=PALETTE[j % len(PALETTE)],
                linewidth=1.6 if j else 2.4,
                label=_short(label),
                marker="o" if len(points) == 1 else None,
                markersize=4,
            )
        ax.set_title(f"{metric} ({better[metric]} is better)")
        ax.set_xlabel("step")
        ax.grid(color="#e9ecef", linewidth=0.8)
        ax.legend(fontsize=7.5, frameon=False, loc="best")
    fig.tight_layout()
    return _svg(fig, "curves")


Groups = Mapping[str, Sequence[tuple[str, Sequence[float]]]]


def groups_chart(groups: Groups, better: Mapping[str, str]) -> str:
    """Per metric, a row per group: each member's value a small dot, the mean a bar-less marker with ± one
    standard deviation. A dot plot shows differences of 0.002 that a bar from zero hides, and the spread that
    tells whether they mean anything."""
    plt = _pyplot()
    names = list(groups)
    per_row = min(2, max(1, len(names)))
    rows = (len(names) + per_row - 1) // per_row
    tallest = max(len(g) for g in groups.values())
    fig, axes = plt.subplots(rows, per_row, figsize=(6.2 * per_row, (0.9 + 0.34 * tallest) * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(names):
            ax.axis("off")
            continue
        metric = names[i]
        shown = list(groups[metric])[::-1]  # the first group on top
        for y, (_label, values) in enumerate(shown):
            ax.scatter(values, [y] * len(values), s=16, color="#74c0fc", zorder=2)
            mean = sum(values) / len(values)
            std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
            ax.errorbar(mean, y, xerr=std, fmt="D", color="#1864ab", markersize=6, capsize=4, zorder=3)
        ax.set_yticks(range(len(shown)), [_short(label, 32) for label, _v in shown], fontsize=8)
        ax.set_ylim(-0.6, len(shown) - 0.4)
        ax.set_title(f"{metric} ({better.get(metric, 'higher')} is better): mean ± std, dots are runs")
        ax.grid(axis="x", color="#e9ecef", linewidth=0.8)
        ax.set_axisbelow(True)
    fig.tight_layout()
    return _svg(fig, "groups")


def _short(label: str, width: int = 40) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"
