"""What made a run's result: its recipe, and the signature (a hash of the recipe).

A recipe holds what the config says the run is — the command as the Scripter renders it (argv, the env
the config sets, cwd, shell, executor options), the params it is over — and what it is made from: the
results of the runs it needs (each one's signature and attempt: a run that ran again is a new result),
the content of its declared `inputs` and of its stage's `code` files. The engine records the recipe of
every attempt it starts; a run is current when its recipe is what the config would make now and its
outputs are there. Comparing two recipes also says why a run must run again (`explain`).

File contents are hashed once per (path, size, mtime_ns): an unchanged input of gigabytes is not read
again, and a `touch` that changes nothing re-runs nothing.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coopy_core.config import Config
from coopy_core.plan.difference import difference
from coopy_core.plan.interpreter import normalised_command
from coopy_core.scripter import Launch, Scripter
from coopy_core.tasks import Task

MISSING = "missing"
SCRIPTER_FAILED = "scripter-failed"  # the signature of an attempt whose command could not be made
MAX_LISTED = 200  # upstream runs or files named one by one in a recipe; beyond, one combined hash
ENGINE_ENV = ("COOPY_TASK", "COOPY_STAGE", "COOPY_ATTEMPT")  # set by CooPy, not by the config
EXECUTOR_KEYS = ("executor", "shell", "slurm", "ray")


@dataclass(frozen=True)
class Recipe:
    command: dict[str, Any]
    params: dict[str, Any]
    upstream: dict[str, str] = field(default_factory=dict)  # "stage/run" -> "signature/attempt"
    inputs: dict[str, str] = field(default_factory=dict)  # path -> content hash (or "missing")
    code: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "command": self.command,
                "params": self.params,
                "upstream": self.upstream,
                "inputs": self.inputs,
                "code": self.code,
            },
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )

    @property
    def signature(self) -> str:
        return hashlib.blake2b(self.to_json().encode(), digest_size=16).hexdigest()

    @classmethod
    def from_json(cls, text: str | None) -> Recipe | None:
        """A stored recipe, with this interpreter spelled as recipes spell it now (a store written before
        that, or by another entry point of the same venv, keeps its meaning)."""
        if not text:
            return None
        try:
            data = json.loads(text)
            command = normalised_command(data["command"])
            return cls(command, data["params"], data["upstream"], data["inputs"], data["code"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def result_id(signature: str | None, attempt: int) -> str:
    """What a run's consumers were made from: its recipe and which attempt produced the result."""
    return f"{(signature or '')[:16]}/{attempt}"


def explain(old: Recipe, new: Recipe) -> tuple[str, str] | None:
    """(category, one line) naming the first difference, in the order a person would look; None if equal."""
    if old.params != new.params:
        for key in sorted(set(old.params) | set(new.params)):
            before, after = old.params.get(key, "(none)"), new.params.get(key, "(none)")
            if before != after:
                if _scalar(before) and _scalar(after):
                    return "params changed", f"param {key}: {before} → {after}"
                return "params changed", difference(before, after, f"param {key}")
    if old.code != new.code:
        return "code changed", _files_changed(old.code, new.code)
    if old.inputs != new.inputs:
        return "input changed", _files_changed(old.inputs, new.inputs)
    if old.command != new.command:
        keys = [k for k in sorted(set(old.command) | set(new.command)) if old.command.get(k) != new.command.get(k)]
        what = {"argv": "the command", "env": "its env", "cwd": "its working directory"}
        where = "argv" if keys[0] == "argv" else ""
        change = difference(old.command.get(keys[0]), new.command.get(keys[0]), where)
        return "command changed", f"{what.get(keys[0], keys[0])} changed: {change}"
    if old.upstream != new.upstream:
        changed = [k for k in new.upstream if old.upstream.get(k) != new.upstream[k]]
        gone = [k for k in old.upstream if k not in new.upstream]
        name = (changed or gone or ["?"])[0]
        return "upstream re-ran", f"upstream {name} re-ran" if changed else f"it no longer needs {name}"
    return None


def _files_changed(old: Mapping[str, str], new: Mapping[str, str]) -> str:
    for path in sorted(set(old) | set(new)):
        before, after = old.get(path), new.get(path)
        if before == after:
            continue
        if before is None or before == MISSING and after != MISSING:
            return f"{path} appeared" if before == MISSING else f"{path} added"
        if after is None:
            return f"{path} no longer listed"
        if after == MISSING:
            return f"{path} missing"
        return f"{path} changed"
    return "files changed"


