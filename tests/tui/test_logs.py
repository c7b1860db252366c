"""The log readers: bounded, follow appends, survive truncation, never block (they run in threads)."""

from __future__ import annotations

from pathlib import Path

from coopy_tui.logs import LastLines, LogFollower, TailUpdate, last_line, read_tail


def drain_all(follower: LogFollower) -> TailUpdate | None:
    follower.poll_once()
    return follower.drain()


def test_follower_starts_from_the_tail_and_is_bounded(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("".join(f"line {i}\n" for i in range(5000)))
    f = LogFollower(max_lines=100)
    f.follow(str(log))
    update = drain_all(f)
    assert update is not None and update.reset
    assert update.lines == [f"line {i}" for i in range(4900, 5000)]
    assert f.settled


def test_follower_reads_appends_and_partial_lines(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("one\n")
    f = LogFollower(max_lines=100)
    f.follow(str(log))
    assert drain_all(f).lines == ["one"]
    with log.open("a") as fh:
        fh.write("two\nthr")
    update = drain_all(f)
    assert update is not None and not update.reset
    assert update.lines == ["two"] and update.partial == "thr"
    with log.open("a") as fh:
        fh.write("ee\r45%\r100%\n")
    update = drain_all(f)
    assert update.lines == ["100%"] and update.partial == ""  # what a terminal would show
    assert drain_all(f) is None


def test_follower_restarts_on_truncation_and_waits_for_a_missing_file(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    f = LogFollower(max_lines=10)
    f.follow(str(log))
    update = drain_all(f)
    assert update.reset and update.lines == []
    log.write_text("appeared\n")
    assert drain_all(f).lines == ["appeared"]
    log.write_text("new\n")  # truncated and rewritten
    update = drain_all(f)
    assert update.reset and update.lines == ["new"]


def test_follower_overflow_between_drains_resets_to_the_newest_lines(tmp_path: Path) -> None:
    log = tmp_path / "chatty.log"
    log.write_text("")
    f = LogFollower(max_lines=10)
    f.follow(str(log))
    drain_all(f)
    with log.open("a") as fh:
        fh.write("".join(f"n{i}\n" for i in range(50)))
    update = drain_all(f)
    assert update.reset and update.lines == [f"n{i}" for i in range(40, 50)]


def test_follower_switching_targets_drops_stale_reads(tmp_path: Path) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text("from a\n")
    b.write_text("from b\n")
    f = LogFollower()
    f.follow(str(a))
    f.follow(str(b))
    update = drain_all(f)
    assert update.path == str(b) and update.lines == ["from b"]


def test_threads_deliver_without_the_ui_asking(tmp_path: Path) -> None:
    import time

    log = tmp_path / "run.log"
    log.write_text("hello\n")
    f = LogFollower(interval=0.01)
    lines = LastLines(interval=0.01)
    f.start()
    lines.start()
    try:
        f.follow(str(log))
        lines.watch(("s", "t"), str(log))
        deadline = time.monotonic() + 10
        got: dict[tuple[str, str], str] = {}
        update = None
        while time.monotonic() < deadline and (update is None or not got):
            fresh = f.drain()
            if fresh is not None and fresh.path == str(log) and fresh.lines:
                update = fresh
            got.update(lines.drain())
            time.sleep(0.01)
        assert update is not None and update.lines == ["hello"]
        assert got == {("s", "t"): "hello"}
    finally:
        f.stop()
        lines.stop()


def test_last_line_and_read_tail(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("a\nb\n\n  \n")
    assert last_line(str(log)) == "b"
    assert last_line(str(tmp_path / "missing.log")) == ""
    lines, offset, partial = read_tail(str(log), 2)
    assert lines == ["", "  "] and offset == log.stat().st_size and partial == ""
