"""`[pipeline] notify`: apprise URLs told when a run fails for good (once, not once per attempt) and when the
pipeline finishes, sent by a detached hook to a real HTTP endpoint on 127.0.0.1; once per event across engine
restarts; a URL apprise does not know, or apprise missing, is one line and exit 2 before anything starts."""

from __future__ import annotations

import importlib.util
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from coopy_core import ConfigError, Matrix, Pipeline, Stage
from coopy_core.model import Event, EventKind
from tests.helpers.cli import coopy
from tests.helpers.engine import EngineFactory, wait_finished, wait_until, write_config
from tests.helpers.note_server import NoteServer, exit_status, note_hooks, senders_ended
from tests.helpers.waiting import poll

needs_apprise = pytest.mark.skipif(
    importlib.util.find_spec("apprise") is None, reason="apprise is not installed (the notify extra: CI installs it)"
)

FAILS_FOR_I1 = '["sh", "-c", "echo working on $0; if [ $0 = 1 ]; then echo boom: no data >&2; exit 3; fi", "{i}"]'


@pytest.fixture
def server() -> Iterator[NoteServer]:
    served = NoteServer()
    yield served
    served.close()


def _config(tmp: Path, notify: str) -> Path:
    return write_config(
        tmp,
        f"""
        [pipeline]
        name = "notes"
        poll_interval = 0.2
        notify = {notify}

        [tasks.matrix]
        i = [0, 1, 2]

        [[stages]]
        name = "s"
        command = {FAILS_FOR_I1}
        retries = 1
        backoff = 0
        """,
    )


def _all_sent(state: Path) -> None:
    poll(lambda: senders_ended(state), 60, "every notification's sender to end")


@needs_apprise
def test_a_run_failed_for_good_is_told_once_and_the_pipelines_end_once(tmp_path: Path, server: NoteServer) -> None:
    cfg = _config(tmp_path, f'["{server.url()}"]')
    ran = coopy("run", str(cfg), cwd=tmp_path)
    assert ran.returncode == 1, ran.stderr  # a run failed
    assert "attempt 1 failed" in ran.stdout and "attempt 2 failed" in ran.stdout  # it was retried once
    state = tmp_path / ".coopy"
    _all_sent(state)
    posts = server.received()
    assert [p["title"] for p in posts].count("coopy: s/i=1 failed") == 1  # not one per attempt
    assert len(posts) == 2, posts
    failed = next(p for p in posts if p["title"] == "coopy: s/i=1 failed")
    assert failed["type"] == "failure" and failed["path"] == "/notes"
    assert failed["message"].startswith("exit code 3\nattempt 2 · pipeline notes\nlog: ")
    assert "boom: no data" in failed["message"]  # the end of its log: its error
    end = next(p for p in posts if p is not failed)
    assert end["title"] == "coopy: notes finished: 2 done, 1 failed"
    assert end["message"] == "failed:\ns/i=1: exit code 3" and end["type"] == "failure"
    assert set(note_hooks(state)) == {"notify.failed.s.i=1.2", "notify.finished.1"}
    assert "sent: coopy: s/i=1 failed" in (state / "logs" / "hooks" / "notify.failed.s.i=1.2.log").read_text()

    again = coopy("run", str(cfg), cwd=tmp_path)  # a finished pipeline: nothing ran, nothing new to tell
    assert again.returncode == 1, again.stderr
    assert set(note_hooks(state)) == {"notify.failed.s.i=1.2", "notify.finished.1"}
    _all_sent(state)
    assert len(server.received()) == 2