def _scalar(value: Any) -> bool:
    """Shown as it is: a number, a boolean, or a short string without spaces (`lr: 0.1 → 0.01`)."""
    if isinstance(value, str):
        return len(value) <= 60 and value.strip() == value and " " not in value and bool(value)
    return isinstance(value, int | float | bool) or value is None


class FileHashes:
    """Content hashes of files by (path, size, mtime_ns); `changed` is what to store for next time."""

    def __init__(self, known: Mapping[str, tuple[int, int, str]] | None = None) -> None:
        self.known: dict[str, tuple[int, int, str]] = dict(known or {})
        self.changed: dict[str, tuple[int, int, str]] = {}
        self.reads = 0  # files actually read (for tests and the benchmark)

    def of(self, path: Path) -> str:
        try:
            st = os.stat(path)
        except OSError:
            return MISSING
        if os.path.isdir(path):
            return self._directory(path)
        key = str(path)
        hit = self.known.get(key)
        if hit is not None and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return hit[2]
        digest = _file_digest(path)
        if digest == MISSING:
            return MISSING
        self.reads += 1
        entry = (st.st_size, st.st_mtime_ns, digest)
        self.known[key] = entry
        self.changed[key] = entry
        return digest

    def _directory(self, path: Path) -> str:
        h = hashlib.blake2b(digest_size=16)
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = Path(root) / name
                h.update(f"{full.relative_to(path)}\0{self.of(full)}\0".encode())
        return "dir:" + h.hexdigest()


def _file_digest(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=16)).hexdigest()
    except OSError:
        return MISSING


def _listed(items: dict[str, str]) -> dict[str, str]:
    """At most MAX_LISTED entries by name; more become one combined hash (a fan-in over 10,000 runs)."""
    if len(items) <= MAX_LISTED:
        return items
    h = hashlib.blake2b(digest_size=16)
    for k in sorted(items):
        h.update(f"{k}\0{items[k]}\0".encode())
    return {f"({len(items)} entries)": h.hexdigest()}


class Recipes:
    """Makes the recipe of a run the way the config says it is now."""

    def __init__(self, config: Config, scripters: Mapping[str, Scripter], hashes: FileHashes) -> None:
        self.config = config
        self.scripters = scripters
        self.hashes = hashes
        self._code: dict[str, dict[str, str]] = {}

    def make(
        self,
        stage: str,
        task: Task,
        params: Mapping[str, Any],
        upstream: Iterable[tuple[str, str]],
        launch: Launch | None = None,
    ) -> Recipe:
        """`launch`: the Scripter's answer for attempt 1 if the caller has it (a Scripter is asked once)."""
        cfg = self.config.stage(stage)
        scripter = self.scripters[stage]
        if launch is None:
            launch = scripter.script(task, 1)  # attempt 1: what the config says, whichever attempt this is
        command = normalised_command(
            {
                "argv": list(launch.argv),
                "env": {k: v for k, v in sorted(launch.env.items()) if k not in ENGINE_ENV},
                "cwd": _relative(launch.cwd, self.config.base_dir),
            }
        )
        for key in EXECUTOR_KEYS:
            value = getattr(cfg, key, None)
            if value is not None and value is not False and value != "local":
                command[key] = value.model_dump() if hasattr(value, "model_dump") else value
        inputs: dict[str, str] = {}
        if cfg.inputs:
            for path in scripter.inputs(task, 1):
                inputs[path] = self.hashes.of(launch.cwd / path)
        return Recipe(
            command=command,
            params=dict(params),
            upstream=_listed(dict(upstream)),
            inputs=_listed(inputs),
            code=self._code_of(stage),
        )

    def new_turn(self) -> None:
        """The code files are looked at again from now on (once per engine turn, or per `coopy plan`)."""
        self._code.clear()

    def _code_of(self, stage: str) -> dict[str, str]:
        """The stage's `code` files (globs relative to the config's folder), each by its content; globbed
        once per turn (a judge of every run at start-up, or one dispatch), not once per run."""
        cached = self._code.get(stage)
        if cached is not None:
            return cached
        self._code[stage] = found = self._code_files(stage)
        return found

    def _code_files(self, stage: str) -> dict[str, str]:
        found: dict[str, str] = {}
        base = self.config.base_dir
        for pattern in self.config.stage(stage).code:
            matches = sorted(glob.glob(pattern, root_dir=base, recursive=True))
            if not matches and not glob.has_magic(pattern):
                found[pattern] = MISSING
            for rel in matches:
                found[rel] = self.hashes.of(base / rel)
        return _listed(found)


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)
