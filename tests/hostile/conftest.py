"""Real registries for the hostile-input tests (distribution: no referrers API; ggcr: with it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import need
from tests.oci import registries as regs


@pytest.fixture(scope="module")
def distribution(tmp_path_factory: pytest.TempPathFactory) -> Iterator[regs.Registry]:
    need(regs.DOCKER_REGISTRY is not None, "docker-registry not installed (scripts/apt.d/oci.txt)")
    yield from regs.running(regs.start_distribution(tmp_path_factory.mktemp("dist")))


@pytest.fixture(scope="module")
def ggcr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[regs.Registry]:
    need(regs.GGCR is not None, "ggcr-registry not built (scripts/setup.d/20-oci.sh)")
    yield from regs.running(regs.start_ggcr(tmp_path_factory.mktemp("ggcr")))
