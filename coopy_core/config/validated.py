"""Config: what every front end gets, a checked file (or Python pipeline) with its paths resolved, its
configurations expanded and each stage's `needs` filled in."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from coopy_core.config.models import ConfigFile, PipelineConfig, StageConfig, TuiConfig
from coopy_core.graph import Graph, StageNode, resolve_needs
from coopy_core.tasks import Task


@dataclass(frozen=True)
class Config:
    """A validated config with paths resolved against the config file's folder."""

    path: Path
    base_dir: Path
    pipeline: PipelineConfig
    stages: tuple[StageConfig, ...]
    tasks: tuple[Task, ...]
    state_dir: Path
    log_dir: Path
    pools: dict[str, list[str] | float] = field(default_factory=dict)  # [resources], GPUs detected if asked
    gpu_others: str | None = None  # GPUs read from NVML ("avoid" | "share" | "ignore"); None: static ids, as before
    gpu_note: str = ""  # said once when the pipeline starts (gpus = "auto" without NVML)
    needs: tuple[tuple[str, ...], ...] = ()  # per stage, the default filled in (`needs` in the file or the one before)
    source: str = ""  # how to load it again (the background engine does): a TOML path, `file.py:attribute`,
    # `module:attribute`; "" for a pipeline built in Python and not loaded by one of those names
    model: ConfigFile | None = None  # the validated file, for `coopy validate --dump`
    plugins: dict[str, dict[str, object]] = field(default_factory=dict)  # Python objects: stage -> {attr: obj}
    tui: TuiConfig = field(default_factory=TuiConfig)  # [tui]: for coopy-tui only
    # the graph the checks built: handed to the first `graph()` (the engine's), then each call builds its own
    # (not an init field: a `dataclasses.replace` copy starts without it, never sharing one)
    spare_graph: Graph | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.needs:
            resolved = resolve_needs([s.name for s in self.stages], [s.needs for s in self.stages])
            object.__setattr__(self, "needs", tuple(resolved))
        object.__setattr__(self, "_by_name", {s.name: s for s in self.stages})

    def stage(self, name: str) -> StageConfig:
        try:
            return self._by_name[name]  # type: ignore[attr-defined]
        except KeyError:
            raise KeyError(name) from None

    def stage_nodes(self) -> list[StageNode]:
        """The stages as the graph sees them."""
        return [
            StageNode(
                name=s.name,
                needs=needs,
                over=tuple(s.over) if s.over is not None else None,
                allow_failed=s.allow_failed,
                per_member=bool(s.inputs),
            )
            for s, needs in zip(self.stages, self.needs, strict=True)
        ]

    def graph(self) -> Graph:
        """A graph of its own for the caller (the engine adds tasks to it at run time)."""
        spare = self.__dict__.pop("spare_graph", None)  # one step: two threads never get the same one
        if spare is not None:
            return spare
        return Graph(self.stage_nodes(), self.tasks)

    @property
    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages]

    def stage_cwd(self, stage: StageConfig) -> Path:
        return self.base_dir / stage.cwd if stage.cwd else self.base_dir
