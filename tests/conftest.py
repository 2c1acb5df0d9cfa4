"""Shared test fixtures: data paths, a fixed clock, golden files, services that must not skip."""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
GOLDEN = DATA / "golden"
SHARED = ROOT.parent / "shared"
FIXED_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

settings.register_profile(
    "ci", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

REQUIRE_SERVICES = os.environ.get("NAMEPLATE_REQUIRE_SERVICES") == "1"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files")


def need(condition: bool, why: str) -> None:
    """Skip when a service or tool is missing, but fail in CI (NAMEPLATE_REQUIRE_SERVICES=1)."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service or tool missing in CI: {why}")
    pytest.skip(why)


@pytest.fixture
def data() -> Path:
    return DATA


CheckGolden = Callable[[str, str], None]


@pytest.fixture
def check_golden(request: pytest.FixtureRequest) -> CheckGolden:
    update = bool(request.config.getoption("--update-golden"))

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if update or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            if not update:
                pytest.fail(f"golden file {name} was missing and has been written; rerun")
        assert text == path.read_text(), f"{name} differs (rerun with --update-golden)"

    return check


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse connections to anything but loopback: no test reaches the internet."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else None
        if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"test tried to reach {host}: only loopback is allowed")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


# real gpg keys in a throw-away $GNUPGHOME, for the signing tests of tests/sign and tests/oci
from tests.sign.keys import gpg_home  # noqa: E402, F401
