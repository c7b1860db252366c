"""`coopy` and `coopy-tui` end without the interpreter's clean-up of every object (`cli/fast_exit.py`), and lose
nothing by it: what the interpreter's exit would still finish is finished first (threads that are not daemons,
`atexit` callbacks such as logging's flush, standard output), and the exit code is the command's."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers.cli import coopy, status
from tests.helpers.engine import one_stage

PROGRAM = textwrap.dedent(
    """
    import atexit, concurrent.futures, logging, logging.handlers, sys, threading, time
    from pathlib import Path
    from coopy_core.cli.fast_exit import exit_now

    out = Path(sys.argv[1])
    def late_writer():
        time.sleep(0.3)
        (out / "thread.txt").write_text("written")
    threading.Thread(target=late_writer).start()  # not a daemon: the exit waits for it
    pool = concurrent.futures.ThreadPoolExecutor(2)  # alive at the exit: threading's exit tells it to stop
    pool.submit(time.sleep, 0.1)
    to_file = logging.FileHandler(out / "log.txt")
    handler = logging.handlers.MemoryHandler(10_000, flushLevel=logging.CRITICAL, target=to_file)
    logging.getLogger().addHandler(handler)
    logging.getLogger("t").warning("logged before the exit")  # in memory until logging's atexit flush
    atexit.register(lambda: (out / "atexit.txt").write_text("ran"))
    atexit.register(lambda: print("said at exit"))  # written after the first flush: flushed again

    class TornDown:  # freed by the interpreter's clean-up, which the fast exit skips
        def __del__(self):
            (out / "torn-down.txt").write_text("the interpreter cleaned up")
    kept = TornDown()
    for i in range(100_000):
        print(f"line {i}")  # block-buffered into the pipe
    exit_now(3)
    """
)


def test_the_fast_exit_finishes_threads_atexit_and_output_first(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # the pipe buffers, as for a user
    proc = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(tmp_path)], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 3, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 100_001 and lines[-2:] == ["line 99999", "said at exit"]
    assert (tmp_path / "thread.txt").read_text() == "written"
    assert (tmp_path / "atexit.txt").read_text() == "ran"
    assert "logged before the exit" in (tmp_path / "log.txt").read_text()
    assert not (tmp_path / "torn-down.txt").exists()  # the fast way out was taken
    assert proc.stderr == ""


def test_coopy_run_through_the_fast_exit_leaves_its_state_whole(tmp_path: Path) -> None:
    one_stage(tmp_path, '["sh", "-c", "echo {i} >> marks.txt"]', "workers = 2", tasks=3)
    run = coopy("run", "coopy.toml", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert sorted((tmp_path / "marks.txt").read_text().split()) == ["0", "1", "2"]
    assert status(tmp_path / "coopy.toml")["stages"][0]["counts"]["done"] == 3
    again = coopy("run", "coopy.toml", cwd=tmp_path)  # nothing changed: nothing runs again
    assert again.returncode == 0, again.stderr
    assert sorted((tmp_path / "marks.txt").read_text().split()) == ["0", "1", "2"]
    missing = coopy("validate", str(tmp_path / "nowhere.toml"), cwd=tmp_path)
    assert missing.returncode == 2 and "file not found" in missing.stderr and "Traceback" not in missing.stderr


def test_under_a_profiler_coopy_exits_as_python_does_so_the_profile_is_written(tmp_path: Path) -> None:
    one_stage(tmp_path, '["true"]')
    profile = tmp_path / "coopy.prof"
    argv = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "coopy_core.cli.main", "validate", "coopy.toml"]
    proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert profile.stat().st_size > 0  # cProfile writes it after the program returns: os._exit would skip that
