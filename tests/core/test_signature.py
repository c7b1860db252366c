"""Recipes and file hashes as units: what makes a signature, what explains a difference, what is read."""

from __future__ import annotations

import os
from pathlib import Path

from coopy_core.plan.signature import MISSING, FileHashes, Recipe, explain, result_id


def recipe(**changes: object) -> Recipe:
    base: dict[str, object] = {
        "command": {"argv": ["python3", "train.py", "0.1"], "env": {}, "cwd": "."},
        "params": {"lr": 0.1, "model": "cnn"},
        "upstream": {"prepare/model=cnn": "abc/1"},
        "inputs": {"data/x.csv": "h1"},
        "code": {"train.py": "c1"},
    }
    base.update(changes)
    return Recipe(**base)  # type: ignore[arg-type]


def test_equal_recipes_have_equal_signatures_and_nothing_to_explain() -> None:
    assert recipe().signature == recipe().signature
    assert explain(recipe(), recipe()) is None
    assert Recipe.from_json(recipe().to_json()) == recipe()


def test_explain_names_the_first_difference_a_person_would_look_for() -> None:
    assert explain(recipe(), recipe(params={"lr": 0.01, "model": "cnn"})) == ("params changed", "param lr: 0.1 → 0.01")
    assert explain(recipe(), recipe(code={"train.py": "c2"})) == ("code changed", "train.py changed")
    assert explain(recipe(), recipe(inputs={"data/x.csv": MISSING})) == ("input changed", "data/x.csv missing")
    assert explain(recipe(), recipe(upstream={"prepare/model=cnn": "abc/2"})) == (
        "upstream re-ran",
        "upstream prepare/model=cnn re-ran",
    )
    changed = explain(recipe(), recipe(command={"argv": ["python3", "train.py", "0.2"], "env": {}, "cwd": "."}))
    assert changed is not None and changed[0] == "command changed" and changed[1].startswith("the command changed")


def test_a_result_is_its_signature_and_the_attempt_that_made_it() -> None:
    assert result_id("0123456789abcdef0123", 2) == "0123456789abcdef/2"
    assert result_id("0123456789abcdef0123", 2) != result_id("0123456789abcdef0123", 3)


def test_file_contents_are_read_once_per_size_and_mtime(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1 << 20))
    hashes = FileHashes()
    first = hashes.of(big)
    assert hashes.of(big) == first and hashes.reads == 1  # unchanged: not read again
    stat = big.stat()
    os.utime(big, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched
    assert hashes.of(big) == first and hashes.reads == 2  # read again, same content: same hash
    again = FileHashes(hashes.changed)  # what the store keeps for the next start
    assert again.of(big) == first and again.reads == 0
    big.write_bytes(b"other")
    assert again.of(big) != first
    assert hashes.of(tmp_path / "nope") == MISSING
