"""The pipeline as a graph of runs: stages, what they need, which params identify their runs; readiness.

Pure logic: no I/O, no clock, nothing of the engine. The engine keeps one `Graph` (which runs exist,
their members, what each needs) and one `Readiness` (which runs may start, which wait, which are
blocked) and tells the latter whenever a run passes, stops for good or opens again; it answers with
what that changed.

A stage's runs are identified by its `over` params: `None` (the default) is one run per configuration,
named after it; a subset is one run per distinct combination of those params (a *group*, named like
`dataset=wine,seed=0`), and `()` is one run for the whole pipeline, named `all`. A group's *members*
are the configurations with its values, in config order.

The readiness rule: a run of stage S for group g is ready when, for every stage N in S's needs, every
N-run covering a member of g has passed (done or skipped). That is fan-in when N is finer than S (many
N-runs), fan-out when N is coarser (one). A run waiting on a run that failed for good, was cancelled or
is itself blocked is *blocked*; unless its stage has `allow_failed`, which makes it ready once nothing
it needs is still open, over the members whose needs all passed (blocked when there are none).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from coopy_core.tasks import Task, task_name

RunKey = tuple[str, str]  # (stage, run name)
ALL = "all"  # the name of the one run of a stage with `over = []`


class GraphError(ValueError):
    """The stages do not form a graph the engine can run; `stage` is the index of the stage at fault."""

    def __init__(self, stage: int, key: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage
        self.key = key


@dataclass(frozen=True, slots=True)
class StageNode:
    name: str
    needs: tuple[str, ...] = ()
    over: tuple[str, ...] | None = None  # None: one run per configuration
    allow_failed: bool = False
    per_member: bool = False  # reads something of each member (its `inputs`): a new member changes its result


def resolve_needs(names: Sequence[str], needs: Sequence[Sequence[str] | None]) -> list[tuple[str, ...]]:
    """Each stage's needs, the default filled in (the stage before it in the file; the first needs none),
    checked: known names, no duplicates, no stage needing itself, no cycle. Raises GraphError."""
    index = {name: i for i, name in enumerate(names)}
    resolved: list[tuple[str, ...]] = []
    for i, given in enumerate(needs):
        if given is None:
            resolved.append((names[i - 1],) if i else ())
            continue
        seen: set[str] = set()
        for need in given:
            if need == names[i]:
                raise GraphError(i, "needs", f"stage {need!r} cannot need itself")
            if need not in index:
                raise GraphError(i, "needs", f"no stage named {need!r} (stages: {', '.join(names)})")
            if need in seen:
                raise GraphError(i, "needs", f"{need!r} is listed twice")
            seen.add(need)
        resolved.append(tuple(given))
    order = topological_order(names, resolved)
    if len(order) < len(names):
        in_cycle = _cycle(names, resolved)  # each needs the next
        start = min(range(len(in_cycle)), key=lambda j: index[in_cycle[j]])
        in_cycle = in_cycle[start:] + in_cycle[:start]
        first = index[in_cycle[0]]
        path = " -> ".join([*in_cycle, in_cycle[0]])
        raise GraphError(first, "needs", f"the stages' needs form a cycle: {path}")
    return resolved


def topological_order(names: Sequence[str], needs: Sequence[Sequence[str]]) -> list[str]:
    """Stages with every need before them, ties in file order (stages in a cycle are left out)."""
    waiting = {name: set(n) for name, n in zip(names, needs, strict=True)}
    order: list[str] = []
    done: set[str] = set()
    progress = True
    while progress:
        progress = False
        for name in names:
            if name not in done and waiting[name] <= done:
                order.append(name)
                done.add(name)
                progress = True
    return order


def _cycle(names: Sequence[str], needs: Sequence[Sequence[str]]) -> list[str]:
    graph = dict(zip(names, needs, strict=True))
    for start in names:
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(graph[start]))]
        path.append(start)
        on_path.add(start)
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                on_path.discard(node)
            elif child in on_path:
                return path[path.index(child) :]
            elif len(path) <= len(names):
                stack.append((child, iter(graph[child])))
                path.append(child)
                on_path.add(child)
    return list(names)


@dataclass(slots=True)
class _Groups:
    """A group stage's runs: group name -> members, and each configuration's group."""

    members: dict[str, list[str]] = field(default_factory=dict)
    params: dict[str, dict[str, object]] = field(default_factory=dict)
    of: dict[str, str] = field(default_factory=dict)  # task -> group
    by_key: dict[tuple[object, ...], str] = field(default_factory=dict)


class Graph:
    """Which runs exist, who their members are, and what each needs (from the stages and the tasks)."""

    def __init__(self, stages: Sequence[StageNode], tasks: Iterable[Task] = ()) -> None:
        self.nodes: dict[str, StageNode] = {s.name: s for s in stages}
        self.stage_names: list[str] = [s.name for s in stages]
        self.order: list[str] = topological_order(self.stage_names, [s.needs for s in stages])
        self.consumer_stages: dict[str, list[str]] = {
            name: [s.name for s in stages if name in s.needs] for name in self.stage_names
        }
        self.tasks: dict[str, Task] = {}
        self._groups: dict[str, _Groups] = {s.name: _Groups() for s in stages if s.over is not None}
        for task in tasks:
            self.add_task(task)

    # ------------------------------------------------------------------ building
    def check_task(self, task: Task) -> None:
        """Raise ValueError if `task` cannot join (a param some stage is over is missing, or its group's
        name would be taken by another group)."""
        for name, groups in self._groups.items():
            over = self.nodes[name].over or ()
            missing = [p for p in over if p not in task.names]
            if missing:
                raise ValueError(f"stage {name!r} is over {', '.join(over)}: {task.name!r} has no {missing[0]!r}")
            key = tuple(task.param(p) for p in over)
            group = group_name(dict(zip(over, key, strict=True)))
            known = groups.by_key.get(key)
            if known is None and group in groups.members:
                raise ValueError(f"stage {name!r}: two groups would be named {group!r}; give them distinct values")

    def add_task(self, task: Task) -> list[RunKey]:
        """Add a configuration; returns the run of every stage it is now a member of."""
        if task.name in self.tasks:
            raise ValueError(f"a configuration named {task.name!r} already exists")
        self.check_task(task)
        self.tasks[task.name] = task
        runs: list[RunKey] = []
        for name in self.stage_names:
            groups = self._groups.get(name)
            if groups is None:
                runs.append((name, task.name))
                continue
            over = self.nodes[name].over or ()
            key = tuple(task.param(p) for p in over)
            group = groups.by_key.get(key)
            if group is None:
                params: dict[str, object] = dict(zip(over, key, strict=True))
                group = group_name(params)
                groups.by_key[key] = group
                groups.members[group] = []
                groups.params[group] = params
            groups.members[group].append(task.name)
            groups.of[task.name] = group
            runs.append((name, group))
        return runs

    # ------------------------------------------------------------------ queries
    def is_group(self, stage: str) -> bool:
        return stage in self._groups

    def runs(self, stage: str) -> list[str]:
        """The stage's run names, in the order of their first member."""
        groups = self._groups.get(stage)
        return list(groups.members) if groups is not None else list(self.tasks)

    def run_count(self, stage: str) -> int:
        groups = self._groups.get(stage)
        return len(groups.members) if groups is not None else len(self.tasks)

    def all_runs(self) -> Iterator[RunKey]:
        for stage in self.stage_names:
            for run in self.runs(stage):
                yield (stage, run)

    def exists(self, key: RunKey) -> bool:
        stage, run = key
        groups = self._groups.get(stage)
        if groups is not None:
            return run in groups.members
        return stage in self.nodes and run in self.tasks

    def members(self, key: RunKey) -> list[str]:
        stage, run = key
        groups = self._groups.get(stage)
        return list(groups.members[run]) if groups is not None else [run]

    def member_count(self, key: RunKey) -> int:
        stage, run = key
        groups = self._groups.get(stage)
        if groups is None:
            return 1
        return len(groups.members.get(run, ()))  # 0: a group whose configurations were all removed

    def params(self, key: RunKey) -> dict[str, object]:
        """The params a run is over (all of its configuration's for a per-configuration run)."""
        stage, run = key
        groups = self._groups.get(stage)
        return dict(groups.params[run]) if groups is not None else dict(self.tasks[run].params)

    def run_of(self, stage: str, task: str) -> RunKey:
        """The run of `stage` that configuration `task` is a member of."""
        groups = self._groups.get(stage)
        return (stage, groups.of[task] if groups is not None else task)

    def existing_group(self, stage: str, task: Task) -> RunKey | None:
        """The run of group stage `stage` that `task` would join, if it exists already."""
        groups = self._groups.get(stage)
        if groups is None:
            return None
        group = groups.by_key.get(tuple(task.param(p) for p in self.nodes[stage].over or ()))
        return (stage, group) if group is not None else None

    def needed(self, key: RunKey) -> list[RunKey]:
        """The runs `key` waits for, each once, in stage then member order."""
        stage, run = key
        needs = self.nodes[stage].needs
        if not needs:
            return []
        members = self.members(key)
        out: list[RunKey] = []
        for need in needs:
            groups = self._groups.get(need)
            if groups is None:
                out.extend((need, m) for m in members)
            else:
                seen: dict[str, None] = {}
                for m in members:
                    seen.setdefault(groups.of[m], None)
                out.extend((need, g) for g in seen)
        return out

    def member_needs(self, key: RunKey, member: str) -> list[RunKey]:
        """The runs one member of `key` needs (for `allow_failed`: is that member usable?)."""
        return [self.run_of(need, member) for need in self.nodes[key[0]].needs]

    def consumers(self, key: RunKey) -> list[RunKey]:
        """The runs that need `key`, each once."""
        stage, _run = key
        users = self.consumer_stages[stage]
        if not users:
            return []
        members = self.members(key)
        out: list[RunKey] = []
        for user in users:
            groups = self._groups.get(user)
            if groups is None:
                out.extend((user, m) for m in members)
            else:
                seen: dict[str, None] = {}
                for m in members:
                    seen.setdefault(groups.of[m], None)
                out.extend((user, g) for g in seen)
        return out


