"""Metric lines as runs write them: good ones, bad ones (one warning in the log, never an error), huge ones,
half-written ones, floods; real files, read the way the engine reads them (metrics.AttemptMetrics)."""

from __future__ import annotations

import json
from pathlib import Path

from coopy_core.lifecycle.metrics import MAX_LINE, MAX_POINTS, AttemptMetrics, MetricRow, MetricsTracker


def setup(tmp_path: Path) -> tuple[Path, Path, AttemptMetrics]:
    path = tmp_path / "m.jsonl"
    log = tmp_path / "run.log"
    path.write_bytes(b"")
    log.write_text("the command's own output\n")
    return path, log, AttemptMetrics(path, log)


def append(path: Path, data: bytes | str) -> None:
    with open(path, "ab") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def warnings(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.startswith("coopy: metrics:")]


def test_good_lines_give_last_values_and_series(tmp_path: Path) -> None:
    path, log, m = setup(tmp_path)
    append(path, '{"step": 1, "loss": 0.9, "acc": 0.5}\n{"step": 2, "loss": 0.41}\n')
    assert m.read()
    assert m.last == {"loss": 0.41, "acc": 0.5}
    assert m.series["loss"].points == [(1.0, 0.9), (2.0, 0.41)]
    assert m.take() == ["loss", "acc"]
    assert not m.read()  # nothing new
    append(path, '{"loss": 0.3, "val": {"acc": 0.8, "deep": {"x": 1}}, "name": "cnn", "ok": true}\n')
    assert m.read()
    # no step: the series' own count; nested objects flattened; strings and booleans are not metrics
    assert m.series["loss"].points[-1] == (2.0, 0.3)
    assert m.last["val.acc"] == 0.8 and m.last["val.deep.x"] == 1.0
    assert "name" not in m.last and "ok" not in m.last
    assert warnings(log) == []


def test_bad_lines_are_skipped_with_one_warning(tmp_path: Path) -> None:
    path, log, m = setup(tmp_path)
    append(path, '{"loss": 1}\nnot json at all\n[1, 2, 3]\n{"loss": NaN}\n\xff\xfe\n{"loss": 0.5}\n"text"\n')
    append(path, b'\xff\xfe{"loss": 7}\n{"loss": 0.25}\n')
    m.read()
    assert m.last == {"loss": 0.25}  # NaN is not a number we keep; the good lines around the bad ones count
    assert [v for _s, v in m.series["loss"].points] == [1.0, 0.5, 0.25]
    assert m.bad == 5  # text, a list, "ÿþ" (not JSON), a JSON string, bytes that are not UTF-8
    said = warnings(log)
    assert len(said) == 1, said
    assert "line 2" in said[0] and "not JSON" in said[0] and str(path) in said[0]
    append(path, "more garbage\n")
    m.read()
    assert len(warnings(log)) == 1  # still one
    assert log.read_text().startswith("the command's own output\n")


def test_a_huge_line_is_skipped_and_the_next_ones_still_count(tmp_path: Path) -> None:
    path, log, m = setup(tmp_path)
    huge = '{"loss": 5, "pad": "' + "x" * (3 * MAX_LINE) + '"}\n'
    append(path, '{"loss": 1}\n' + huge + '{"loss": 2}\n')
    m.read()
    assert m.last == {"loss": 2.0}
    assert [v for _s, v in m.series["loss"].points] == [1.0, 2.0]
    said = warnings(log)
    assert len(said) == 1 and "longer than 64 KiB" in said[0] and "line 2" in said[0]


def test_a_huge_line_written_in_pieces_is_never_kept_in_memory(tmp_path: Path) -> None:
    path, log, m = setup(tmp_path)
    append(path, '{"loss": 1}\n{"pad": "')
    for _ in range(10):  # a line that grows across many polls
        append(path, "y" * MAX_LINE)
        m.read()
        assert len(m._partial) <= MAX_LINE
    append(path, '"}\n{"loss": 3}\n')
    m.read()
    assert m.last == {"loss": 3.0}
    assert len(warnings(log)) == 1


