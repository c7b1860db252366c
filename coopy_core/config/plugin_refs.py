"""Plug-in references: a stage's `scripter` / `detector` written as `module:Class`."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def import_ref(ref: str, base_dir: Path | None = None) -> type:
    """Import `module:Class`; the config's folder is importable so local plug-ins just work."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{ref!r} should look like 'module:Class'")
    if base_dir is not None and str(base_dir) not in sys.path:
        sys.path.insert(0, str(base_dir))
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is the user's to fix
        raise ValueError(f"cannot import {module_name!r}: {exc}") from None
    obj = getattr(module, attr, None)
    if not isinstance(obj, type):
        raise ValueError(f"{module_name!r} has no class {attr!r}")
    return obj