def group_name(params: Mapping[str, object]) -> str:
    """`dataset=wine,seed=0`; `all` for a group over no params."""
    return task_name(params) if params else ALL  # type: ignore[arg-type]


class Progress(enum.Enum):
    """What a run's state means to the runs that need it."""

    OPEN = "open"  # waiting, queued or running: may still pass
    PASSED = "passed"  # done or skipped
    STOPPED = "stopped"  # failed for good, cancelled, or blocked


Change = str  # "ready" | "blocked" | "unblocked" | "unready" | "reset" | "joined"


@dataclass
class Changes:
    """What one call to `Readiness` changed, in the order it happened (apply them in that order).

    ready: may start now. blocked: will not start unless something is retried. unblocked: waits again
    (followed by `ready` when it may start). unready: could start, must wait again (a need re-opened).
    reset: had passed, must run again (a need re-opened). joined: an open run a new member changes
    (a running one must run again once it ends).
    """

    items: list[tuple[Change, RunKey]] = field(default_factory=list)

    def add(self, change: Change, key: RunKey) -> None:
        self.items.append((change, key))

    def of(self, change: Change) -> list[RunKey]:
        return [key for c, key in self.items if c == change]

    ready = property(lambda self: self.of("ready"))
    blocked = property(lambda self: self.of("blocked"))
    unblocked = property(lambda self: self.of("unblocked"))
    unready = property(lambda self: self.of("unready"))
    reset = property(lambda self: self.of("reset"))
    joined = property(lambda self: self.of("joined"))

    def __bool__(self) -> bool:
        return bool(self.items)


