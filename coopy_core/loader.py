"""A config by the name a person types: `coopy.toml`, or a pipeline defined in Python:
`path/to/file.py` (its `pipeline`), `path/to/file.py:attribute`, or `package.module:attribute`.

The Config it gives records that name (absolute), so the background engine, a new process, loads the
same pipeline again after a crash. A Python file is imported as a module named after it (not as
`__main__`: its `if __name__ == "__main__":` block does not run), with its folder first on sys.path,
as `python file.py` would have it. Whatever goes wrong while importing it is one ConfigError line.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType

from coopy_core.config import Config, load_config
from coopy_core.errors import ConfigError

DEFAULT_ATTRIBUTE = "pipeline"


def load_target(spec: str) -> Config:
    """The Config `spec` names (see the module docstring); ConfigError naming it on any problem."""
    path = Path(spec)
    if path.is_file():
        return _from_file(path, DEFAULT_ATTRIBUTE, spec) if path.suffix == ".py" else load_config(path)
    left, sep, attr = spec.rpartition(":")
    if sep and left and attr.isidentifier():
        if left.endswith(".py") or os.sep in left:
            return _from_file(Path(left), attr, spec)
        if all(part.isidentifier() for part in left.split(".")):
            return _from_module(left, attr, spec)
    if path.suffix == ".py":
        raise ConfigError(spec, "", "file not found")
    return load_config(path)


def is_module_source(source: str) -> bool:
    """`package.module:attribute`: the background engine imports it from the folder it was named in."""
    left, sep, attr = source.rpartition(":")
    return bool(sep and left and attr.isidentifier()) and all(p.isidentifier() for p in left.split("."))


def _from_file(path: Path, attr: str, shown: str) -> Config:
    if not path.is_file():
        raise ConfigError(str(path), "", "is a directory, not a Python file" if path.is_dir() else "file not found")
    path = path.resolve()
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = _module_name(path)
    module = sys.modules.get(name)
    if module is None or getattr(module, "__file__", None) != str(path):
        module = _import_file(path, name, shown)
    return _pick(module, attr, shown, f"{path}:{attr}")


def _from_module(module_name: str, attr: str, shown: str) -> Config:
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does
    from coopy_core.import_guard import loading

    try:
        with loading():
            module = importlib.import_module(module_name)
    except ConfigError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ConfigError(shown, "", f"no module named {exc.name!r} (and no file {shown!r})") from None
        raise ConfigError(shown, "", _failure(exc, None)) from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's code: one line, never a traceback
        raise ConfigError(shown, "", _failure(exc, None)) from None
    return _pick(module, attr, shown, f"{module_name}:{attr}")


def _module_name(path: Path) -> str:
    """The file's stem, as `import stem` from its folder names it (so `"stem:Class"` refs in it find the
    same module), unless that name is taken by another module."""
    stem = path.stem
    if stem.isidentifier():
        loaded = sys.modules.get(stem)
        if loaded is None:
            found = importlib.util.find_spec(stem) if stem not in sys.builtin_module_names else None
            if found is None or found.origin == str(path):
                return stem
        elif getattr(loaded, "__file__", None) == str(path):
            return stem
    return "coopy_pipeline_" + "".join(c if c.isalnum() else "_" for c in stem)


def _import_file(path: Path, name: str, shown: str) -> ModuleType:
    from coopy_core.import_guard import loading

    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(shown, "", "cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with loading():
            spec.loader.exec_module(module)
    except ConfigError:
        sys.modules.pop(name, None)
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's code: one line, never a traceback
        sys.modules.pop(name, None)
        raise ConfigError(shown, "", _failure(exc, path)) from None
    return module


def _failure(exc: BaseException, path: Path | None) -> str:
    if isinstance(exc, SystemExit):
        return (
            f"the file exited while being loaded (exit {exc.code}): "
            'put the code that runs it under `if __name__ == "__main__":`'
        )
    line = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if path is None or frame.filename == str(path):
            line = f" (line {frame.lineno}{'' if path else ' of ' + frame.filename})"
            break
    return f"cannot load the pipeline: {type(exc).__name__}: {exc}{line}"


def _pick(module: ModuleType, attr: str, shown: str, source: str) -> Config:
    from coopy_core.pipeline import Pipeline, set_source

    if not hasattr(module, attr):
        found = [k for k, v in vars(module).items() if isinstance(v, Pipeline)]
        hint = f" (it has: {', '.join(found)})" if found else ""
        raise ConfigError(shown, "", f"has no {attr!r}{hint}")
    obj = getattr(module, attr)
    if isinstance(obj, Pipeline):
        return set_source(obj, source)
    if isinstance(obj, Config):
        from dataclasses import replace

        return replace(obj, source=obj.source or source)
    raise ConfigError(shown, "", f"{attr!r} should be a coopy Pipeline, got {type(obj).__name__}")
