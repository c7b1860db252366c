"""Scripters and Detectors per stage: named in the config as `module:Class`, or given in Python as a
class or an object (`Stage(..., scripter=MyScripter)`); made once when the engine starts, so a broken
plug-in is found before anything is written."""

from __future__ import annotations

from coopy_core.config import Config, ConfigError, import_ref
from coopy_core.detector import Detector, ExitStatusDetector
from coopy_core.scripter import Scripter

PLUGIN_BASES: dict[str, type] = {"scripter": Scripter, "detector": Detector}


def check_plugin(attr: str, value: object) -> str:
    """What is wrong with a Python value given as a stage's `scripter` or `detector` ("" if nothing)."""
    base = PLUGIN_BASES[attr]
    if isinstance(value, type):
        if issubclass(value, base):
            return ""
        return f"should be a subclass of {base.__name__}, got the class {value.__qualname__}"
    if isinstance(value, base):
        return ""
    return (
        f"should be a {base.__name__} subclass, an instance of one, or 'module:Class', "
        f"got {type(value).__name__}"
    )


def make_plugins(config: Config) -> tuple[dict[str, Scripter], dict[str, Detector]]:
    """One Scripter and one Detector per stage. A class is made with (stage, config); an object given
    in Python is bound to its stage (`bind`) and used as it is."""
    scripters: dict[str, Scripter] = {}
    detectors: dict[str, Detector] = {}
    for i, stage in enumerate(config.stages):
        given = config.plugins.get(stage.name, {})
        for attr, default, into in (
            ("scripter", Scripter, scripters),
            ("detector", ExitStatusDetector, detectors),
        ):
            ref = getattr(stage, attr)
            obj = given.get(attr)
            try:
                if obj is not None and not isinstance(obj, type):
                    obj.bind(stage, config)  # type: ignore[attr-defined]
                    made = obj
                else:
                    cls = obj if obj is not None else import_ref(ref, config.base_dir) if ref else default
                    made = cls(stage, config)
                into[stage.name] = made  # type: ignore[assignment]
            except Exception as exc:  # noqa: BLE001 - a plug-in's failure is the user's to fix
                what = f"{ref}: " if ref else ""
                problem = f"{what}cannot be made ({type(exc).__name__}: {exc})"
                raise ConfigError(config.source or str(config.path), f"stages[{i}].{attr}", problem) from None
    return scripters, detectors