def test_a_half_written_line_waits_for_its_newline(tmp_path: Path) -> None:
    path, log, m = setup(tmp_path)
    append(path, '{"loss": 1}\n{"lo')
    m.read()
    assert m.last == {"loss": 1.0}
    append(path, 'ss": 0.5}\n')
    m.read()
    assert m.last == {"loss": 0.5}
    append(path, '{"loss": 0.25}')  # the run ended without a last newline: read at the end anyway
    m.read()
    assert m.last == {"loss": 0.5}
    m.read(final=True)
    assert m.last == {"loss": 0.25}
    assert warnings(log) == []


def test_a_long_series_is_bounded_and_still_spans_the_whole_run(tmp_path: Path) -> None:
    path, _log, m = setup(tmp_path)
    n = 5 * MAX_POINTS + 7
    append(path, "".join(json.dumps({"step": i, "loss": 1.0 / (i + 1)}) + "\n" for i in range(n)))
    while m.read():  # a flood is read over several polls (MAX_READ per poll)
        m.take()
    points = m.series["loss"].points
    assert MAX_POINTS // 2 <= len(points) <= MAX_POINTS
    assert points[0][0] == 0.0 and points[-1][0] >= n - 1 - m.series["loss"].stride
    assert m.last["loss"] == 1.0 / n  # the last value is exact, whatever was thinned
    steps = [s for s, _v in points]
    assert steps == sorted(steps)


def test_a_truncated_file_is_read_again_from_the_start(tmp_path: Path) -> None:
    path, _log, m = setup(tmp_path)
    append(path, '{"loss": 1}\n{"loss": 2}\n')
    m.read()
    path.write_text('{"loss": 9}\n')
    m.read()
    assert m.last == {"loss": 9.0}


def test_summary_file_good_bad_and_missing(tmp_path: Path) -> None:
    path, log, m = setup(tmp_path)
    append(path, '{"step": 10, "loss": 0.2}\n')
    m.read()
    summary = tmp_path / "metrics.json"
    summary.write_text(json.dumps({"accuracy": 0.91, "f1": 0.88, "model": "cnn"}))
    m.read_summary(summary)
    assert m.last == {"loss": 0.2, "accuracy": 0.91, "f1": 0.88}
    assert m.series["accuracy"].points == [(10.0, 0.91)]  # at the run's last step: curves end with it
    assert warnings(log) == []
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    m2 = AttemptMetrics(path, log)
    m2.read_summary(broken)
    m2.read_summary(tmp_path / "missing.json")
    said = warnings(log)
    assert len(said) == 2 and "not JSON" in said[0] and "does not exist" in said[1]


def test_tracker_reports_only_changes_and_the_last_lines_at_the_end(tmp_path: Path) -> None:
    got: list[tuple[tuple[str, str], int, list[MetricRow]]] = []
    tracker = MetricsTracker(tmp_path, lambda key, attempt, rows: got.append((key, attempt, rows)))
    path = tracker.begin(("train", "a"), 2, tmp_path / "log", fresh=True)
    assert path == tmp_path / "metrics" / "train" / "a.2.jsonl" and path.parent.is_dir()
    assert not path.exists()  # the run makes its file when it first reports: none for a run that never does
    tracker.poll()
    append(path, "")
    tracker.poll()
    assert got == []
    append(path, '{"loss": 1}\n')
    tracker.poll()
    assert [(r.name, r.value, r.attempt) for r in got[-1][2]] == [("loss", 1.0, 2)]
    tracker.poll()
    assert len(got) == 1
    append(path, '{"loss": 0.5, "acc": 0.7}')  # no newline: the end reads it
    tracker.end(("train", "a"), 2)
    assert sorted((r.name, r.value) for r in got[-1][2]) == [("acc", 0.7), ("loss", 0.5)]
    assert got[-1][2][0].series  # the series travels with the row
    assert ("train", "a") not in tracker.live
