"""The fake NVML, built once per session with gcc (tests/helpers/fake_nvml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.fake_nvml import FakeNvml, build


@pytest.fixture(scope="session")
def fake_nvml_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("fake_nvml"))


@pytest.fixture
def fake_nvml(fake_nvml_lib: Path, tmp_path: Path) -> FakeNvml:
    return FakeNvml(fake_nvml_lib, tmp_path / "nvml-state.txt")
