"""`[resources]` and each stage's `resources = { ... }`: pools that exist, amounts that fit them."""

from __future__ import annotations

from coopy_core.config.gpus import GpuKeys, check_gpus
from coopy_core.config.messages import show
from coopy_core.config.models import ConfigFile
from coopy_core.errors import ConfigError


def check_pools(parsed: ConfigFile, shown: str) -> tuple[dict[str, list[str] | float], GpuKeys]:
    """The pools as the engine holds them (ids, or an amount); `gpus` is detected when a stage asks for it
    and `[resources]` does not say, so a GPU machine needs no table. The GPU keys: config/gpus.py."""
    from coopy_core.resources import GPU_MEM, detect_gpus

    gpus = check_gpus(parsed, shown)
    pools: dict[str, list[str] | float] = {}
    for name, spec in parsed.resources.items():
        key = f"resources.{name}"
        if not name.isidentifier():
            raise ConfigError(shown, key, "a pool name must be a plain name (letters, digits, _)")
        if name == "gpu_others":
            continue
        if name == "gpus" and gpus.ids is not None:
            pools[name] = gpus.ids
        elif isinstance(spec, str):
            raise ConfigError(shown, key, f"should be a number or a list of ids, got {spec!r}")
        elif isinstance(spec, list):
            ids = [str(i) for i in spec]
            if len(set(ids)) != len(ids):
                raise ConfigError(shown, key, "ids must be distinct")
            pools[name] = ids
        elif not _sane_amount(spec):
            raise ConfigError(shown, key, f"should be a finite number up to {MAX_AMOUNT:g}, got {show(spec)}")
        elif spec < 0:
            raise ConfigError(shown, key, f"should be >= 0, got {spec!r}")
        else:
            pools[name] = float(spec)
    for i, stage in enumerate(parsed.stages):
        for name, amount in stage.resources.items():
            key = f"stages[{i}].resources.{name}"
            if name == GPU_MEM:
                if not _sane_amount(amount) or amount <= 0:
                    raise ConfigError(shown, key, f"should be a number of GB > 0, got {show(amount)}")
                continue
            if name not in pools and name == "gpus":
                found = gpus.ids if gpus.ids is not None else detect_gpus()
                if found:
                    pools["gpus"] = found
            if name not in pools:
                hint = " (no GPU found: set [resources] gpus = [0, 1, ...])" if name == "gpus" else ""
                raise ConfigError(shown, key, f"no pool {name!r} in [resources]{hint}")
            pool = pools[name]
            if not _sane_amount(amount):
                raise ConfigError(shown, key, f"should be a finite number up to {MAX_AMOUNT:g}, got {show(amount)}")
            if amount <= 0:
                raise ConfigError(shown, key, f"should be > 0, got {amount!r}")
            if isinstance(pool, list) and not isinstance(amount, int):
                raise ConfigError(shown, key, f"pool {name!r} holds ids: ask for a whole number, got {amount!r}")
            capacity = len(pool) if isinstance(pool, list) else pool
            if amount > capacity:
                raise ConfigError(shown, key, f"asks for {amount:g} but the pool {name!r} has only {capacity:g}")
    return pools, gpus


MAX_AMOUNT = 1e15


def _sane_amount(value: float) -> bool:
    """Not NaN or infinite, and small enough to count with floats (10**400 is not)."""
    return isinstance(value, int | float) and -MAX_AMOUNT <= value <= MAX_AMOUNT
