"""The pure pieces under the screen: filter words, sort orders, column widths, progress words, toasts' text."""

from __future__ import annotations

from coopy_core.model import RunState, RunView, StageView
from coopy_tui import matching
from coopy_tui.format import middle_truncate, outcome_text, pipeline_eta_text, stage_status
from coopy_tui.sorting import SORTS, natural_key, next_sort
from coopy_tui.widgets.graph_screen import drawing, layers
from coopy_tui.widgets.log_screen import attempt_log, attempts_of
from coopy_tui.widgets.run_columns import DEFAULT_COLUMNS, fit
from coopy_tui.widgets.summary_screen import summary_table


def keep(text: str, names: list[str], state: str = "queued") -> list[str]:
    terms = matching.parse(text)
    return [n for n in names if matching.matches(terms, matching.hay(n, state), lambda n=n: matching.params_of(n))]


def test_filter_words() -> None:
    names = ["lr=1,seed=1", "lr=13,seed=1", "lr=1,seed=2", "baseline"]
    assert keep("lr=1", names) == ["lr=1,seed=1", "lr=1,seed=2"]  # exactly 1, not 13
    assert keep("lr=1*", names) == ["lr=1,seed=1", "lr=13,seed=1", "lr=1,seed=2"]
    assert keep("LR=1 seed=2", names) == ["lr=1,seed=2"]
    assert keep("seed=", names) == names[:3]
    assert keep("base", names) == ["baseline"]  # plain words: part of the name
    assert keep("queued", names) == names and keep("fail", names) == []  # ... or of the state
    assert keep("", names) == names


def test_natural_order_and_the_sort_cycle() -> None:
    names = ["lr=10", "lr=2", "lr=1", "LR=3", "lr=1,seed=10", "lr=1,seed=9"]
    assert sorted(names, key=natural_key) == ["lr=1", "lr=1,seed=9", "lr=1,seed=10", "lr=2", "LR=3", "lr=10"]
    mode = SORTS[0]
    seen = [mode.name]
    for _ in SORTS:
        mode = next_sort(mode)
        seen.append(mode.name)
    assert seen == ["queue", "name", "state", "elapsed", "queue"]


def test_columns_shorten_the_name_before_a_state_is_cut() -> None:
    keys = [c.key for c in DEFAULT_COLUMNS]
    for width in range(20, 200):
        widths = dict(zip(keys, fit(DEFAULT_COLUMNS, width, 19), strict=True))
        assert widths["state"] == 10  # "cancelled", "retry 10s": never clipped
        assert sum(widths.values()) <= max(width, 20)
        if widths["priority"] or widths["attempt"] or widths["elapsed"]:
            assert widths["task"] == 22  # optional columns only once the name is whole
        assert widths["last"] == 0 or widths["last"] >= 12
    assert middle_truncate("model=resnet,seed=2", 14) == "model=r…seed=2"


def view(counts: dict[str, int], total: int = 10, mean: float | None = 2.0, paused: bool = False) -> StageView:
    full = {s.value: 0 for s in RunState}
    full.update(counts)
    return StageView("s", 0, 2, paused, full, mean, total=total)


def test_progress_words() -> None:
    running = view({"done": 5, "running": 2, "queued": 3})
    assert stage_status(running, 0) == "ETA 6s"  # 5 left, 2 at a time (3 rounds), 2 s each
    assert stage_status(view({"done": 10}), 0) == "done"
    assert stage_status(view({"done": 7, "failed": 1, "blocked": 2}), 0) == "ended"  # never "done", no ETA
    assert stage_status(view({"done": 5, "queued": 5}, paused=True), 0) == "ETA paused"
    assert stage_status(view({"done": 5, "waiting": 5}), 0, busy=False) == "ended"  # the pipeline stopped
    unknown = view({"queued": 10}, mean=None)
    assert pipeline_eta_text([running, unknown], 0) == "ETA 6s+" and pipeline_eta_text([unknown], 0) == "ETA --"
    assert outcome_text([view({"done": 10})], 0) == "finished"
    assert outcome_text([view({"done": 7, "failed": 1, "blocked": 2}), view({"cancelled": 1, "done": 9})], 0) == (
        "finished: 1 failed, 1 cancelled, 2 blocked"
    )


def test_graph_layers() -> None:
    def stage(name: str, needs: tuple[str, ...]) -> StageView:
        return StageView(name, 0, 1, False, {}, needs=needs)

    views = [
        stage("prepare", ()),
        stage("train", ("prepare",)),
        stage("baseline", ("prepare",)),
        stage("compare", ("train", "baseline")),
        stage("report", ("prepare", "compare")),
    ]
    assert layers(views) == [["prepare"], ["train", "baseline"], ["compare"], ["report"]]
    assert drawing(views) == "prepare ─▶ train, baseline ─▶ compare ─▶ report"


def test_attempts_from_history_and_paths() -> None:
    assert attempt_log("/x/logs/train/lr=1.3.log", 1) == "/x/logs/train/lr=1.1.log"
    run = RunView("lr=1", "train", 3, RunState.RUNNING, 0, log="/x/logs/train/lr=1.3.log", started_at=5.0)
    history = [
        {
            "attempt": 1,
            "state": "failed",
            "exit_code": 2,
            "reason": "exit code 2",
            "started_at": 1.0,
            "ended_at": 2.0,
            "log": "/x/logs/train/lr=1.1.log",
        }
    ]
    infos = attempts_of(run, history)
    assert [(i.number, i.state, i.log) for i in infos] == [
        (1, "failed", "/x/logs/train/lr=1.1.log"),
        (2, "", "/x/logs/train/lr=1.2.log"),  # not in the history given: its log is still found
        (3, "running", "/x/logs/train/lr=1.3.log"),
    ]


def test_summary_table_fits() -> None:
    from coopy_tui.widgets.summary_screen import StageSummary

    rows = [StageSummary("a-very-long-stage-name", 12345, 0, 3, 0, 2, 0, 1.0, 2.0, ())]
    for width in (40, 56, 76, 92):
        text = summary_table(rows, width).plain
        assert max(len(line) for line in text.splitlines()) <= max(width, 50), (width, text)
        assert "12345" in text


async def test_a_column_joins_a_running_table(in_tmp) -> None:  # noqa: ANN001
    """What a metric column does (issue 15): one more Column in the list, before the last line."""
    from rich.text import Text

    from coopy_tui.app import CoopyApp
    from coopy_tui.widgets.run_columns import Column
    from tests.helpers.tui import FakeEngine, fixed_clock

    runs = [RunView("a", "s", 1, RunState.DONE, 0, started_at=0, ended_at=1)]
    app = CoopyApp(FakeEngine("p", [("s", 1, False, None)], runs, ["a"]), clock=fixed_clock)
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.panel.table
        loss = Column("metric:loss", "loss", 8, lambda run, row: Text("0.25", justify="right"), right=True, rank=1)
        table.set_columns([*DEFAULT_COLUMNS[:-1], loss, DEFAULT_COLUMNS[-1]])
        await pilot.pause()
        assert [c.key for c in table.columns][-2:] == ["metric:loss", "last"]
        assert table.row_text("a")[-2].strip() == "0.25"
        assert "loss" in table.render_line(0).text
