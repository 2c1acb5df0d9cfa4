"""Fixtures of the real-image tests: the images ``scripts/setup.d/40-images.sh`` builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from nameplate.record import Record
from tests.conftest import need
from tests.sources.test_sif import IMAGES, extract


@pytest.fixture(scope="session")
def images() -> Path:
    need((IMAGES / "DONE").exists(), "real images not built (scripts/setup.d/40-images.sh)")
    return IMAGES


@pytest.fixture(scope="session")
def sif_record(images: Path) -> Record:
    return extract(str(images / "app.sif"))
