"""The base of CooPy's plug-ins (Scripter, Detector): one object serves one stage, and knows it.

A plug-in class is made with `(stage, config)`; an object given in Python is bound to its stage with
`bind(stage, config)` when the engine starts. Either way it has `self.stage` (the StageConfig) and
`self.config` (the Config) before its first call.
"""

from __future__ import annotations

from coopy_core.config import Config, StageConfig


class Plugin:
    """What Scripter and Detector share: being made for, or bound to, the stage they serve."""

    stage: StageConfig
    config: Config

    def __init__(self, stage: StageConfig | None = None, config: Config | None = None) -> None:
        if stage is not None and config is not None:
            self.bind(stage, config)

    def bind(self, stage: StageConfig, config: Config) -> None:
        """Attach to the stage it serves (the engine calls it for an object given in Python)."""
        self.stage = stage
        self.config = config
