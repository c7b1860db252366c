"""The state store: SQLite in WAL mode under the state dir, one transaction per transition.

Also the lock that lets one engine, and only one, own a state dir. Readers
(`coopy status`) open the database read-only and never take the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import tempfile
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coopy_core.errors import StateError
from coopy_core.model import NO_DETAILS, MetricRow, Run, RunDetails, RunState
from coopy_core.tasks import Task

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    name TEXT PRIMARY KEY, params TEXT NOT NULL, ord INTEGER NOT NULL, added INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS stages (
    name TEXT PRIMARY KEY, workers INTEGER NOT NULL, config_workers INTEGER NOT NULL, paused INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    task TEXT NOT NULL, stage TEXT NOT NULL, attempt INTEGER NOT NULL, failures INTEGER NOT NULL,
    state TEXT NOT NULL, priority INTEGER NOT NULL, ord INTEGER NOT NULL,
    exit_code INTEGER, reason TEXT NOT NULL, log TEXT NOT NULL,
    started_at REAL, ended_at REAL, not_before REAL, handle TEXT, resources TEXT,
    PRIMARY KEY (task, stage)
);
CREATE TABLE IF NOT EXISTS hooks (id TEXT PRIMARY KEY, state TEXT NOT NULL, spec TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    task TEXT NOT NULL, stage TEXT NOT NULL, attempt INTEGER NOT NULL, state TEXT NOT NULL,
    exit_code INTEGER, reason TEXT NOT NULL, started_at REAL, ended_at REAL, log TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS metrics (
    task TEXT NOT NULL, stage TEXT NOT NULL, name TEXT NOT NULL, attempt INTEGER NOT NULL,
    value REAL NOT NULL, step REAL, series TEXT NOT NULL,
    PRIMARY KEY (task, stage, name)
);
"""

SCHEMA_VERSION = 1  # PRAGMA user_version; 0: a store from before it was set (the same tables, fewer columns)
# every column this version knows: a store with another was written by a newer CooPy, and is not ours to write
KNOWN_COLUMNS = {
    "meta": {"key", "value"},
    "tasks": {"name", "params", "ord", "added"},
    "stages": {"name", "workers", "config_workers", "paused"},
    "runs": {
        "task",
        "stage",
        "attempt",
        "failures",
        "state",
        "priority",
        "ord",
        "exit_code",
        "reason",
        "log",
        "started_at",
        "ended_at",
        "not_before",
        "handle",
        "resources",
        "recipe",
        "signature",
    },  # fmt: skip
    "hooks": {"id", "state", "spec"},
    "files": {"path", "size", "mtime_ns", "hash"},
    "attempts": {"task", "stage", "attempt", "state", "exit_code", "reason", "started_at", "ended_at", "log"},
    "metrics": {"task", "stage", "name", "attempt", "value", "step", "series"},
}

DB_NAME = "state.sqlite"
# commands given while no engine ran (`coopy retry-failed`, `coopy rerun`): a JSON list of {"name", "kwargs"} in
# the meta table, carried out by the next start after it put every run back in place, and emptied in that turn
PENDING_META = "pending_commands"
LOCK_NAME = "engine.lock"
PID_WIDTH = 16  # the lock file's pid, padded: rewritten in place at every start (no new block on a full disk)

# SQLite's result codes that mean the store cannot be written, or read, and why
_WRITE_PROBLEMS = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_READONLY": "it is read-only",
    "SQLITE_IOERR": "an I/O error",
    "SQLITE_CANTOPEN": "it cannot be opened",
    "SQLITE_PERM": "permission denied",
}
_READ_PROBLEMS = {"SQLITE_CORRUPT": "it is damaged", "SQLITE_NOTADB": "it is not a CooPy state store"}