@needs_apprise
def test_a_note_is_sent_once_across_an_engine_that_died_around_its_start(tmp_path: Path, server: NoteServer) -> None:
    """The two ways an engine can die after committing a note: before its sender started (the next engine sends
    it), or after the start but before the mark was committed (the sender's status file proves it: never again)."""
    cfg = _config(tmp_path, f'"{server.url()}"')
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 1
    state = tmp_path / ".coopy"
    _all_sent(state)
    assert len(server.received()) == 2
    note = "notify.failed.s.i=1.2"

    def mark_pending() -> None:  # what the store holds when the engine died before committing `fired`
        with sqlite3.connect(state / "state.sqlite") as conn:
            conn.execute("UPDATE hooks SET state = 'pending' WHERE id = ?", (note,))
        conn.close()

    mark_pending()  # started before the crash: its exit status is there
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 1
    assert note_hooks(state)[note] == "fired"
    _all_sent(state)  # a sender started again would have reset its status file: this waits for its post
    assert len(server.received()) == 2

    mark_pending()  # never started: no status file, no sender alive
    (state / "hooks" / f"{note}.status").unlink()
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 1
    _all_sent(state)
    assert server.titles().count("coopy: s/i=1 failed") == 2  # the one owed, sent now; once
    assert len(server.received()) == 3


@needs_apprise
def test_a_service_that_does_not_answer_fails_the_sender_not_the_others(tmp_path: Path, server: NoteServer) -> None:
    dead = NoteServer()  # a port nothing listens on any more
    dead_url = dead.url("gone")
    dead.close()
    cfg = _config(tmp_path, f'["{server.url()}", "{dead_url}"]')
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 1
    state = tmp_path / ".coopy"
    _all_sent(state)
    assert sorted(server.titles()) == ["coopy: notes finished: 2 done, 1 failed", "coopy: s/i=1 failed"]
    assert exit_status(state, "notify.failed.s.i=1.2") == 1
    log = (state / "logs" / "hooks" / "notify.failed.s.i=1.2.log").read_text()
    assert "not sent to every service" in log


@needs_apprise
async def test_the_screens_hear_each_note_sent_or_not(
    tmp_path: Path, server: NoteServer, start_engine: EngineFactory
) -> None:
    """What `coopy-tui` shows: a hook's news, one per note, sent or not sent (a service that did not answer)."""
    dead = NoteServer()
    dead_url = dead.url("gone")
    dead.close()
    news: dict[str, list[str]] = {}
    for name, url in (("fine", server.url()), ("dead", dead_url)):
        folder = tmp_path / name
        folder.mkdir()
        heard = news[name] = []

        def hear(event: Event, heard: list[str] = heard) -> None:
            if event.kind == EventKind.MESSAGE and event.data.get("source") == "hook":
                heard.append(event.message)

        engine = await start_engine(_config(folder, f'["{url}"]'), hear)
        assert not await wait_finished(engine)  # finished, with s/i=1 failed
        await wait_until(lambda heard=heard: len(heard) == 2, f"two notes told ({name})")
    assert sorted(news["fine"]) == [
        "notification 'coopy: notes finished: 2 done, 1 failed' sent",
        "notification 'coopy: s/i=1 failed' sent",
    ]
    assert sorted(line.split(" (exit")[0] for line in news["dead"]) == [
        "notification 'coopy: notes finished: 2 done, 1 failed' not sent",
        "notification 'coopy: s/i=1 failed' not sent",
    ]
    assert all("; see " in line and "/hooks/notify." in line for line in news["dead"])


@needs_apprise
def test_a_pipeline_that_passes_says_so(tmp_path: Path, server: NoteServer) -> None:
    """From Python, the same key: `notify=`; no run failed, so the only note is the end's, a success."""
    pipeline = Pipeline(
        "fine",
        notify=[server.url("py")],
        matrix=Matrix(i=[0, 1]),
        stages=[Stage("s", ["true"])],
        state_dir=str(tmp_path / "state"),
        base_dir=tmp_path,
    )
    pipeline.run()
    _all_sent(tmp_path / "state")
    [post] = server.received()
    assert post["title"] == "coopy: fine finished: 2 done" and post["message"] == "2 done"
    assert post["type"] == "success" and post["path"] == "/py"


