"""Making a config's Scripters and Detectors: before anything is written, with one-line errors."""

from __future__ import annotations

from coopy_core.config import Config, ConfigError, import_ref
from coopy_core.detector import Detector, ExitStatusDetector
from coopy_core.scripter import Scripter


def make_plugins(config: Config) -> tuple[dict[str, Scripter], dict[str, Detector]]:
    """Per stage, its Scripter and Detector (the defaults unless `scripter` / `detector` name a class);
    a class that cannot be imported or made is a ConfigError naming the stage's key."""
    scripters: dict[str, Scripter] = {}
    detectors: dict[str, Detector] = {}
    for i, stage in enumerate(config.stages):
        for attr, default, into in (
            ("scripter", Scripter, scripters),
            ("detector", ExitStatusDetector, detectors),
        ):
            ref = getattr(stage, attr)
            try:
                cls = import_ref(ref, config.base_dir) if ref else default
                into[stage.name] = cls(stage, config)
            except Exception as exc:  # noqa: BLE001 - a plug-in's failure is the user's to fix
                what = f"{ref}: " if ref else ""
                problem = f"{what}cannot be made ({type(exc).__name__}: {exc})"
                raise ConfigError(str(config.path), f"stages[{i}].{attr}", problem) from None
    return scripters, detectors