def _full(folder: Path) -> bool:
    """Less than 64 KiB free where the store lives: SQLite says "disk I/O error" when it cannot grow its files."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 65536


def _code(exc: sqlite3.Error) -> str:
    """SQLITE_IOERR_WRITE -> SQLITE_IOERR: the primary result code."""
    return "_".join((getattr(exc, "sqlite_errorname", "") or "").split("_")[:2])


# result codes no wait can cure: the store is damaged, or not what this CooPy wrote (a table or column changed)
_PERMANENT = {
    "SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_CONSTRAINT", "SQLITE_SCHEMA", "SQLITE_MISMATCH", "SQLITE_ERROR",
    "SQLITE_RANGE", "SQLITE_FORMAT",
}  # fmt: skip


def permanent(exc: sqlite3.Error) -> bool:
    """A failed write that trying again will not mend (a full disk, an I/O error, a lock may pass)."""
    return isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError) or _code(exc) in _PERMANENT


def _can_write(folder: Path) -> bool:
    return os.access(folder, os.W_OK)


def store_problem(path: Path | None, exc: sqlite3.Error, doing: str = "write") -> str:
    """One line for a failed SQLite call that names what failed: a full disk is a write failure, never a read one.
    `doing` is what was being done when the error code does not say (read, write, open); "read-only": a reader,
    whose failures are never called writes."""
    base = _code(exc)
    where = f"{path}: " if path is not None else ""
    if base in _WRITE_PROBLEMS and doing == "read-only":  # a reader, which writes nothing, never says "write"
        return f"{where}cannot read the state store: {_WRITE_PROBLEMS[base]} ({exc})"
    if base in _WRITE_PROBLEMS:
        why = "the disk is full" if path is not None and _full(path.parent) else _WRITE_PROBLEMS[base]
        return f"{where}cannot write the state store: {why} ({exc})"
    if base in _READ_PROBLEMS:
        return f"{where}cannot read the state store: {_READ_PROBLEMS[base]} ({exc})"
    return f"{where}cannot {doing} the state store ({exc})"


@dataclass
class StageRow:
    """A stage's runtime settings: its worker cap (and the config's cap when it was written) and its pause."""

    name: str
    workers: int
    config_workers: int
    paused: bool

    def against(self, config_workers: int) -> StageRow:
        """The row as the next start takes it: a cap set at run time (`coopy workers`) is kept while the config's
        cap is the one it was set over; a cap edited in the config since then wins. A pause is always kept."""
        if self.config_workers == config_workers:
            return self
        return StageRow(self.name, config_workers, config_workers, self.paused)


class EngineLock:
    """An flock on `state_dir/engine.lock`; held for the engine's life, released by the kernel on death."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StateError(f"{self.path.parent}: cannot write the state directory ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StateError(
                f"{self.path.parent}: another coopy engine (pid {holder}) is running this pipeline "
                "(watch and steer it with coopy-tui or coopy status; stop it with coopy stop)"
            ) from None
        try:
            text = str(os.getpid()).ljust(PID_WIDTH - 1) + "\n"
            if os.pwrite(fd, text.encode(), 0) != PID_WIDTH:
                raise OSError(28, os.strerror(28))
            os.ftruncate(fd, PID_WIDTH)  # shorter than what was there, or the same: no new block
        except OSError as exc:
            os.close(fd)
            raise StateError(f"{self.path.parent}: cannot write the state directory ({exc.strerror})") from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @staticmethod
    def holder(state_dir: Path) -> int | None:
        """Pid of the live engine owning `state_dir`, or None."""
        path = state_dir / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        finally:
            os.close(fd)
        return None


@contextlib.contextmanager
def _closed_on_failure(conn: sqlite3.Connection) -> Iterator[None]:
    """A store refused while it opens (newer, unreadable) closes its connection now: an unclosed one holds its
    descriptors until the garbage collector happens to run (a connection sits in a reference cycle), so a
    program that opens stores over and over (the Python API, the TUI) would run out of them."""
    try:
        yield
    except BaseException:
        conn.close()
        raise


