"""Writing a config out: the normalized TOML of a Config (`coopy validate --dump`) and the starter file
of `coopy init`."""

from __future__ import annotations

from typing import Any

import tomli_w

from coopy_core.config.validated import Config


def dump_config(config: Config) -> str:
    """The normalized config as TOML: every key with its value or default (unset optional keys left
    out), the same for a coopy.toml and the Pipeline built in Python that says the same thing. A
    Scripter or Detector given as a Python object is written as the `module:Class` of its class."""
    if config.model is None:
        raise ValueError("this Config was not made by load_config or Pipeline: nothing to dump")
    data = config.model.model_dump(mode="json", exclude_none=True)
    for stage in data["stages"]:
        for attr, obj in config.plugins.get(stage["name"], {}).items():
            cls = obj if isinstance(obj, type) else type(obj)
            stage[attr] = f"{cls.__module__}:{cls.__qualname__}"
    return tomli_w.dumps(data)


STARTER_CONFIG: dict[str, Any] = {
    "pipeline": {"name": "my-pipeline", "poll_interval": 2},
    "tasks": {
        "matrix": {"model": ["small", "large"], "seed": [1, 2, 3]},
    },
    "stages": [
        {
            "name": "prepare",
            "command": ["sh", "-c", "mkdir -p out/$0 && echo prepared > out/$0/data.txt", "{task}"],
            "workers": 2,
        },
        {
            "name": "train",
            "command": ["sh", "-c", "sleep 1 && echo trained $1 > out/$0/model.txt", "{task}", "{seed}"],
            "workers": 2,
            "retries": 1,
            "backoff": 2,
            "done_when": ["out/{task}/model.txt"],
            "skip_if_done": True,
        },
        {
            "name": "evaluate",
            "command": "sh -c 'cat out/$0/model.txt > out/$0/score.txt' {task}",
            "workers": 3,
        },
    ],
}


def starter_toml() -> str:
    header = (
        "# CooPy pipeline: every stage has its own queue and worker cap.\n"
        "# Placeholders: {task}, {stage}, {attempt} and every parameter name.\n"
        "# Check it with `coopy validate coopy.toml`, run it with `coopy run coopy.toml`.\n\n"
    )
    return header + tomli_w.dumps(STARTER_CONFIG)