class Readiness:
    """Per run: how many of the runs it needs are still open, and how many stopped; which may start.

    Runs not told otherwise are OPEN. Counts are kept only for group runs (a fan-in waits for many), and only
    where they are not zero; a configuration's run needs one run of each stage it needs, so its counts are
    read from those few runs when asked (a million waiting runs hold no count). For every open run
    the last verdict given (ready, waiting, blocked) is kept, so a change is reported exactly once and
    never judged against a state that is half updated: `ready` holds the open runs with needs that may
    start (a run that needs nothing may start whenever it is open), `blocked` those that will not.
    """

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.progress: dict[RunKey, Progress] = {}  # absent: OPEN
        self.blocked: set[RunKey] = set()  # STOPPED because of what they need, not by themselves
        self.ready: set[RunKey] = set()  # open runs with needs that may start
        self._open: dict[RunKey, int] = {}
        self._bad: dict[RunKey, int] = {}

    # ------------------------------------------------------------------ loading
    def load(self, progress: Mapping[RunKey, Progress]) -> Changes:
        """Start from the runs' own outcomes (PASSED / STOPPED for failed and cancelled runs; blocked is
        derived here). Returns every open run that may start, and every blocked one."""
        self.progress = {k: p for k, p in progress.items() if p is not Progress.OPEN}
        self.blocked = set()
        self.ready = set()
        self._open = {}
        self._bad = {}
        changes = Changes()
        for stage in self.graph.order:  # needs first: a run's blocked needs are known when it is counted
            needs = bool(self.graph.nodes[stage].needs)
            for run in self.graph.runs(stage):
                key = (stage, run)
                if needs:
                    self._count(key)
                if self.progress.get(key, Progress.OPEN) is not Progress.OPEN:
                    continue
                verdict = self._verdict(key) if needs else "ready"
                if verdict == "blocked":
                    self.progress[key] = Progress.STOPPED
                    self.blocked.add(key)
                    changes.add("blocked", key)
                elif verdict == "ready":
                    if needs:
                        self.ready.add(key)
                    changes.add("ready", key)
        return changes

    def _count(self, key: RunKey) -> None:
        if self.graph.is_group(key[0]):
            self._set_counts(key, *self._counted(key))

    def _counted(self, key: RunKey) -> tuple[int, int]:
        """(open, stopped) among the runs `key` needs, read from their progress."""
        open_ = bad = 0
        progress = self.progress
        graph = self.graph
        stage, run = key
        needed = (  # a configuration's run needs one run of each stage it needs (no list made: a million)
            graph.needed(key) if graph.is_group(stage) else (graph.run_of(n, run) for n in graph.nodes[stage].needs)
        )
        for need in needed:
            p = progress.get(need, Progress.OPEN)
            if p is Progress.OPEN:
                open_ += 1
            elif p is Progress.STOPPED:
                bad += 1
        return open_, bad

    def _counts(self, key: RunKey) -> tuple[int, int]:
        if self.graph.is_group(key[0]):
            return self._open.get(key, 0), self._bad.get(key, 0)
        return self._counted(key)

    def _set_counts(self, key: RunKey, open_: int, bad: int) -> None:
        if open_:
            self._open[key] = open_
        else:
            self._open.pop(key, None)
        if bad:
            self._bad[key] = bad
        else:
            self._bad.pop(key, None)

    # ------------------------------------------------------------------ queries
    def get(self, key: RunKey) -> Progress:
        return self.progress.get(key, Progress.OPEN)

    def is_ready(self, key: RunKey) -> bool:
        if self.get(key) is not Progress.OPEN:
            return False
        return key in self.ready or not self.graph.nodes[key[0]].needs

    def waiting_on(self, key: RunKey) -> int:
        """Needed runs that have not passed (open or stopped)."""
        return sum(self._counts(key))

    def usable_members(self, key: RunKey) -> list[str]:
        """Members whose needed runs all passed (every member when the stage needs nothing)."""
        members = self.graph.members(key)
        if not self.graph.nodes[key[0]].needs:
            return members
        passed = Progress.PASSED
        return [m for m in members if all(self.get(n) is passed for n in self.graph.member_needs(key, m))]

    def blocker(self, key: RunKey) -> RunKey | None:
        """The first needed run that stopped, followed down to the run that failed or was cancelled."""
        seen: set[RunKey] = set()
        current = key
        found: RunKey | None = None
        while current not in seen:
            seen.add(current)
            nxt = next((n for n in self.graph.needed(current) if self.get(n) is Progress.STOPPED), None)
            if nxt is None:
                break
            found = nxt
            if nxt not in self.blocked:
                break
            current = nxt
        return found

    def _verdict(self, key: RunKey) -> str:
        """What the counts (and, for allow_failed, the members) say now."""
        open_, bad = self._counts(key)
        if not bad:
            return "waiting" if open_ else "ready"
        if not self.graph.nodes[key[0]].allow_failed:
            return "blocked"
        if open_:
            return "waiting"
        return "ready" if self.usable_members(key) else "blocked"

    def _said(self, key: RunKey) -> str:
        """The verdict last given for an open (or blocked) run."""
        if key in self.blocked:
            return "blocked"
        if key in self.ready or not self.graph.nodes[key[0]].needs:
            return "ready"
        return "waiting"

    # ------------------------------------------------------------------ transitions
    def set(self, key: RunKey, progress: Progress) -> Changes:
        """A run passed, stopped for good, or opened again (retried, re-run); returns what followed,
        for a run opened again its own verdict first (ready, or blocked by what it needs)."""
        changes = Changes()
        if progress is Progress.OPEN and self.get(key) is not Progress.OPEN:
            was_blocked = key in self.blocked
            self._change(key, progress, changes)
            if self.graph.nodes[key[0]].needs:
                self._count(key)
            if not was_blocked:
                self._judge(key, changes, said="waiting")
        else:
            self._change(key, progress, changes)
        return changes

    def _change(self, key: RunKey, progress: Progress, changes: Changes) -> None:
        """A run's own progress changed: record it, then tell every run that needs it."""
        old = self.get(key)
        if progress is Progress.OPEN:
            self.progress.pop(key, None)
        else:
            self.progress[key] = progress
            self.ready.discard(key)
        self.blocked.discard(key)
        if old is progress:
            return
        for consumer in self.graph.consumers(key):
            self._need_changed(consumer, old, progress, changes)

    def _need_changed(self, key: RunKey, old: Progress, new: Progress, changes: Changes) -> None:
        if self.graph.is_group(key[0]):  # a configuration's run reads its counts when asked
            open_ = self._open.get(key, 0) - (old is Progress.OPEN) + (new is Progress.OPEN)
            bad = self._bad.get(key, 0) - (old is Progress.STOPPED) + (new is Progress.STOPPED)
            self._set_counts(key, open_, bad)
        state = self.get(key)
        if state is Progress.PASSED:
            if new is Progress.OPEN:  # what it was made from will be made again: so must it be
                changes.add("reset", key)
                self._change(key, Progress.OPEN, changes)
                self._judge(key, changes, said="waiting")
            return
        if state is Progress.STOPPED and key not in self.blocked:
            return  # failed or cancelled by itself: stays so until it is retried
        self._judge(key, changes)

    def _judge(self, key: RunKey, changes: Changes, said: str | None = None) -> None:
        """Compare what the counts say now with the verdict given last; report and record a change."""
        was = said if said is not None else self._said(key)
        now = self._verdict(key) if self.graph.nodes[key[0]].needs else "ready"
        if now == was:
            if now == "ready" and self.graph.nodes[key[0]].needs:
                self.ready.add(key)
            return
        if was == "blocked":
            changes.add("unblocked", key)
            self._change(key, Progress.OPEN, changes)
        elif was == "ready":
            changes.add("unready", key)
            self.ready.discard(key)
        if now == "blocked":
            changes.add("blocked", key)
            self.ready.discard(key)
            self._change(key, Progress.STOPPED, changes)
            self.blocked.add(key)
        elif now == "ready":
            if self.graph.nodes[key[0]].needs:
                self.ready.add(key)
            changes.add("ready", key)

    def add_task(self, task: Task) -> tuple[list[RunKey], Changes]:
        """Add a configuration: returns the runs it is a member of (one per stage) and what followed.

        A run it creates waits, or is ready, like any other. An existing run it joins must run again
        only if its result depends on members: its needed runs grew, or it reads each member's inputs
        (`per_member`). Such a run that had passed is reset; one that is open and was ready waits again
        (`unready`); one that is open either way is listed in `joined` (a running one must run again
        once it ends). The rest is left alone (a setup stage over fewer params does not re-run). A group
        with `allow_failed` that was blocked for want of a usable member may start now.
        """
        graph = self.graph
        before: dict[RunKey, set[RunKey]] = {}
        for stage in graph.stage_names:
            key = graph.existing_group(stage, task)
            if key is not None:
                before[key] = set(graph.needed(key))
        joined = graph.add_task(task)
        changes = Changes()
        affected: list[RunKey] = []
        for key in joined:  # counted first, all of them: what follows propagates into these counts
            if key in before:
                grew = set(graph.needed(key)) != before[key]
                blocked_group = graph.nodes[key[0]].allow_failed and key in self.blocked
                if not grew and not graph.nodes[key[0]].per_member and not blocked_group:
                    continue
            affected.append(key)
            if graph.nodes[key[0]].needs:
                self._count(key)
        for key in affected:
            touched = any(k == key for _change, k in changes.items)
            if key not in before:
                self._judge(key, changes, said=None if touched else "waiting")
                continue
            state = self.get(key)
            if state is Progress.PASSED:
                changes.add("reset", key)
                self._change(key, Progress.OPEN, changes)
                self._judge(key, changes, said="waiting")
                continue
            if state is Progress.STOPPED and key not in self.blocked:
                continue  # failed or cancelled by itself: a retry runs it with every member
            self._judge(key, changes)
            if key not in self.blocked:
                changes.add("joined", key)
        return joined, changes
