"""Configurations: named ones plus the cartesian product of a matrix, with stable readable names."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence

from coopy_core.templates import BUILTIN_PLACEHOLDERS as RESERVED_PARAMS

MAX_NAME = 200
_UNSAFE = re.compile(r"[^A-Za-z0-9._+@-]+")
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=,@-]*$")

ParamValue = str | int | float | bool


class TaskError(ValueError):
    """A problem in `[tasks]`; `key` is where, below `tasks` (e.g. `exclude[0].seed`)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple per distinct list of param names, shared


class Task:
    """A configuration; or, for a stage over fewer params, a group of them: the group's name and params,
    and its `members` (the configurations it runs over, in config order).

    Held a million at a time, so its params are kept as one values tuple beside a shared tuple of names
    (~120 B a configuration instead of ~240 for a dict); `params` makes a dict of them when asked.
    """

    __slots__ = ("name", "names", "values", "members")

    def __init__(self, name: str, params: Mapping[str, ParamValue] | None = None, members: tuple[Task, ...] = ()):
        params = params or {}
        self.name = name
        self.names = shared_names(tuple(params))
        self.values: tuple[ParamValue, ...] = tuple(params.values())
        self.members = members

    @classmethod
    def of(cls, name: str, names: tuple[str, ...], values: tuple[ParamValue, ...]) -> Task:
        """A configuration from names already shared (`shared_names`) and its values (a matrix's fast path)."""
        task = cls.__new__(cls)
        task.name, task.names, task.values, task.members = name, names, values, ()
        return task

    @property
    def params(self) -> dict[str, ParamValue]:
        """A new dict each time: changing it changes no configuration."""
        return dict(zip(self.names, self.values, strict=True))

    def param(self, key: str, default: ParamValue | None = None) -> ParamValue | None:
        try:
            return self.values[self.names.index(key)]
        except ValueError:
            return default

    @property
    def configurations(self) -> tuple[Task, ...]:
        """The configurations this run is over: its members, or itself."""
        return self.members or (self,)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Task):
            return NotImplemented
        return (self.name, self.params, self.members) == (other.name, other.params, other.members)

    __hash__ = None  # type: ignore[assignment]  # as the frozen dataclass with a params dict it replaces

    def __repr__(self) -> str:
        return f"Task(name={self.name!r}, params={self.params!r}, members={self.members!r})"

    def __reduce__(self) -> tuple[type[Task], tuple[str, dict[str, ParamValue], tuple[Task, ...]]]:
        return (Task, (self.name, self.params, self.members))


def shared_names(names: tuple[str, ...]) -> tuple[str, ...]:
    return _KEYS.setdefault(names, names)


def task_name(params: Mapping[str, ParamValue]) -> str:
    """`model=small,seed=1`: readable, stable across runs, safe as a file name."""
    if not params:
        return "default"
    return ",".join(name_part(key, value) for key, value in params.items())


def valid_task_name(name: str) -> bool:
    """One safe path component: no "/", never "." or ".." (it starts with a letter or digit), so
    "v=..-etc" (what `coopy add v=../etc` derives, as the matrix does) is fine."""
    return bool(_NAME_OK.fullmatch(name)) and len(name) <= MAX_NAME  # fullmatch: `$` would allow a final newline


def common_params(tasks: Sequence[Task]) -> set[str]:
    """The params every configuration has (a set made per distinct list of keys, not per configuration)."""
    shapes = {t.names for t in tasks}
    return set.intersection(*(set(shape) for shape in shapes)) if shapes else set()


def name_part(key: str, value: ParamValue) -> str:
    """One param's part of a configuration's name: `seed=1`."""
    return f"{key}={_safe(value)}"


def _safe(value: ParamValue) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    text = _UNSAFE.sub("-", text).strip("-") or "_"
    return text


def matrix_size(matrix: Mapping[str, Sequence[ParamValue]]) -> int:
    """How many configurations the matrix makes before `exclude` (nothing is expanded to count them)."""
    return math.prod(len(v) for v in matrix.values()) if matrix else 0


def expand_tasks(
    matrix: Mapping[str, Sequence[ParamValue]],
    exclude: Sequence[Mapping[str, ParamValue]],
    named: Mapping[str, Mapping[str, ParamValue]],
) -> list[Task]:
    """Named configurations first, then the matrix in the order its keys and values are written."""
    for i, rule in enumerate(exclude):
        for key in rule:
            if key not in matrix:
                raise TaskError(f"exclude[{i}].{key}", f"{key!r} is not a matrix parameter")
    for key in matrix:
        if not key.isidentifier():  # it is part of every derived name, so of log and status file names
            raise TaskError(f"matrix.{key}", f"parameter name {key!r} should be a plain name (letters, digits and _)")
        if key in RESERVED_PARAMS:
            raise TaskError(f"matrix.{key}", f"parameter name {key!r} is reserved for the built-in placeholder")
    tasks: list[Task] = []
    seen: dict[str, str] = {}
    for name, params in named.items():
        if not valid_task_name(name):
            raise TaskError(f"named.{name}", f"{name!r} is not a valid task name (letters, digits and . _ + = , @ -)")
        for key in params:
            if key in RESERVED_PARAMS:
                raise TaskError(
                    f"named.{name}.{key}", f"parameter name {key!r} is reserved for the built-in placeholder"
                )
        tasks.append(Task(name, dict(params)))
        seen[name] = f"named.{name}"
    if matrix:
        keys = list(matrix)
        # Each value's part of a name (`seed=1`) made once, not once per configuration it is in. When every
        # key's parts are distinct and the longest name fits, no two names can clash and none is too long:
        # then only the named configurations are looked up (a million names are not held twice).
        parts = [[name_part(key, value) for value in matrix[key]] for key in keys]
        longest = sum(max(map(len, p), default=0) for p in parts) + len(keys) - 1
        checked = any(len(set(p)) != len(p) for p in parts) or longest > MAX_NAME
        combos = itertools.product(*(matrix[k] for k in keys))
        shared = shared_names(tuple(keys))
        for combo, names in zip(combos, itertools.product(*parts), strict=True):
            if exclude and any(all(combo[keys.index(k)] == v for k, v in rule.items()) for rule in exclude):
                continue
            name = ",".join(names)
            if checked and len(name) > MAX_NAME:  # it names log and status files: well under the file system's 255
                raise TaskError(
                    "matrix",
                    f"the derived name {name[:40]!r}... is {len(name)} characters (at most {MAX_NAME}); "
                    "use shorter values or [tasks.named]",
                )
            if name in seen:
                params = dict(zip(keys, combo, strict=True))
                raise TaskError(
                    "matrix",
                    f"two configurations get the name {name!r} ({seen[name]} and matrix {params}); "
                    "give them distinct values or use [tasks.named]",
                )
            if checked:
                seen[name] = "matrix"
            tasks.append(Task.of(name, shared, combo))
    return tasks