@needs_apprise
@pytest.mark.parametrize(
    ("notify", "says"),
    [
        ('["json://127.0.0.1:9/x", "foo://bar"]', "pipeline.notify[1]: unknown scheme 'foo://': apprise does not know"),
        ('"mailto://"', "pipeline.notify: apprise cannot use this mailto:// URL"),
        ('["ntfys://topic", " "]', "pipeline.notify[1]: is empty"),
        ('"no scheme"', "pipeline.notify: not an apprise URL"),
        ('"windows://"', "pipeline.notify: apprise cannot send to windows:// here: A local Microsoft Windows"),
    ],
)
def test_a_url_apprise_cannot_use_is_one_line_and_nothing_starts(tmp_path: Path, notify: str, says: str) -> None:
    cfg = _config(tmp_path, notify)
    for verb in ("validate", "run"):
        out = coopy(verb, str(cfg), cwd=tmp_path)
        assert out.returncode == 2, out.stderr
        assert out.stderr.startswith(f"coopy: {cfg}: {says}"), out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert not (tmp_path / ".coopy").exists()  # nothing started, nothing written


HIDDEN = "import sys; sys.modules['apprise'] = None; from coopy_core.cli.launch import main; sys.exit(main())"


def _coopy_without_apprise(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", HIDDEN, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_without_apprise_the_key_says_how_to_install_it(tmp_path: Path) -> None:
    cfg = _config(tmp_path, '["ntfys://my-topic"]')
    out = _coopy_without_apprise("run", str(cfg), cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().endswith(
        "pipeline.notify: sending notifications needs apprise: pip install 'coopy[notify]'"
    )
    assert len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / ".coopy").exists()
    cfg = _config(tmp_path, "[]")  # no URL: apprise is not needed
    assert _coopy_without_apprise("validate", str(cfg), cwd=tmp_path).returncode == 0


def test_apprise_is_imported_only_by_a_config_that_uses_it() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import coopy_core\n"
        "for info in pkgutil.walk_packages(coopy_core.__path__, 'coopy_core.'):\n"
        "    importlib.import_module(info.name)\n"
        "from coopy_core import Matrix, Pipeline, Stage\n"
        "Pipeline(matrix=Matrix(i=[1]), stages=[Stage('s', ['true'])], notify=[])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'apprise'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@needs_apprise
def test_python_names_the_keyword_as_written() -> None:
    with pytest.raises(ConfigError) as caught:
        Pipeline(notify=["ntfys://topic", "foo://bar"], matrix=Matrix(i=[1]), stages=[Stage("s", ["true"])])
    where, _, problem = str(caught.value).partition(": ")
    assert where.rpartition(":")[0].endswith("test_notify_apprise.py"), where  # the file:line of the Pipeline(...)
    assert problem.startswith("notify[1]: unknown scheme 'foo://'"), problem


@needs_apprise
def test_a_stages_own_notify_takes_its_failures(tmp_path: Path, server: NoteServer) -> None:
    """A stage's `notify` replaces the pipeline's for its failures (`[]`: quiet); the end goes to the pipeline's."""
    body = f"""
        [pipeline]
        name = "routes"
        poll_interval = 0.2
        notify = "{server.url("pipeline")}"

        [tasks.matrix]
        i = [0, 1, 2]

        [[stages]]
        name = "a"
        command = ["sh", "-c", "[ $0 != 1 ]", "{{i}}"]
        notify = ["{server.url("stage-a")}"]

        [[stages]]
        name = "b"
        needs = []
        command = ["sh", "-c", "[ $0 != 2 ]", "{{i}}"]
        notify = BAD
        """
    cfg = write_config(tmp_path, body.replace("BAD", '["ntfys://t", "nope://x"]'))
    out = coopy("run", str(cfg), cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.startswith(f"coopy: {cfg}: stages[1].notify[1]: unknown scheme"), out
    assert not (tmp_path / ".coopy").exists()

    cfg = write_config(tmp_path, body.replace("BAD", "[]"))
    assert coopy("run", str(cfg), cwd=tmp_path).returncode == 1
    _all_sent(tmp_path / ".coopy")
    got = sorted((post["path"], post["title"]) for post in server.received())
    assert got == [("/pipeline", "coopy: routes finished: 4 done, 2 failed"), ("/stage-a", "coopy: a/i=1 failed")]
