"""coopy_tui.format: bars, ETAs, progress words, names cut in the middle."""

from __future__ import annotations

import dataclasses

from coopy_core.model import RunState, StageView
from coopy_tui.format import (
    bar,
    counted,
    outcome_text,
    pipeline_eta,
    pipeline_eta_text,
    stage_eta,
    stage_status,
)


def view(counts: dict[str, int], total: int = 10, mean: float | None = 2.0, paused: bool = False) -> StageView:
    full = {s.value: 0 for s in RunState}
    full.update(counts)
    return StageView("s", 0, 2, paused, full, mean, total=total)


def test_bars_and_etas() -> None:
    assert bar(0.0, 4) == "░░░░" and bar(1.0, 4) == "████" and bar(0.5, 4) == "██░░"
    assert len(bar(0.33, 10)) == 10
    view = StageView(
        "s", 0, 2, False, {"queued": 4, "running": 2, "done": 2, "failed": 0, "skipped": 0, "cancelled": 0}, 10.0
    )
    assert stage_eta(view, 8) == 30.0  # 6 left, 2 at a time, 10 s each
    assert stage_eta(dataclasses.replace(view, paused=True), 8) is None
    assert pipeline_eta([view, dataclasses.replace(view, name="t", mean_duration=None)], 8) is None


def test_progress_words() -> None:
    running = view({"done": 5, "running": 2, "queued": 3})
    assert stage_status(running, 0) == "ETA 6s"  # 5 left, 2 at a time (3 rounds), 2 s each
    assert stage_status(view({"done": 10}), 0) == "done"
    assert stage_status(view({"done": 7, "failed": 1, "blocked": 2}), 0) == "ended"  # never "done", no ETA
    assert stage_status(view({"done": 5, "queued": 5}, paused=True), 0) == "ETA paused"
    assert stage_status(view({"done": 5, "waiting": 5}), 0, busy=False) == "ended"  # the pipeline stopped
    unknown = dataclasses.replace(view({"queued": 10}, mean=None), name="t", index=1)
    assert pipeline_eta_text([running, unknown], 0) == "ETA --" and pipeline_eta_text([unknown], 0) == "ETA --"
    assert outcome_text([view({"done": 10})], 0) == "finished"
    assert outcome_text([view({"done": 7, "failed": 1, "blocked": 2}), view({"cancelled": 1, "done": 9})], 0) == (
        "finished: 1 failed, 1 cancelled, 2 blocked"
    )


def test_counts_read_as_english() -> None:
    assert [counted(n, "row") for n in (0, 1, 2)] == ["0 rows", "1 row", "2 rows"]
    assert counted(1, "new line") == "1 new line"


def test_a_failure_toast_cuts_its_text_after_a_whole_word() -> None:
    from coopy_tui.notices import FAILED, TOAST_TEXT, Notice, failure_toast

    text = "train/model=resnet,seed=2 failed: exit code 1: RuntimeError: CUDA out of memory while allocating"
    _title, body, _level = failure_toast([Notice(0.0, FAILED, "error", text)], 1)
    latest = body.split(" · f: next failed")[0]
    assert latest.endswith("…") and len(latest) <= TOAST_TEXT, latest
    kept = latest.removesuffix("…")
    assert text.startswith(kept) and text[len(kept)] in " :;,", latest  # the cut falls between two words


def test_one_long_word_is_still_cut_inside() -> None:
    from coopy_tui.format import cut_words

    assert cut_words("x" * 80, 20) == "x" * 19 + "…"
    assert cut_words("train/x failed: exit code 1 out of memory", 28) == "train/x failed: exit code 1…"  # a whole word
    assert cut_words("short enough", 20) == "short enough"
