"""A sweep whose names share a long prefix (`dataset=cifar10-augmented-large,model=...,lr=...,seed=...`): every
row on screen shows the values that tell its run apart, at 80 and 120 columns; the shared param is said once in
the stage's header; `W` shows whole names, and shift+→ scrolls to their end where they are wider than the list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from coopy_core.model import EventKind
from coopy_tui.app import CoopyApp
from coopy_tui.names import Names, pairs
from coopy_tui.widgets.run_columns import DEFAULT_COLUMNS, fit
from tests.helpers.tui import fixed_clock, screen_text, settle, wait_for
from tests.helpers.tui_pipelines import DATASET, SWEEP_TASKS, sweep_engine


def table_lines(app: CoopyApp) -> list[tuple[str, str]]:
    """(task, the text drawn on its row) for every row of the current list on screen."""
    table = app.panel.table
    region = table.region
    lines = screen_text(app).splitlines()
    top = int(table.scroll_y)
    tasks = table.shown_tasks()[top : top + region.height - 1]
    return [(task, lines[region.y + 1 + i][region.x : region.right]) for i, task in enumerate(tasks)]


def tells_apart(task: str, line: str) -> bool:
    """The row shows the run's model, lr and seed, whole and in that order."""
    values = [v for k, v in pairs(task) or [] if k != "dataset"]
    words = re.split(r"[\s,=]+", line)
    at = 0
    for value in values:
        if value not in words[at:]:
            return False
        at = words.index(value, at) + 1
    return True


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_every_row_shows_what_tells_its_run_apart(in_tmp: Path, size: tuple[int, int]) -> None:
    app = CoopyApp(sweep_engine(in_tmp), clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        await settle(app)(pilot)
        for keys in (["tab"], ["pagedown", "pagedown"], ["o"], ["G"]):  # train: running, queued; by name; done
            await pilot.press(*keys)
            await settle(app)(pilot)
            rows = table_lines(app)
            assert len(rows) >= 5
            for task, line in rows:
                assert tells_apart(task, line), f"{task!r} drawn as {line!r}"
            drawn = [line[2 : app.panel.table.widths[0]] for _task, line in rows]  # the name column
            assert len(set(drawn)) == len(drawn)  # no two runs look alike
            assert f"same in every run: dataset={DATASET}" in screen_text(app)


async def test_wide_mode_shows_the_whole_name(in_tmp: Path) -> None:
    app = CoopyApp(sweep_engine(in_tmp), clock=fixed_clock)
    async with app.run_test(size=(60, 20)) as pilot:  # the whole name is wider than the list
        await settle(app)(pilot)
        await pilot.press("tab")
        await settle(app)(pilot)
        task, _line = table_lines(app)[0]
        await pilot.press("W")
        await wait_for(pilot, lambda: app.panel.table.wide, what="wide mode")
        await settle(app)(pilot)
        head, tail = task[:40], task[-20:]
        assert head in table_lines(app)[0][1] and tail not in table_lines(app)[0][1]
        await pilot.press("shift+right", "shift+right", "shift+right")
        await settle(app)(pilot)
        assert tail in table_lines(app)[0][1], table_lines(app)[0]
        await pilot.press("W")
        await settle(app)(pilot)
        assert tells_apart(task, table_lines(app)[0][1]) and DATASET not in table_lines(app)[0][1]


async def test_a_configuration_added_with_another_dataset_shows_the_dataset(in_tmp: Path) -> None:
    """What every configuration shared is shared no more: the header stops saying it, the rows show it."""
    engine = sweep_engine(in_tmp)
    app = CoopyApp(engine, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app)(pilot)
        await pilot.press("tab")
        await settle(app)(pilot)
        assert DATASET not in table_lines(app)[0][1]
        added = "dataset=imagenet,model=resnet18,lr=0.1,seed=0"
        engine.tasks.append(added)
        engine.emit(EventKind.TASK_ADDED, task=added)
        await wait_for(pilot, lambda: "same in every run" not in screen_text(app), what="the shared line gone")
        await settle(app)(pilot)
        assert all(DATASET in line for _task, line in table_lines(app)), table_lines(app)[:2]


def test_a_list_takes_the_widest_name_that_leaves_its_last_line_room() -> None:
    keys = [c.key for c in DEFAULT_COLUMNS]
    wide = dict(zip(keys, fit(DEFAULT_COLUMNS, 120, (37, 27)), strict=True))
    assert wide["task"] == 40 and wide["last"] >= 12  # pairs: everything fits
    narrow = dict(zip(keys, fit(DEFAULT_COLUMNS, 70, (37, 27)), strict=True))
    assert narrow["task"] == 30 and narrow["last"] >= 12  # aligned values, and the last line still shows
    tight = dict(zip(keys, fit(DEFAULT_COLUMNS, 40, (37, 27)), strict=True))
    assert tight["state"] == 10 and tight["last"] == 0


def test_names_keep_what_differs() -> None:
    names = Names.of(SWEEP_TASKS)
    assert names.constants == (("dataset", DATASET),)
    assert names.keys == ("model", "lr", "seed")
    assert names.short(SWEEP_TASKS[0]) == "model=resnet18,lr=0.1,seed=0"
    assert names.for_stage(("model",)).show("model=vit-base", 30) == "model=vit-base"
    assert names.show("baseline", 30) == "baseline"  # a named configuration is shown as it is
    narrow = names.values(SWEEP_TASKS[-1], 20)  # densenet121, 0.001, 9 in 16 cells and two gaps
    assert narrow.split() == ["dense…t121", "0.001", "9"], narrow  # the widest value gives up cells first
    assert Names.of(["x=1"]).short("x=1") == "x=1"  # one configuration: nothing is "shared"