class Store:
    def __init__(self, state_dir: Path, readonly: bool = False) -> None:
        self.state_dir = state_dir
        self.path = state_dir / DB_NAME
        self._copy: Path | None = None  # a read-only place's store with a write-ahead log, read from a copy
        self._depth = 0
        try:
            self.conn = self._connect_read_only() if readonly else self._connect_for_writing()
        except sqlite3.Error as exc:
            raise StateError(store_problem(self.path, exc, "read-only" if readonly else "open")) from None
        try:
            self._look(readonly)
        except BaseException:
            self.close()
            raise

    def _look(self, readonly: bool) -> None:
        """What this version needs to know of the store it opened (older stores lack columns and tables)."""
        self.conn.execute("PRAGMA busy_timeout=5000")
        try:
            columns = {row[1] for row in self.conn.execute("PRAGMA table_info(runs)")}
        except sqlite3.Error as exc:
            raise StateError(store_problem(self.path, exc, "read-only" if readonly else "read")) from None
        self._extra_columns = ", ".join(c if c in columns else "NULL" for c in ("resources", "recipe", "signature"))
        self._has_metrics = (
            self.conn.execute(  # a read-only look at a store from before metrics has none
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'metrics'"
            ).fetchone()
            is not None
        )

    def _connect_for_writing(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None)
        with _closed_on_failure(conn):
            self._check_version(conn)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
            for column in ("resources", "recipe", "signature"):  # a state dir from before these existed
                if column not in columns:
                    conn.execute(f"ALTER TABLE runs ADD COLUMN {column} TEXT")
            if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return conn

    def _connect_read_only(self) -> sqlite3.Connection:
        """Reading a WAL store needs its -shm file, which SQLite creates beside it: where the state dir cannot be
        written (an archive, a read-only mount), a store with no pending log is opened as immutable, and one
        whose log holds the newest transactions (its engine was killed) is read from a private copy of both."""
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
        try:
            with _closed_on_failure(conn):
                self._check_version(conn)
            return conn
        except sqlite3.OperationalError as exc:
            if _code(exc) not in _WRITE_PROBLEMS or (_can_write(self.state_dir) and not _full(self.path.parent)):
                raise  # not about room or rights: a problem of the store itself
            failed = exc
        wal = self.path.with_name(DB_NAME + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            copy = Path(tempfile.mkdtemp(prefix="coopy-read-"))
            weakref.finalize(self, shutil.rmtree, copy, True)
            try:
                shutil.copyfile(self.path, copy / DB_NAME)
                shutil.copyfile(wal, copy / wal.name)
            except OSError:
                raise failed from None  # no room for the copy either: the first problem is the one to say
            self._copy = copy
            conn = sqlite3.connect(f"file:{copy / DB_NAME}?mode=ro", uri=True, isolation_level=None)
        else:
            conn = sqlite3.connect(f"file:{self.path}?immutable=1", uri=True, isolation_level=None)
        with _closed_on_failure(conn):
            self._check_version(conn)
        return conn

    def _check_version(self, conn: sqlite3.Connection) -> None:
        """A store written by a newer CooPy (a higher schema version, or a column this one does not know) is
        refused in one line, before anything is read or written: that is permanent, not a passing failure."""
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        unknown = sorted(
            f"{table}.{row[1]}"
            for table, known in KNOWN_COLUMNS.items()
            for row in conn.execute(f"PRAGMA table_info({table})")
            if row[1] not in known
        )
        if version > SCHEMA_VERSION or unknown:
            what = f"schema {version}; this one knows up to {SCHEMA_VERSION}" if version > SCHEMA_VERSION else ""
            what = what or f"columns {', '.join(unknown[:3])} are unknown to this version"
            raise StateError(
                f"{self.path}: the state store was written by a newer CooPy ({what}); "
                "run that version, or give this pipeline another state_dir"
            )

    def close(self) -> None:
        self.conn.close()
        if self._copy is not None:
            shutil.rmtree(self._copy, ignore_errors=True)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Nested uses join the outer transaction: one transition, one commit. A failed commit (a full disk)
        rolls back, so the next try starts clean (SQLite may have rolled back already: that is fine)."""
        if self._depth == 0:
            self.conn.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self._rollback()
            raise
        self._depth -= 1
        if self._depth == 0:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("ROLLBACK")

    # -- meta ------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def pending_commands(self) -> list[dict[str, Any]]:
        """The commands given while no engine ran, oldest first (see PENDING_META)."""
        try:
            pending = json.loads(self.get_meta(PENDING_META) or "[]")
        except ValueError:
            return []
        return [c for c in pending if isinstance(c, dict)] if isinstance(pending, list) else []

    def add_pending_command(self, name: str, kwargs: dict[str, Any]) -> None:
        """Append one for the next start (the caller holds the engine lock: no engine reads it meanwhile)."""
        with self.transaction():
            pending = self.pending_commands()
            pending.append({"name": name, "kwargs": kwargs})
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (PENDING_META, json.dumps(pending)))

    # -- tasks -----------------------------------------------------------------------------
    def tasks(self) -> list[tuple[str, dict[str, Any], bool]]:
        rows = self.conn.execute("SELECT name, params, added FROM tasks ORDER BY ord").fetchall()
        return [(name, json.loads(params), bool(added)) for name, params, added in rows]

    def task_names(self) -> list[str]:
        """The stored configurations' names, in order (their params not parsed: a million are)."""
        return [name for (name,) in self.conn.execute("SELECT name FROM tasks ORDER BY ord")]

    def add_tasks(self, tasks: list[tuple[str, dict[str, Any]]], added: bool = False) -> None:
        with self.transaction():
            start = self.conn.execute("SELECT COALESCE(MAX(ord), -1) + 1 FROM tasks").fetchone()[0]
            self.conn.executemany(
                "INSERT OR IGNORE INTO tasks VALUES (?, ?, ?, ?)",
                [(n, json.dumps(p), start + i, int(added)) for i, (n, p) in enumerate(tasks)],
            )

    # -- stages ----------------------------------------------------------------------------
    def stages(self) -> dict[str, StageRow]:
        rows = self.conn.execute("SELECT name, workers, config_workers, paused FROM stages").fetchall()
        return {r[0]: StageRow(r[0], r[1], r[2], bool(r[3])) for r in rows}

    def save_stage(self, row: StageRow) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO stages VALUES (?, ?, ?, ?)",
                (row.name, row.workers, row.config_workers, int(row.paused)),
            )

    # -- runs ------------------------------------------------------------------------------
    def runs(self, state: RunState | None = None, key: tuple[str, str] | None = None) -> list[Run]:
        """The stored runs in enqueue order; only those in `state`, or the one of `key` (stage, task), if given."""
        where = ""
        args: tuple[str, ...] = ()
        if state is not None:
            where, args = " WHERE state = ?", (state.value,)
        elif key is not None:
            where, args = " WHERE stage = ? AND task = ?", key
        rows = self.conn.execute(
            "SELECT task, stage, attempt, failures, state, priority, ord, exit_code, reason, log,"
            f" started_at, ended_at, not_before, handle, {self._extra_columns} FROM runs{where} ORDER BY ord",
            args,
        ).fetchall()
        out = []
        for r in rows:
            state = _STATES.get(r[4])
            if state is None:
                continue  # written by a newer CooPy: not ours to interpret
            details = RunDetails(
                r[3],  # failures
                r[7],  # exit_code
                r[8],  # reason
                r[9],  # log
                r[10],  # started_at
                r[11],  # ended_at
                r[12],  # not_before
                json.loads(r[13]) if r[13] else None,  # handle
                json.loads(r[14]) if r[14] else None,  # resources
                r[15],  # recipe
                r[16],  # signature
            )
            out.append(Run.restored(r[1], r[0], state, r[2], r[5], r[6], None if details == NO_DETAILS else details))
        return out

    def run_states(self) -> dict[str, dict[str, RunState]]:
        """Each stored run's state, per stage then task, and nothing else of it (what the results table needs;
        no key tuple per run: a million are read)."""
        out: dict[str, dict[str, RunState]] = {}
        for task, stage, state in self.conn.execute("SELECT task, stage, state FROM runs"):
            value = _STATES.get(state)
            if value is not None:  # written by a newer CooPy: not ours to interpret
                out.setdefault(stage, {})[task] = value
        return out

    def write(self, batch: Batch) -> None:
        """Everything one turn of the engine changed, in one transaction (raises sqlite3.Error)."""
        with self.transaction():
            if batch.tasks:
                start = self.conn.execute("SELECT COALESCE(MAX(ord), -1) + 1 FROM tasks").fetchone()[0]
                self.conn.executemany(
                    "INSERT OR IGNORE INTO tasks VALUES (?, ?, ?, ?)",
                    (  # params as JSON as written: a million configurations' dicts are never held at once
                        (t.name, json.dumps(t.params), start + i, int(a)) for i, (t, a) in enumerate(batch.tasks)
                    ),
                )
            if batch.runs:
                self.conn.executemany(
                    "INSERT OR REPLACE INTO runs (task, stage, attempt, failures, state, priority, ord, exit_code,"
                    " reason, log, started_at, ended_at, not_before, handle, resources, recipe, signature)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    map(_run_row, batch.runs.values()),  # rows made as written: 100,000 are never held at once
                )
            if batch.files:
                self.conn.executemany(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
                    [(p, size, mtime, h) for p, (size, mtime, h) in batch.files.items()],
                )
            if batch.tasks_changed:
                self.conn.executemany(
                    "UPDATE tasks SET params = ? WHERE name = ?",
                    [(json.dumps(params), name) for name, params in batch.tasks_changed.items()],
                )
            if batch.attempts:
                self.conn.executemany("INSERT INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch.attempts)
            if batch.hooks:
                self.conn.executemany(
                    "INSERT OR IGNORE INTO hooks VALUES (?, 'pending', ?)",
                    [(hook_id, json.dumps(spec)) for hook_id, spec in batch.hooks],
                )
            if batch.hook_states:
                self.conn.executemany(
                    "UPDATE hooks SET state = ? WHERE id = ?", [(st, hid) for hid, st in batch.hook_states.items()]
                )
            if batch.meta:
                self.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(batch.meta.items()))
            if batch.metrics:  # one attempt's numbers replace an earlier attempt's (see metrics.py)
                self.conn.executemany(
                    "DELETE FROM metrics WHERE task = ? AND stage = ? AND attempt < ?", list(batch.metric_attempts)
                )
                self.conn.executemany(
                    "INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (task, stage, name) DO UPDATE SET"
                    " attempt = excluded.attempt, value = excluded.value, step = excluded.step,"
                    " series = excluded.series",  # an update keeps the row's place: names stay in first-seen order
                    [row.as_row() for row in batch.metrics.values()],
                )
            if batch.stages:
                self.conn.executemany(
                    "INSERT OR REPLACE INTO stages VALUES (?, ?, ?, ?)",
                    [(r.name, r.workers, r.config_workers, int(r.paused)) for r in batch.stages.values()],
                )
        for run in batch.runs.values():
            run.stored = True

    # -- hooks -----------------------------------------------------------------------------
    def pending_hooks(self) -> list[tuple[str, dict[str, Any]]]:
        rows = self.conn.execute("SELECT id, spec FROM hooks WHERE state = 'pending' ORDER BY rowid").fetchall()
        return [(hook_id, json.loads(spec)) for hook_id, spec in rows]

    def count_hooks(self, prefix: str) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM hooks WHERE id LIKE ?", (prefix + "%",)).fetchone()[0])

    def file_hashes(self) -> dict[str, tuple[int, int, str]]:
        try:
            rows = self.conn.execute("SELECT path, size, mtime_ns, hash FROM files").fetchall()
        except sqlite3.Error:  # a read-only store from before the cache existed
            return {}
        return {p: (size, mtime, h) for p, size, mtime, h in rows}

    # -- metrics ---------------------------------------------------------------------------
    def metric_values(self) -> list[tuple[str, str, str, int, float]]:
        """(task, stage, name, attempt, last value) of every metric stored."""
        if not self._has_metrics:
            return []
        return self.conn.execute("SELECT task, stage, name, attempt, value FROM metrics ORDER BY rowid").fetchall()

    def metric_series(self, stage: str | None = None, task: str | None = None) -> list[tuple[Any, ...]]:
        """(task, stage, name, attempt, value, step, [[step, value], ...]) of one run's metrics, or all."""
        if not self._has_metrics:
            return []
        query = "SELECT task, stage, name, attempt, value, step, series FROM metrics"
        args: tuple[str, ...] = ()
        if stage is not None and task is not None:
            query += " WHERE stage = ? AND task = ?"
            args = (stage, task)
        rows = self.conn.execute(query + " ORDER BY rowid", args).fetchall()
        return [(*r[:6], json.loads(r[6])) for r in rows]

    def attempts(self) -> list[tuple[Any, ...]]:
        return self.conn.execute(
            "SELECT task, stage, attempt, state, exit_code, reason, started_at, ended_at, log FROM attempts"
            " ORDER BY rowid"
        ).fetchall()

    def passed_last(self, runs: Iterable[Run]) -> set[tuple[str, str]]:
        """Of these runs, the keys of those whose current attempt ended done."""
        wanted = {(r.name, r.stage, r.attempt): r.key for r in runs}
        if not wanted:
            return set()
        rows = self.conn.execute("SELECT task, stage, attempt FROM attempts WHERE state = ?", (RunState.DONE.value,))
        return {wanted[row] for row in rows if row in wanted}

    def attempts_of(self, stage: str, task: str | None = None) -> list[tuple[Any, ...]]:
        """The attempts of one stage (of one of its runs), oldest first, as `attempts()` gives them."""
        where, args = ("stage = ? AND task = ?", (stage, task)) if task is not None else ("stage = ?", (stage,))
        return self.conn.execute(
            "SELECT task, stage, attempt, state, exit_code, reason, started_at, ended_at, log FROM attempts"
            f" WHERE {where} ORDER BY rowid",
            args,
        ).fetchall()


