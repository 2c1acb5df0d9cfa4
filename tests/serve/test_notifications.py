"""Indexing on push, end to end: the real distribution registry, configured to notify a real
``nameplate serve``, gets an image and an attached record; the record is in ``/v1/records``
within 5 seconds."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nameplate import oci
from nameplate.record import Record
from tests.conftest import need
from tests.oci import registries as regs
from tests.oci.conftest import push_image

from . import server
from .conftest import TOKEN
from .registry import start_notifying

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, token_file: Path, hosts_dir: Path
) -> Iterator[tuple[server.Served, regs.Registry]]:
    need(regs.DOCKER_REGISTRY is not None, "docker-registry not installed (scripts/apt.d/oci.txt)")
    folder = tmp_path_factory.mktemp("notify")
    port = server.free_port()
    host = f"127.0.0.1:{port}"
    served = server.start(
        folder,
        "--catalog", str(folder / "catalog.db"),
        "--token-file", str(token_file),
        "--hosts", str(hosts_dir),
        "--registry", host,
        "--plain-http",
    )  # fmt: skip
    reg = None
    try:
        reg = start_notifying(
            folder / "registry", port=port, url=served.base + "/v1/notifications", token=TOKEN
        )
        yield served, reg
    finally:
        if reg is not None:
            reg.stop()
        served.stop()


def wait_for(
    served: server.Served,
    query: str,
    want: Any,
    timeout: float,
    registry: regs.Registry | None = None,
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        found = served.json("/v1/records?" + urllib.parse.urlencode({"q": query}))["records"]
        if want(found):
            return found
        time.sleep(0.05)
    raise AssertionError(f"not indexed within {timeout} s: {found}\n{diagnose(served, registry)}")


def diagnose(served: server.Served, registry: regs.Registry | None = None) -> str:
    """The queue, the service's log (but its access lines), the registry's notification lines."""
    events = served.json("/v1/notifications")["events"]
    logged = [line for line in served.logs().splitlines() if " access: " not in line]
    lines = [json.dumps(events, indent=1), *logged[-40:]]
    if registry is not None:
        kept = [
            line
            for line in registry.log.read_text().splitlines()
            if "notif" in line.lower() or "endpoint" in line.lower()
        ]
        lines += kept[-30:]
    return "\n".join(lines)


def test_a_pushed_image_with_a_record_appears_within_5_seconds(
    stack: tuple[server.Served, regs.Registry], site_records: list[Record]
) -> None:
    served, reg = stack
    record = next(
        r for r in site_records if r.subject.name == "hdf5" and r.subject.version == "1.14.6"
    )
    ref = reg.ref("hpc/hdf5:1.14.6")
    digest = push_image(ref, transport=reg.transport, seed="hdf5")
    oci.attach(record, ref, transport=reg.transport)
    attached = time.monotonic()
    key = f"{reg.host}/hpc/hdf5@{digest}"
    found = wait_for(served, "hdf5@1.14.6", lambda rs: any(r["id"] == key for r in rs), 5.0, reg)
    took = time.monotonic() - attached
    print(f"image indexed in {took:.2f} s")
    hit = next(r for r in found if r["id"] == key)
    assert hit["repository"] == f"{reg.host}/hpc/hdf5"
    assert hit["tag"] == "1.14.6"
    assert took < 5.0
    # the record is served as pulled, and checked against the site's hosts
    rec = served.json(f"/v1/records/{key}")
    assert rec["serial"] == record.serial
    check = served.json(
        "/v1/check?"
        + urllib.parse.urlencode({"host": "cpu-icelake", "ref": f"{reg.host}/hpc/hdf5:1.14.6"})
    )
    assert check["verdict"] == "pass"
    events = served.json("/v1/notifications")["events"]
    assert any(e["state"] == "done" and e["detail"].startswith("indexed") for e in events)
    assert all(e["state"] != "failed" for e in events), events


def test_a_multi_platform_image(
    stack: tuple[server.Served, regs.Registry], site_records: list[Record]
) -> None:
    served, reg = stack
    record = next(r for r in site_records if r.subject.name == "kokkos")
    ref = reg.ref("hpc/kokkos:5.1.1")
    push_image(ref, transport=reg.transport, arches=("amd64", "arm64"), seed="kokkos")
    oci.attach(record, ref, transport=reg.transport, platform="linux/amd64")
    attached = time.monotonic()
    found = wait_for(served, "kokkos", lambda rs: any(r["repository"] for r in rs), 5.0, reg)
    print(f"multi-platform image indexed in {time.monotonic() - attached:.2f} s")
    hit = next(r for r in found if r["repository"])
    assert hit["tag"] == "5.1.1"
    assert hit["platform"] == "linux/amd64"


def test_an_image_pushed_before_the_service_listened(
    stack: tuple[server.Served, regs.Registry],
    site_records: list[Record],
    token_file: Path,
    tmp_path: Path,
) -> None:
    """The tag is learnt from the registry's tag list when no notification named it; a
    service that was not configured for the registry contacts nothing."""
    served, _ = stack
    quiet = regs.start_distribution(tmp_path / "quiet")  # no notifications configured
    late = None
    try:
        record = next(r for r in site_records if r.subject.name == "py-numpy")
        ref = quiet.ref("hpc/numpy:2.5.0")
        digest = push_image(ref, transport=quiet.transport, seed="numpy")
        desc = oci.attach(record, ref, transport=quiet.transport)
        event = {
            "id": "late-" + desc.digest[7:23],
            "action": "push",
            "target": {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": desc.digest,
                "repository": "hpc/numpy",
            },
            "request": {"host": quiet.host},
        }
        body = json.dumps({"events": [event]}).encode()
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        status, _, answer = served.request("POST", "/v1/notifications", body, headers)
        assert status == 202
        assert "is not configured" in json.loads(answer)["ignored"][0]
        late = server.start(
            tmp_path / "late",
            "--catalog", str(tmp_path / "late.db"),
            "--token-file", str(token_file),
            "--registry", quiet.host,
            "--plain-http",
            name="late",
        )  # fmt: skip
        status, _, answer = late.request("POST", "/v1/notifications", body, headers)
        assert status == 202, answer
        assert json.loads(answer)["queued"] == 1
        key = f"{quiet.host}/hpc/numpy@{digest}"
        found = wait_for(late, "py-numpy", lambda rs: any(r["id"] == key for r in rs), 5.0)
        assert next(r for r in found if r["id"] == key)["tag"] == "2.5.0"
    finally:
        if late is not None:
            late.stop()
        quiet.stop()