@dataclass
class Batch:
    """Writes waiting for the next commit. Runs are the live records: a commit retried after a failure
    writes their latest values."""

    runs: dict[tuple[str, str], Run] = field(default_factory=dict)
    attempts: list[tuple[Any, ...]] = field(default_factory=list)
    hooks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    hook_states: dict[str, str] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    stages: dict[str, StageRow] = field(default_factory=dict)
    tasks: list[tuple[Task, bool]] = field(default_factory=list)  # (configuration, added at run time)
    tasks_changed: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # a named configuration's new params
    files: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # the file-hash cache
    metrics: dict[tuple[str, str, str], MetricRow] = field(default_factory=dict)  # (task, stage, name)
    metric_attempts: set[tuple[str, str, int]] = field(default_factory=set)  # (task, stage, attempt)

    def __bool__(self) -> bool:
        return bool(
            self.runs
            or self.attempts
            or self.hooks
            or self.hook_states
            or self.meta
            or self.stages
            or self.tasks
            or self.tasks_changed
            or self.files
            or self.metrics
        )


def attempt_row(run: Run, state: RunState, exit_code: int | None, reason: str, ended_at: float) -> tuple[Any, ...]:
    return (run.name, run.stage, run.attempt, state.value, exit_code, reason, run.started_at, ended_at, run.log)


_STATES = {s.value: s for s in RunState}  # a stored state's text -> the state (absent: a newer CooPy's)


def _run_row(r: Run) -> tuple[Any, ...]:
    d = r.details or NO_DETAILS  # read once: a start writes a million rows
    return (
        r.name,
        r.stage,
        r.attempt,
        d.failures,
        r.state,  # a StrEnum: stored as its text
        r.priority,
        r.order,
        d.exit_code,
        d.reason,
        d.log,
        d.started_at,
        d.ended_at,
        d.not_before,
        json.dumps(d.handle) if d.handle is not None else None,
        json.dumps(d.resources) if d.resources else None,
        d.recipe,
        d.signature,
    )
